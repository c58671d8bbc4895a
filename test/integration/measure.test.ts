/**
 * measureTrack on a real ffmpeg DASH package (4 s, 2 s segments of two 1 s fragments each),
 * checked against ffprobe and against numbers computed here from file sizes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureTrack, type MeasuredTrack } from '../../src/media/measure.js';
import { ffmpeg, ffprobeJson, probeStream } from '../helpers/media-tools.js';

let dir: string;
let video: MeasuredTrack;
let audio: MeasuredTrack;

/** Packages one stream of in.mp4 with ffmpeg's DASH muxer into `name/`. */
async function packageStream(name: string, map: string): Promise<void> {
  await mkdir(join(dir, name));
  await ffmpeg([
    '-i', join(dir, 'in.mp4'), '-map', map, '-c', 'copy',
    '-f', 'dash', '-seg_duration', '2', '-frag_type', 'duration', '-frag_duration', '1',
    '-use_template', '1', '-use_timeline', '1', '-init_seg_name', 'init.mp4', '-media_seg_name', 'seg_$Number%05d$.m4s',
    join(dir, name, 'x.mpd'),
  ]);
}

async function measurePackage(name: string): Promise<MeasuredTrack> {
  const files = (await readdir(join(dir, name))).filter((file) => file.startsWith('seg_')).sort();
  return measureTrack({
    initPath: join(dir, name, 'init.mp4'),
    initUri: `${name}/init.mp4`,
    segments: files.map((file) => ({ path: join(dir, name, file), uri: `${name}/${file}` })),
  });
}

/** init + the given byte chunks as one file ffprobe can read. */
async function joined(name: string, parts: Buffer[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, Buffer.concat(parts));
  return path;
}

async function wholeTrack(name: string): Promise<string> {
  const init = await readFile(join(dir, name, 'init.mp4'));
  const segments = await Promise.all(
    (await readdir(join(dir, name))).filter((file) => file.startsWith('seg_')).sort().map((file) => readFile(join(dir, name, file))),
  );
  return joined(`${name}-all.mp4`, [init, ...segments]);
}

/** Straightforward RFC 8216 §4.1 peak: try every contiguous run, keep those within 0.5–1.5 × TD. */
function naivePeak(segs: { bytes: number; seconds: number }[], td: number): number {
  let peak = 0;
  for (let i = 0; i < segs.length; i++) {
    for (let j = i; j < segs.length; j++) {
      const run = segs.slice(i, j + 1);
      const seconds = run.reduce((sum, seg) => sum + seg.seconds, 0);
      const bits = run.reduce((sum, seg) => sum + seg.bytes * 8, 0);
      if (seconds >= 0.5 * td - 1e-9 && seconds <= 1.5 * td + 1e-9) peak = Math.max(peak, bits / seconds);
    }
  }
  return peak;
}

/** Segment sizes from the file system and durations as measured, in seconds. */
async function sizedSegments(track: MeasuredTrack): Promise<{ bytes: number; seconds: number }[]> {
  return Promise.all(
    track.segments.map(async (segment) => ({ bytes: (await stat(join(dir, segment.uri))).size, seconds: segment.duration / track.timescale })),
  );
}

async function assertBitrates(track: MeasuredTrack): Promise<void> {
  const segs = await sizedSegments(track);
  assert.deepEqual(track.segments.map((segment) => segment.bytes), segs.map((seg) => seg.bytes));
  const td = Math.max(...segs.map((seg) => Math.round(seg.seconds)));
  assert.equal(track.targetDurationSeconds, td);
  const totalBits = segs.reduce((sum, seg) => sum + seg.bytes * 8, 0);
  const totalSeconds = segs.reduce((sum, seg) => sum + seg.seconds, 0);
  assert.equal(track.averageBitrate, Math.ceil(totalBits / totalSeconds));
  assert.equal(track.peakBitrate, Math.ceil(naivePeak(segs, td)));
}

function assertContinuousTfdt(track: MeasuredTrack): void {
  track.segments.slice(1).forEach((segment, index) => {
    const previous = track.segments[index]!;
    assert.equal(segment.startTime, previous.startTime + previous.duration, `tfdt gap before ${segment.uri}`);
  });
  assert.equal(track.segments[0]!.startTime, 0);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vidpipe-measure-'));
  await ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=30:d=4', '-f', 'lavfi', '-i', 'sine=d=4:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-c:a', 'aac', '-ac', '2', '-b:a', '96k', '-shortest', join(dir, 'in.mp4'),
  ]);
  await packageStream('video', '0:v');
  await packageStream('audio', '0:a');
  [video, audio] = await Promise.all([measurePackage('video'), measurePackage('audio')]);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('measureTrack on an ffmpeg DASH video track', () => {
  it('describes the init segment', () => {
    assert.match(video.codecs, /^avc1\.64[0-9a-f]{4}$/);
    assert.deepEqual([video.handler, video.codec, video.width, video.height, video.sar, video.videoRange], ['vide', 'h264', 320, 180, '1:1', 'SDR']);
    assert.deepEqual(video.frameRate, { num: 30, den: 1 });
  });

  it('sums segment durations to the duration ffprobe reports, within a frame', async () => {
    const probe = await probeStream(await wholeTrack('video'), 'duration,nb_read_frames', ['-count_frames']);
    assert.ok(Math.abs(video.durationSeconds - Number(probe.duration)) <= 1 / 30, `${video.durationSeconds} vs ${probe.duration}`);
    assert.equal(video.frameCount, Number(probe.nb_read_frames));
  });

  it('measures each segment as long as the frames ffprobe counts in it', async () => {
    const init = await readFile(join(dir, 'video/init.mp4'));
    for (const segment of video.segments) {
      const path = await joined('one-segment.mp4', [init, await readFile(join(dir, segment.uri))]);
      const probe = await probeStream(path, 'nb_read_packets', ['-count_packets']);
      assert.equal(segment.duration / video.timescale, Number((probe as { nb_read_packets?: string }).nb_read_packets) / 30, segment.uri);
    }
  });

  it('keeps tfdt continuous across segments', () => {
    assertContinuousTfdt(video);
  });

  it('finds the key frames ffprobe finds', async () => {
    const { frames } = await ffprobeJson<{ frames: { pts_time: string }[] }>(await wholeTrack('video'), [
      '-select_streams', 'v', '-skip_frame', 'nokey', '-show_entries', 'frame=pts_time',
    ]);
    assert.deepEqual(
      video.keyFrames.map((keyFrame) => (keyFrame.time / video.timescale).toFixed(3)),
      frames.map((frame) => Number(frame.pts_time).toFixed(3)),
    );
    assert.equal(video.keyFrames.length, 2);
  });

  it('gives key frame ranges that start at a sidx or moof and decode to exactly that key frame', async () => {
    const init = await readFile(join(dir, 'video/init.mp4'));
    for (const keyFrame of video.keyFrames) {
      const segment = await readFile(join(dir, keyFrame.uri));
      const range = segment.subarray(keyFrame.offset, keyFrame.offset + keyFrame.length);
      assert.equal(range.length, keyFrame.length);
      assert.ok(['sidx', 'moof'].includes(range.toString('latin1', 4, 8)), `range at ${keyFrame.offset} of ${keyFrame.uri}`);
      // What a player fetches for an I-frame playlist entry: init + the range, nothing more.
      const { frames } = await ffprobeJson<{ frames: { key_frame: number; pts_time: string }[] }>(await joined('iframe.mp4', [init, range]), [
        '-show_entries', 'frame=key_frame,pts_time',
      ]);
      assert.equal(frames.length, 1, `one decodable frame in ${keyFrame.uri}@${keyFrame.offset}+${keyFrame.length}`);
      assert.equal(frames[0]!.key_frame, 1);
      assert.equal(Number(frames[0]!.pts_time), keyFrame.time / video.timescale);
      // One byte less and the key frame no longer decodes.
      const { frames: cut } = await ffprobeJson<{ frames?: unknown[] }>(await joined('iframe-cut.mp4', [init, range.subarray(0, -1)]), [
        '-show_entries', 'frame=key_frame',
      ]);
      assert.equal(cut?.length ?? 0, 0);
    }
  });

  it('computes RFC 8216 bit rates from the segment sizes', async () => {
    await assertBitrates(video);
    const iFrameBytes = video.keyFrames.reduce((sum, keyFrame) => sum + keyFrame.length, 0);
    assert.equal(video.iFrameAverageBitrate, Math.ceil((iFrameBytes * 8) / video.durationSeconds));
  });
});

describe('measureTrack on an ffmpeg DASH AAC track', () => {
  it('describes the init segment', () => {
    assert.deepEqual([audio.handler, audio.codecs, audio.codec, audio.channels, audio.sampleRate], ['soun', 'mp4a.40.2', 'aac', 2, 48000]);
    assert.deepEqual(audio.keyFrames, []);
    assert.equal(audio.frameRate, undefined);
  });

  it('sums segment durations to the duration ffprobe reports, within a frame', async () => {
    const probe = await probeStream(await wholeTrack('audio'), 'duration,nb_read_frames', ['-count_frames']);
    assert.ok(Math.abs(audio.durationSeconds - Number(probe.duration)) <= 1024 / 48000, `${audio.durationSeconds} vs ${probe.duration}`);
    assert.equal(audio.frameCount, Number(probe.nb_read_frames));
  });

  it('keeps tfdt continuous across segments', () => {
    assertContinuousTfdt(audio);
  });

  it('computes RFC 8216 bit rates from the segment sizes', async () => {
    await assertBitrates(audio);
  });
});
