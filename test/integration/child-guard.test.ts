import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { childGuard } from '../../src/ffmpeg/child-guard.js';

const GUARD_MODULE = new URL('../../src/ffmpeg/child-guard.js', import.meta.url).href;

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * Starts a Node process that runs `script` (an ES module body with the guard module imported as
 * `guard`) and prints the pid of the child it started; SIGKILLs it; returns how long the child
 * outlived it (or -1 if it was still running after 3 s).
 */
async function childOutlives(script: string): Promise<number> {
  const parent = spawn(process.execPath, ['--input-type=module', '-e', `import * as guard from ${JSON.stringify(GUARD_MODULE)};\n${script}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve) => createInterface({ input: parent.stdout }).once('line', (line) => resolve(Number(line))));
  assert.ok(isRunning(pid), 'the child runs');
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  parent.kill('SIGKILL');
  await exited;
  const killedAt = Date.now();
  while (isRunning(pid)) {
    if (Date.now() - killedAt > 3000) {
      process.kill(pid, 'SIGKILL');
      return -1;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - killedAt;
}

describe('child guard: children die with vidpipe', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  it('setpriv --pdeathsig: a child started through guardedCommand is killed with its SIGKILLed parent', { skip: childGuard() !== 'pdeathsig' && 'no setpriv here' }, async () => {
    const outlived = await childOutlives(`
      import { spawn } from 'node:child_process';
      const command = guard.guardedCommand('sleep', ['300']);
      const child = spawn(command.file, command.args, { stdio: 'ignore' });
      console.log(child.pid);
      setInterval(() => {}, 1000);
    `);
    assert.ok(outlived >= 0 && outlived < 1000, `child outlived its parent by ${outlived} ms`);
  });

  it('the reaper (no setpriv): kills the children it was told about when its parent dies', async () => {
    const outlived = await childOutlives(`
      import { spawn } from 'node:child_process';
      const reaper = guard.startReaper();
      const child = spawn('sleep', ['300'], { stdio: 'ignore' });
      reaper.write('+' + child.pid + '\\n');
      // Give the reaper time to start and read the line.
      setTimeout(() => console.log(child.pid), 1000);
      setInterval(() => {}, 1000);
    `);
    assert.ok(outlived >= 0 && outlived < 1500, `child outlived its parent by ${outlived} ms`);
  });

  it('the reaper does not keep its parent alive', async () => {
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const parent = spawn(process.execPath, ['--input-type=module', '-e', `
        import * as guard from ${JSON.stringify(GUARD_MODULE)};
        import { spawn } from 'node:child_process';
        const reaper = guard.startReaper();
        const child = spawn('true', { stdio: 'ignore' });
        reaper.write('+' + child.pid + '\\n');
        child.on('exit', () => reaper.write('-' + child.pid + '\\n'));
      `], { stdio: 'ignore' });
      parent.once('exit', resolve);
    });
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 5000, 'the parent ended on its own');
  });
});
