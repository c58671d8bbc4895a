import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import HLS from 'hls-parser';
import { decodedFrameCount, makeClip, runCli, tempDir } from '../helpers/media.js';

/**
 * Every path a user gives (input, --out, --db, --work-dir, --subtitles) relative to a current
 * directory that is neither the repository nor the folder the files are in.
 */
describe('relative paths from another current directory', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let cwd: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-rel-'));
    await mkdir(join(dir, 'media'));
    cwd = join(dir, 'here');
    await mkdir(cwd);
    await makeClip(join(dir, 'media', 'clip.mp4'), { durationSeconds: 6 });
    await writeFile(join(dir, 'media', 'clip.en.vtt'), 'WEBVTT\n\n00:00.000 --> 00:03.000\nhello\n\n00:03.000 --> 00:05.500\nworld\n');
  });
  after(async () => cleanup());

  it('input, --out, --db, --work-dir and --subtitles relative: a complete package, nothing left in the work folder', async () => {
    const run = await runCli(
      [
        'transcode', '../media/clip.mp4', '--out', '../out', '--db', 'state/vidpipe.db', '--work-dir', '../work',
        '--subtitles', '../media/clip.en.vtt:en', '--ladder', '144p', '--preset', 'ultrafast',
        '--segment-duration', '2', '--chunk-duration', '2', '--json', '--quiet',
      ],
      { cwd },
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.status, 'succeeded');
    const master = join(dir, 'out', 'clip', 'master.m3u8');
    assert.equal(result.outputs.hls, master, 'outputs are reported as absolute paths');
    const playlist = HLS.parse(await readFile(master, 'utf8')) as any;
    const video = playlist.variants.find((v: any) => !v.isIFrameOnly);
    assert.ok(video.subtitles.some((s: any) => s.language === 'en'), 'the sidecar subtitles are in the package');
    // Three chunks were joined from the relative work folder: every frame of the source is there.
    const media = HLS.parse(await readFile(join(dir, 'out', 'clip', video.uri), 'utf8')) as any;
    const folder = join(dir, 'out', 'clip', video.uri, '..');
    const joined = join(dir, 'joined.mp4');
    const parts = await Promise.all([readFile(join(folder, media.segments[0].map.uri)), ...media.segments.map((s: any) => readFile(join(folder, s.uri)))]);
    await writeFile(joined, Buffer.concat(parts));
    assert.equal(await decodedFrameCount(joined), await decodedFrameCount(join(dir, 'media', 'clip.mp4')));
    assert.ok(existsSync(join(cwd, 'state', 'vidpipe.db')), 'the database is where --db said, relative to the current directory');
    const listed = await runCli(['list', '--db', 'state/vidpipe.db', '--json'], { cwd });
    assert.equal(JSON.parse(listed.stdout).videos.length, 1);
    assert.deepEqual(await readdir(join(dir, 'work')), [], 'the work folder was cleaned up');
  });

  it('an interrupted run with a relative --work-dir is resumed from another directory', async () => {
    await makeClip(join(dir, 'media', 'long.mp4'), { durationSeconds: 16 });
    const common = ['--out', join(dir, 'out2'), '--ladder', '180p,144p', '--preset', 'medium', '--segment-duration', '2', '--chunk-duration', '2', '--concurrency', '2'];
    const dbFile = join(dir, 'resume.db');
    let child: ReturnType<typeof spawn> | undefined;
    // Interrupt once the database records a finished chunk encode (with its files).
    const poll = setInterval(() => {
      if (!child || !existsSync(dbFile)) return;
      const db = new Database(dbFile, { readonly: true, fileMustExist: true });
      try {
        const done = db.prepare("SELECT count(*) AS n FROM tasks WHERE kind = 'encode-video' AND status = 'succeeded'").get() as { n: number };
        if (done.n > 0) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      } catch {
        // The schema may not be there yet.
      } finally {
        db.close();
      }
    }, 100);
    const first = await runCli(['transcode', '../media/long.mp4', '--db', dbFile, '--work-dir', '../work', '--progress', 'plain', ...common], {
      cwd,
      onStderr: (_text, spawned) => (child ??= spawned),
    });
    clearInterval(poll);
    assert.equal(first.code, 130, first.stderr);
    // Same job, same work root, spelled from somewhere else.
    const elsewhere = join(dir, 'media');
    const second = await runCli(['transcode', 'long.mp4', '--db', dbFile, '--work-dir', '../work', '--json', '--quiet', ...common], { cwd: elsewhere });
    assert.equal(second.code, 0, second.stderr);
    const result = JSON.parse(second.stdout);
    assert.ok(result.resumed, 'the second run resumed the first');
    assert.ok(result.resumed.reusedTasks.some((id: string) => id.startsWith('encode-video')), `reused ${result.resumed.reusedTasks}`);
    assert.deepEqual(await readdir(join(dir, 'work')), []);
  });
});
