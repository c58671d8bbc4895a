/**
 * File names and object keys crafted by strangers, through the real CLI: a name that looks like
 * an option is never taken for one (`--` ends the options), and the control characters of a
 * name never reach the operator's terminal raw.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3.js';
import { makeClip, runCli, tempDir, VIDPIPE_BIN, type CliRun } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { putFile, S3_ENV } from '../helpers/s3-package.js';

describe('names that look like options', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const names = ['-version.mp4', '-x.mp4', '-vfoo', '-hx', '-out.mp4'];
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-dash-names-'));
    const clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 1, width: 160, height: 90, rate: '15', audio: false });
    for (const name of names) await copyFile(clip, join(dir, name));
  });
  after(() => cleanup());

  it('are refused with exit 2 and a hint, nothing written, for transcode, validate and with no command', async () => {
    for (const name of names) {
      for (const argv of [['transcode', name, '--out', 'out', '--db', 'x.db'], ['transcode', 'clip.mp4', name, '--out', 'out', '--db', 'x.db'], ['validate', name], [name]]) {
        const run = await runCli(argv, { cwd: dir });
        assert.equal(run.code, 2, `${argv.join(' ')}: ${run.stdout}${run.stderr}`);
        assert.equal(run.stdout, '', `${argv.join(' ')} printed on stdout (the version?)`);
        assert.match(run.stderr, new RegExp(`'${name}' is not an option`), argv.join(' '));
        assert.ok(run.stderr.includes(`./${name}`) && run.stderr.includes(`-- ${name}`), run.stderr);
      }
    }
    assert.ok(!existsSync(join(dir, 'out')), 'nothing published');
    assert.ok(!existsSync(join(dir, 'x.db')), 'no database written');
  });

  it('after --, or written ./-name, are transcoded', async () => {
    const run = await runCli(['transcode', '--out', 'out', '--db', 'x.db', '--ladder', '90p', '--no-thumbnails', '--json', '--', '-version.mp4', '-vfoo'], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    const results = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { input: string; status: string });
    assert.deepEqual(results.map((r) => [r.input, r.status]), [['-version.mp4', 'succeeded'], ['-vfoo', 'succeeded']]);
    const dotted = await runCli(['transcode', './-hx', '--out', 'out', '--db', 'x.db', '--ladder', '90p', '--no-thumbnails', '--json'], { cwd: dir });
    assert.equal(dotted.code, 0, dotted.stderr);
    assert.equal((await readdir(join(dir, 'out'))).length, 3);
  });
});

/** Names whose control characters would retitle (OSC), clear (CSI), ring (BEL), overwrite (CR, BS), or forge a line (LF). */
const HOSTILE = {
  osc: 'osc\u001b]0;pwned\u0007.mp4',
  csi: 'csi\u001b[2J\u001b[H.mp4',
  c1: 'c1\u009b2J\u009d0;t\u009c.mp4',
  overwrite: 'cr\rbs\b\b\u007f.mp4',
  newline: 'nl\nvidpipe: forged line.mp4',
};
/** The escaped form vidpipe prints of each. */
const ESCAPED: Record<keyof typeof HOSTILE, string> = {
  osc: 'osc\\x1b]0;pwned\\x07.mp4',
  csi: 'csi\\x1b[2J\\x1b[H.mp4',
  c1: 'c1\\u009b2J\\u009d0;t\\u009c.mp4',
  overwrite: 'cr\\rbs\\x08\\x08\\u007f.mp4',
  newline: 'nl\\nvidpipe: forged line.mp4',
};

/** Control characters in output written without a terminal: none at all but the line breaks (no colours either). */
function assertNoControls(text: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  const found = [...text.matchAll(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g)].map((m) => JSON.stringify(m[0]));
  assert.deepEqual(found, [], `${what}: ${JSON.stringify(text.slice(0, 2000))}`);
}

function assertClean(run: CliRun, what: string): void {
  assertNoControls(run.stdout, `${what} stdout`);
  assertNoControls(run.stderr, `${what} stderr`);
  assert.ok(!/^vidpipe: forged line/m.test(run.stdout + run.stderr), `${what}: a line break in a name forged a line`);
}

describe('control characters in names', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  let s3: S3TestServer;
  let client: S3Client;
  const FAST = ['--ladder', '90p', '--preset', 'ultrafast', '--no-thumbnails'];
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-control-names-'));
    clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 1, width: 160, height: 90, rate: '15', audio: false });
    for (const name of Object.values(HOSTILE)) await copyFile(clip, join(dir, name));
    s3 = await startS3Server({ buckets: ['inbox', 'vod'] });
    client = createS3Client(s3.clientOptions());
  });
  after(async () => {
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  it('transcode: progress lines, the summary and the failure message escape them (NO_COLOR or not); --json keeps the name exact', async () => {
    const names = Object.values(HOSTILE);
    const plain = await runCli(['transcode', ...names, '--out', 'out', '--db', 'x.db', '--progress', 'plain', ...FAST], { cwd: dir, env: { NO_COLOR: '1' } });
    assert.equal(plain.code, 0, plain.stderr);
    assertClean(plain, 'transcode');
    for (const escaped of Object.values(ESCAPED)) {
      assert.ok(plain.stderr.includes(`vidpipe: ${escaped}: started`), `progress line of ${escaped}`);
      assert.ok(plain.stdout.includes(`✔ ${escaped} →`), `summary of ${escaped}`);
    }
    const json = await runCli(['transcode', ...names, '--out', 'out', '--db', 'x.db', '--json', ...FAST], { cwd: dir });
    assert.equal(json.code, 0, json.stderr);
    assertClean(json, 'transcode --json');
    assert.deepEqual(json.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { input: string }).input), names);
    const missing = await runCli(['transcode', ...names.map((name) => `gone-${name}`), '--out', 'out', '--db', 'x.db', ...FAST], { cwd: dir });
    assert.equal(missing.code, 2);
    assertClean(missing, 'transcode of missing files');
    for (const escaped of Object.values(ESCAPED)) assert.ok(missing.stderr.includes(`gone-${escaped} does not exist`), missing.stderr);
    const option = await runCli(['transcode', `-${HOSTILE.osc}`], { cwd: dir });
    assert.equal(option.code, 2);
    assertClean(option, 'a name taken for an option');
  });

  it('the live task list on a terminal shows the escaped name, and none of its sequences', async () => {
    const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;
    const command = `stty cols 120 rows 40; exec ${[process.execPath, VIDPIPE_BIN, 'transcode', HOSTILE.osc, HOSTILE.c1, '--out', 'tty', '--db', 'x.db', ...FAST].map(quote).join(' ')}`;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', ['-qefc', command, '/dev/null'], { cwd: dir, env: { ...process.env, CI: '', TERM: 'xterm-256color' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('error', reject);
      child.on('close', () => resolve(text));
    });
    assert.match(output, /\u001b\[/, 'the live renderer drew');
    assert.ok(output.includes(ESCAPED.osc) && output.includes(ESCAPED.c1), JSON.stringify(output.slice(-3000)));
    for (const raw of ['\u001b]', '\u0007', '\u009b', '\u009d', '\u009c']) assert.ok(!output.includes(raw), `raw ${JSON.stringify(raw)} on the terminal`);
  });

  it('watch: keys with control characters are escaped in its log, progress and summary lines', async () => {
    const keys = { osc: HOSTILE.osc, csi: HOSTILE.csi, c1: HOSTILE.c1, newline: HOSTILE.newline };
    for (const name of Object.values(keys)) await putFile(client, 'inbox', `names/${name}`, clip);
    const run = await runCli(['watch', 's3://inbox/names/', '--out', 's3://vod/', '--s3-endpoint', s3.endpoint, '--db', join(dir, 'watch.db'), '--progress', 'plain', '--once', '--interval', '0.5', ...FAST], {
      cwd: dir,
      env: { ...S3_ENV, NO_COLOR: '1' },
    });
    assert.equal(run.code, 0, run.stderr);
    assertClean(run, 'watch');
    for (const key of Object.keys(keys) as (keyof typeof keys)[]) {
      assert.ok(run.stderr.includes(`s3://inbox/names/${ESCAPED[key]}`), `watch log of ${ESCAPED[key]}: ${run.stderr}`);
      assert.ok(run.stdout.includes(`✔ s3://inbox/names/${ESCAPED[key]} →`), `summary of ${ESCAPED[key]}`);
    }
  });
});
