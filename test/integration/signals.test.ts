import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { processesMentioning, waitUntilNoneMention } from '../helpers/processes.js';

const SIGNALS_MODULE = new URL('../../src/cli/signals.js', import.meta.url).href;
const RUN_MODULE = new URL('../../src/ffmpeg/run.js', import.meta.url).href;

/**
 * A process whose orderly stop never finishes: its interrupt handler ignores the abort, a timer
 * keeps it alive, and a child started through the runner (`sleep <marker>`) is running.
 * `exitCode` set means the command had already returned that status.
 */
const started: ReturnType<typeof spawn>[] = [];

function stubborn(marker: string, graceMs: number, exitCode?: number) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { installInterruptHandler } from ${JSON.stringify(SIGNALS_MODULE)};
    import { runCapture } from ${JSON.stringify(RUN_MODULE)};
    installInterruptHandler(() => {}, (line) => process.stderr.write(line + '\\n'), { graceMs: ${graceMs} });
    ${exitCode === undefined ? '' : `process.exitCode = ${exitCode};`}
    void runCapture('sleep', [${JSON.stringify(marker)}], { label: 'sleep', timeoutMs: 600000 }).catch(() => {});
    setInterval(() => {}, 1000);
  `], { stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
  return { child, exited, stderr: () => stderr };
}

async function running(marker: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  // The sleep itself, not the parent whose script names the marker too.
  while (!processesMentioning(marker).some((p) => p.args.includes(marker))) {
    assert.ok(Date.now() < deadline, `sleep ${marker} started`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const markerOf = () => `${300 + Math.random()}`.slice(0, 12);

describe('signals: the stop is bounded', { timeout: 60_000 }, () => {
  // A regression must fail, not leave stubborn processes behind.
  after(() => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('a stop that does not finish is cut short after the bound: children killed, exit 130', async () => {
    const marker = markerOf();
    const p = stubborn(marker, 1500);
    await running(marker);
    const sentAt = Date.now();
    p.child.kill('SIGTERM');
    const { code, at } = await p.exited;
    assert.equal(code, 130, p.stderr());
    assert.ok(at - sentAt >= 1400 && at - sentAt < 5000, `exited ${at - sentAt} ms after the signal (bound 1.5 s)`);
    assert.match(p.stderr(), /did not stop within 1\.5 s of SIGTERM; exiting now \(killed 1 ffmpeg process\)/);
    assert.deepEqual(await waitUntilNoneMention(marker, 2000), []);
  });

  it('a second signal exits at once and kills the children', async () => {
    const marker = markerOf();
    const p = stubborn(marker, 60_000);
    await running(marker);
    p.child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sentAt = Date.now();
    p.child.kill('SIGINT');
    const { code, at } = await p.exited;
    assert.equal(code, 130, p.stderr());
    assert.ok(at - sentAt < 2000, `exited ${at - sentAt} ms after the second signal`);
    assert.deepEqual(await waitUntilNoneMention(marker, 2000), []);
  });

  it('a command that already returned its status keeps it when the bound cuts a lingering process short', async () => {
    const marker = markerOf();
    const p = stubborn(marker, 1000, 0);
    await running(marker);
    p.child.kill('SIGTERM');
    const { code } = await p.exited;
    assert.equal(code, 0, p.stderr());
  });
});
