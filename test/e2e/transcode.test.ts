import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile, mkdir, copyFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import HLS from 'hls-parser';
import { decodedFrameCount, keyFrameTimes, makeClip, runCli, tempDir, ffprobeJson } from '../helpers/media.js';

const exec = promisify(execFile);

/** Joins a CMAF track's init and segments into one file ffprobe can read as a whole. */
async function joinTrack(trackDir: string, output: string): Promise<{ segments: string[] }> {
  const names = (await readdir(trackDir)).filter((n) => /^seg_\d+\.m4s$/.test(n)).sort();
  const parts = await Promise.all([readFile(join(trackDir, 'init.mp4')), ...names.map((n) => readFile(join(trackDir, n)))]);
  await writeFile(output, Buffer.concat(parts));
  return { segments: names };
}

describe('vidpipe transcode (end to end)', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: string;
  let db: string;
  let result: any;
  let run: Awaited<ReturnType<typeof runCli>>;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    db = join(dir, 'meta.db');
    // 29.97 fps with a long source GOP: vidpipe must re-key onto its own 2.002 s grid.
    source = await makeClip(join(dir, 'talk clip.mp4'), { durationSeconds: 9, width: 320, height: 180, rate: '30000/1001' });
    run = await runCli([
      'transcode', source, '--out', join(dir, 'out'), '--db', db, '--json',
      '--ladder', '180p,144p', '--preset', 'superfast', '--segment-duration', '2', '--chunk-duration', '2', '--concurrency', '2',
    ]);
    result = JSON.parse(run.stdout.trim());
  });
  after(async () => cleanup());

  it('exits 0 and prints exactly one JSON object with the documented fields', () => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim().split('\n').length, 1);
    assert.equal(result.status, 'succeeded');
    assert.match(result.id, /^v[0-9a-f]{12}$/);
    assert.equal(result.input, source);
    for (const key of ['hls', 'dash', 'poster']) assert.ok(existsSync(result.outputs[key]), `${key} exists`);
    assert.equal(result.renditions.filter((r: any) => r.kind === 'video').length, 2);
    assert.ok(Math.abs(result.durationSeconds - 9.009) < 0.05, `duration ${result.durationSeconds}`);
    assert.ok(result.timings.total > 0);
  });

  it('shows plain progress lines on stderr when there is no terminal', () => {
    assert.match(run.stderr, /Encode video: started/);
    assert.match(run.stderr, /done in/);
  });

  it('encodes every rendition with the source frame count, key frames on the 2 s grid and at every segment start', async () => {
    const expectedFrames = await decodedFrameCount(source);
    const root = result.outputs.root as string;
    for (const rendition of result.renditions.filter((r: any) => r.kind === 'video')) {
      const trackDir = join(root, 'video', rendition.name);
      const joined = join(dir, `${rendition.name}.mp4`);
      const { segments } = await joinTrack(trackDir, joined);
      assert.equal(await decodedFrameCount(joined), expectedFrames, `${rendition.name} frame count`);
      const keys = await keyFrameTimes(joined);
      const gop = 60 * 1001 / 30000;
      assert.equal(keys.length, Math.ceil(expectedFrames / 60));
      keys.forEach((t, i) => assert.ok(Math.abs(t - i * gop) < 0.001, `key frame ${i} at ${t}, expected ${i * gop}`));
      // Each segment alone starts with a key frame: decode it with only the init prepended.
      for (const name of segments) {
        const one = join(dir, 'one.mp4');
        await writeFile(one, Buffer.concat([await readFile(join(trackDir, 'init.mp4')), await readFile(join(trackDir, name))]));
        const frames = await ffprobeJson(['-select_streams', 'v:0', '-show_entries', 'frame=key_frame', '-read_intervals', '%+#1', one]);
        assert.equal(frames.frames[0].key_frame, 1, `${name} starts with a key frame`);
      }
    }
  });

  it('writes playlists that a strict HLS parser accepts, with measured attributes', async () => {
    HLS.setOptions({ strictMode: true });
    const root = result.outputs.root as string;
    const master = HLS.parse(await readFile(join(root, 'master.m3u8'), 'utf8')) as any;
    assert.equal(master.isMasterPlaylist, true);
    const variants = master.variants.filter((v: any) => !v.isIFrameOnly);
    assert.equal(variants.length, 2);
    assert.equal(master.variants.length - variants.length, 2, 'one I-frame playlist per rendition');
    for (const variant of variants) {
      assert.match(variant.codecs, /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
      assert.ok(variant.bandwidth > 0 && variant.averageBandwidth > 0 && variant.frameRate > 29.9);
      const media = HLS.parse(await readFile(join(root, variant.uri), 'utf8')) as any;
      assert.equal(media.playlistType, 'VOD');
      assert.equal(media.endlist, true);
      const total = media.segments.reduce((s: number, seg: any) => s + seg.duration, 0);
      assert.ok(Math.abs(total - 9.009) < 0.04, `video playlist duration ${total}`);
    }
    for (const rendition of result.renditions) {
      assert.ok(rendition.peakBitrate >= rendition.averageBitrate, `${rendition.name} peak ≥ average`);
    }
  });

  it('packages that ffmpeg itself can read end to end, both HLS and DASH', async () => {
    const root = result.outputs.root as string;
    for (const manifest of ['master.m3u8', 'manifest.mpd']) {
      const { stderr } = await exec('ffmpeg', ['-v', 'error', '-i', join(root, manifest), '-map', '0:v:0', '-map', '0:a:0', '-f', 'null', '-']);
      assert.equal(stderr.trim(), '', `${manifest} decodes without errors`);
    }
  });

  it('records the video, its renditions, the job and every task in SQLite', async () => {
    const show = await runCli(['show', result.id, '--db', db, '--json']);
    assert.equal(show.code, 0, show.stderr);
    const record = JSON.parse(show.stdout);
    assert.equal(record.video.status, 'ready');
    assert.equal(record.latestJob.status, 'succeeded');
    assert.ok(record.tasks.length >= 8);
    assert.ok(record.tasks.every((t: any) => t.status === 'succeeded'), JSON.stringify(record.tasks.map((t: any) => [t.id, t.status])));
    assert.equal(record.renditions.length, result.renditions.length);
    const list = await runCli(['list', '--db', db, '--json']);
    assert.equal(JSON.parse(list.stdout).videos[0].id, result.id);
  });
});

describe('vidpipe transcode on bad input', { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(async () => cleanup());

  const cases: [string, (dir: string) => Promise<string>, RegExp][] = [
    ['a missing file', async (d) => join(d, 'nope.mp4'), /does not exist/],
    ['a directory', async (d) => { await mkdir(join(d, 'folder.mp4'), { recursive: true }); return join(d, 'folder.mp4'); }, /directory/],
    ['a zero-byte file', async (d) => { await writeFile(join(d, 'empty.mp4'), ''); return join(d, 'empty.mp4'); }, /empty/],
    ['text renamed .mp4', async (d) => { await writeFile(join(d, 'notes.mp4'), 'hello, this is not a video\n'.repeat(50)); return join(d, 'notes.mp4'); }, /not a (readable media|video or audio) file/],
    ['a truncated mp4', async (d) => {
      const clip = await makeClip(join(d, 'whole.mp4'), { durationSeconds: 2, extraArgs: ['-movflags', '+faststart'] });
      await copyFile(clip, join(d, 'cut.mp4'));
      await truncate(join(d, 'cut.mp4'), Math.floor((await stat(clip)).size / 3));
      return join(d, 'cut.mp4');
    }, /.+/],
  ];

  for (const [label, make, reason] of cases) {
    it(`rejects ${label} with exit 2, a one-line reason, no output folder, and a failed job on record`, async () => {
      const input = await make(dir);
      const out = join(dir, `out-${label.replace(/\W+/g, '-')}`);
      const db = join(dir, 'bad.db');
      const r = await runCli(['transcode', input, '--out', out, '--db', db, '--quiet', '--preset', 'ultrafast']);
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.match(lines[0]!, reason);
      assert.equal(existsSync(out), false, 'no output folder');
      const list = JSON.parse((await runCli(['list', '--db', db, '--json'])).stdout);
      assert.ok(list.videos.some((v: any) => v.status === 'failed' && v.source === input), 'failed job recorded');
    });
  }

  it('keeps going after a bad input in a batch and exits non-zero', async () => {
    const good = await makeClip(join(dir, 'good.mp4'), { durationSeconds: 2 });
    const r = await runCli(['transcode', join(dir, 'missing.mp4'), good, '--out', join(dir, 'batch'), '--db', join(dir, 'b.db'), '--json', '--preset', 'ultrafast', '--ladder', '144p', '--no-thumbnails']);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.status), ['failed', 'succeeded']);
    assert.ok(existsSync(join(dir, 'batch', 'good', 'master.m3u8')));
  });

  it('rejects unknown options and bad values with exit 2', async () => {
    assert.equal((await runCli(['transcode', 'x.mp4', '--bogus'])).code, 2);
    const r = await runCli(['transcode', 'x.mp4', '--preset', 'turbo']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--preset/);
  });
});
