import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeClip, REPO_ROOT, runCli, tempDir } from '../helpers/media.js';

/** Above Linux's highest pid (2^22): never a running process. */
const DEAD_PID = 2 ** 22 + 1;

/** A work folder as vidpipe leaves it when killed mid-job: its lock (old single file or log entry), chunks, maybe its stamp. */
async function fabricateWorkDir(dir: string, lock: 'legacy' | 'log', pid: number, stamp?: string): Promise<string> {
  await mkdir(join(dir, 'chunks'), { recursive: true });
  await writeFile(join(dir, 'chunks', 'v0-c0001.mp4'), Buffer.alloc(4096, 1));
  const owner = JSON.stringify({ pid, host: hostname() });
  if (lock === 'legacy') {
    await writeFile(join(dir, 'vidpipe.lock'), owner);
  } else {
    await writeFile(join(dir, 'vidpipe.lock.id'), '0123456789abcdef');
    await writeFile(join(dir, 'vidpipe.lock.0123456789abcdef.0000000003'), owner);
  }
  if (stamp) await writeFile(join(dir, 'vidpipe.work.json'), JSON.stringify({ vidpipe: stamp, format: 1 }));
  return dir;
}

const key = (digit: string) => `r${digit.repeat(24)}`;

describe('work folders an older vidpipe left when it was killed (end to end)', { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  let version: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 1, width: 160, height: 90 });
    version = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')).version;
  });
  after(async () => cleanup());

  const transcode = (work: string, json: boolean) =>
    runCli(['transcode', clip, '--out', join(dir, 'out'), '--db', join(dir, 'meta.db'), '--work-dir', work, '--progress', 'none', '--no-thumbnails', '--ladder', '144p', '--preset', 'ultrafast', ...(json ? ['--json'] : [])]);

  it('discards the dead ones it cannot resume and says so; a live one, a current one and a stranger stay', async () => {
    const work = join(dir, 'work');
    const legacyDead = await fabricateWorkDir(join(work, key('a')), 'legacy', DEAD_PID);
    const oldVersionDead = await fabricateWorkDir(join(work, key('b')), 'log', DEAD_PID, '0.0.1-old');
    // This test process is alive: its folder is in use and must not be touched.
    const live = await fabricateWorkDir(join(work, key('c')), 'legacy', process.pid);
    // Made by this version: a re-run of its command resumes it.
    const current = await fabricateWorkDir(join(work, key('d')), 'log', DEAD_PID, version);
    // Named like a work folder but without vidpipe's lock: not vidpipe's to remove.
    const stranger = join(work, key('e'));
    await mkdir(stranger, { recursive: true });
    await writeFile(join(stranger, 'notes.txt'), 'mine');

    const run = await transcode(work, true);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout.trim());
    assert.equal(existsSync(legacyDead), false);
    assert.equal(existsSync(oldVersionDead), false);
    assert.deepEqual(
      [...result.discardedWorkDirs].sort(),
      [`${legacyDead}: left by an earlier vidpipe version whose process is gone; this version cannot resume it`, `${oldVersionDead}: left by vidpipe 0.0.1-old whose process is gone; this version cannot resume it`],
    );
    for (const kept of [live, current]) assert.deepEqual((await readdir(join(kept, 'chunks'))).length, 1, `${kept} is untouched`);
    assert.equal(await readFile(join(stranger, 'notes.txt'), 'utf8'), 'mine');
    assert.deepEqual((await readdir(work)).sort(), [key('c'), key('d'), key('e')], 'and nothing else is left');
  });

  it('prints the line in the summary', async () => {
    const work = join(dir, 'work-2');
    const stale = await fabricateWorkDir(join(work, key('f')), 'log', DEAD_PID);
    const run = await transcode(work, false);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.includes(`discarded work folder ${stale}: left by an earlier vidpipe version`), run.stdout);
    assert.equal(existsSync(stale), false);
  });
});
