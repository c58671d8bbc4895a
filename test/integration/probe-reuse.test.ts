/**
 * probeFile runs ffprobe once for a file that has not changed since it was last probed (poster and
 * storyboard both probe the smallest rendition), and again when it has; each caller gets its own copy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { probeFile } from '../../src/ffmpeg/probe.js';
import { makeClip, tempDir } from '../helpers/media.js';

describe('probeFile reuses the probe of an unchanged file', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ffprobe: string;
  let runs: string;
  const probesRun = async () => (await readFile(runs, 'utf8').catch(() => '')).split('\n').filter((line) => line.includes('-show_streams')).length;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-probe-reuse-'));
    runs = join(dir, 'runs.log');
    ffprobe = join(dir, 'ffprobe');
    const real = execFileSync('sh', ['-c', 'command -v ffprobe'], { encoding: 'utf8' }).trim();
    await writeFile(ffprobe, `#!/bin/sh\necho "$*" >> '${runs}'\nexec '${real}' "$@"\n`);
    await chmod(ffprobe, 0o755);
  });
  after(async () => cleanup());

  it('one ffprobe run for an unchanged file, with separate copies; a changed one (rewritten, or only touched) is probed again', async () => {
    const clip = await makeClip(join(dir, 'a.mp4'), { durationSeconds: 1 });
    const [first, second] = await Promise.all([probeFile(ffprobe, clip), probeFile(ffprobe, clip)]);
    const third = await probeFile(ffprobe, clip);
    assert.equal(await probesRun(), 1);
    assert.deepEqual(second, first);
    assert.deepEqual(third, first);
    first.video!.width = 1;
    assert.notEqual(third.video!.width, 1);

    const later = new Date(Date.now() + 5000);
    await utimes(clip, later, later);
    await probeFile(ffprobe, clip);
    await makeClip(clip, { durationSeconds: 2 });
    const rewritten = await probeFile(ffprobe, clip);
    assert.equal(await probesRun(), 3);
    assert.ok(Math.abs(rewritten.durationSeconds - 2) < 0.2);
  });
});
