import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeClip, runCli, tempDir, VIDPIPE_BIN } from '../helpers/media.js';

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI under a real pseudo-terminal (util-linux `script`), as a person at a terminal
 * would; `onOutput` may type into the terminal (what it writes goes through the pty, so
 * "\x03" is a real Ctrl-C: the line discipline sends SIGINT to the foreground processes).
 */
function runInTerminal(
  args: string[],
  env: NodeJS.ProcessEnv,
  onOutput?: (output: string, type: (keys: string) => void) => void,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // A pty starts at 0x0; give it a size, as a terminal window would.
    const command = `stty cols 120 rows 40; exec ${[process.execPath, VIDPIPE_BIN, ...args].map(quote).join(' ')}`;
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env: { ...process.env, CI: '', TERM: 'xterm-256color', COLUMNS: '120', LINES: '40', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const type = (keys: string) => child.stdin.write(keys);
    child.stdout.on('data', (d) => {
      output += d;
      onOutput?.(output, type);
    });
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('vidpipe on a terminal and on Ctrl-C', { timeout: 240_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 6 });
  });
  after(async () => cleanup());

  it('draws the live task list on a terminal and still prints the summary', async () => {
    const r = await runInTerminal(['transcode', clip, '--out', join(dir, 'tty'), '--db', join(dir, 'tty.db'), '--preset', 'superfast', '--ladder', '144p', '--segment-duration', '2'], {});
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Encode video/);
    assert.match(r.output, /Package CMAF segments/);
    assert.match(r.output, /\u001b\[/, 'ANSI drawing codes: the live renderer was used');
    assert.match(r.output, /✔ .*clip\.mp4 →/);
  });

  it('Ctrl-C under the live task list is handled by vidpipe (exit 130, job interrupted), not by listr2 (exit 127)', async () => {
    const long = await makeClip(join(dir, 'tty-long.mp4'), { durationSeconds: 30, width: 640, height: 360 });
    const db = join(dir, 'tty-int.db');
    let typed = false;
    const r = await runInTerminal(
      ['transcode', long, '--out', join(dir, 'tty-int'), '--db', db, '--work-dir', join(dir, 'tty-work'), '--preset', 'slow'],
      {},
      (output, type) => {
        if (!typed && /Encode video/.test(output)) {
          typed = true;
          setTimeout(() => type('\x03'), 1000);
        }
      },
    );
    assert.ok(typed, 'the encode started under the live renderer');
    assert.match(r.output, /\u001b\[/, 'ANSI drawing codes: the live renderer was used');
    assert.equal(r.code, 130, r.output);
    assert.match(r.output, /SIGINT received, stopping/);
    const shown = JSON.parse((await runCli(['list', '--db', db, '--json'])).stdout);
    assert.equal(shown.videos[0].latestJobStatus, 'interrupted');
  });

  it('on SIGINT kills ffmpeg, removes temporary files, marks the job interrupted and exits 130', async () => {
    const long = await makeClip(join(dir, 'long.mp4'), { durationSeconds: 30, width: 640, height: 360 });
    const work = join(dir, 'work');
    const db = join(dir, 'int.db');
    let sent = false;
    const r = await runCli(['transcode', long, '--out', join(dir, 'int'), '--db', db, '--work-dir', work, '--preset', 'slow', '--progress', 'plain'], {
      onStderr: (text, child) => {
        if (!sent && /Encode video: started/.test(text)) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), 500);
        }
      },
    });
    assert.ok(sent, 'the encode started');
    assert.equal(r.code, 130, r.stderr);
    assert.equal(existsSync(join(dir, 'int', 'long')), false, 'nothing published');
    const shown = JSON.parse((await runCli(['list', '--db', db, '--json'])).stdout);
    assert.equal(shown.videos[0].latestJobStatus, 'interrupted');
    // Finished work is kept for a resume (one folder for this job); running the same command
    // again completes the job and then removes every temporary file.
    assert.ok(readdirSync(work).length <= 1, 'at most the job\'s resume folder is kept');
    const again = await runCli(['transcode', long, '--out', join(dir, 'int'), '--db', db, '--work-dir', work, '--preset', 'slow', '--quiet', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(readdirSync(work), [], 'work files removed after the job completes');
    // No ffmpeg child outlives the CLI.
    const orphans = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(long);
      } catch {
        return false;
      }
    });
    assert.deepEqual(orphans, []);
  });
});
