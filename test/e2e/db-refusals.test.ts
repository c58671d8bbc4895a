import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeClip, REPO_ROOT, runCli, tempDir, VIDPIPE_BIN, type CliRun } from '../helpers/media.js';

/** The CLI as the unprivileged user `nobody`, whom (unlike root) permission bits stop. */
function runCliAsNobody(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VIDPIPE_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, CI: '', HOME: '/tmp' },
      uid: 65534,
      gid: 65534,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('a database vidpipe cannot use is refused with the reason (end to end)', { timeout: 60_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let folder: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    folder = join(dir, 'a-folder');
    await mkdir(folder);
  });
  after(async () => cleanup());

  it('list --db <a directory>: exit 2 naming it', async () => {
    const run = await runCli(['list', '--db', folder]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`database ${folder}: is a directory, not a database file`));
    assert.match(run.stderr, /hint: point --db/);
  });

  it('list --db <a text file>: exit 2, not a SQLite database', async () => {
    const notes = join(dir, 'notes.txt');
    await writeFile(notes, 'not a database\n'.repeat(100));
    const run = await runCli(['list', '--db', notes]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /notes\.txt: the file is not a SQLite database/);
  });

  it('transcode --db <a directory>: exit 2 before any work, nothing published', async () => {
    const clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 1, width: 160, height: 90 });
    const out = join(dir, 'out');
    const run = await runCli(['transcode', clip, '--out', out, '--db', folder, '--json', '--progress', 'none']);
    assert.equal(run.code, 2, run.stderr);
    const result = JSON.parse(run.stdout.trim());
    assert.equal(result.error.code, 'USAGE');
    assert.match(result.error.message, /is a directory, not a database file/);
    assert.equal(existsSync(out), false);
  });

  it('a database file this user may not read and write: exit 2, permissions', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to run the CLI as another user');
    // A checkout below a folder only its owner may enter (mktemp -d makes 0700) is out of nobody's reach.
    const reachable = await runCliAsNobody(['--version']);
    if (reachable.code !== 0) return t.skip(`nobody cannot run this checkout's vidpipe (${reachable.stderr.trim().split('\n')[0]})`);
    await chmod(dir, 0o755);
    const owned = join(dir, 'root-only.db');
    assert.equal((await runCli(['list', '--db', owned])).code, 0);
    await chmod(owned, 0o600);
    const run = await runCliAsNobody(['list', '--db', owned]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /root-only\.db: the file may not be read and written by this user \(permissions\)/);
    const inFolder = await runCliAsNobody(['list', '--db', join(folder, 'new.db')]);
    assert.equal(inFolder.code, 2, inFolder.stderr);
    assert.match(inFolder.stderr, /cannot be created: the folder \S+a-folder may not be written by this user/);
  });
});
