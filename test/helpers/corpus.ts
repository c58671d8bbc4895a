/**
 * Runs a corpus of generated inputs (see hostile.ts) through the real CLI, one test per case:
 * each input either becomes a correct, playable package (sizes, frame count, key frame grid,
 * durations, audio, clean playback checked with ffprobe and ffmpeg) or is refused with exit 2,
 * a one-line reason and nothing published.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import HLS from 'hls-parser';
import { assertFirstPicture, assertFlashAt } from './av-checks.js';
import { decodedFrameCount, ffprobeJson, keyFrameTimes, runCli, tempDir } from './media.js';
import type { ExpectedPackage, HostileCase } from './hostile.js';

export interface CorpusOptions {
  tempPrefix?: string;
  /** Also run `vidpipe validate` on every package. */
  validate?: boolean;
}

const exec = promisify(execFile);
const SEGMENT_SECONDS = 2;

function even(value: number): number {
  return Math.round(value / 2) * 2;
}

/** The top rendition's size: the rung (or the source's short side) and the display aspect, even. */
function expectedSize(expected: ExpectedPackage, rung: number): { width: number; height: number } {
  const short = Math.min(expected.width, expected.height);
  const long = Math.max(expected.width, expected.height);
  const outShort = even(Math.min(rung, short));
  const outLong = even((outShort * long) / short);
  return expected.width >= expected.height ? { width: outLong, height: outShort } : { width: outShort, height: outLong };
}

async function ffmpegStderr(args: string[]): Promise<string> {
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-nostdin', ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stderr;
}

/** Average of a signalstats value (SATAVG, YLOW …) over the first frames a filter chain produces. */
async function signalStat(input: string[], filter: string, key: string): Promise<number> {
  const stderr = await ffmpegStderr([...input, '-vf', `${filter}signalstats,metadata=print:key=lavfi.signalstats.${key}`, '-frames:v', '5', '-f', 'null', '-']);
  const values = [...stderr.matchAll(new RegExp(`signalstats\\.${key}=([0-9.]+)`, 'g'))].map((m) => Number(m[1]));
  assert.ok(values.length > 0, `no ${key} in ffmpeg output`);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** idet's multi-frame verdicts over a whole file. */
async function interlaceVerdicts(path: string): Promise<{ tff: number; bff: number; progressive: number }> {
  const stderr = await ffmpegStderr(['-i', path, '-vf', 'idet', '-an', '-f', 'null', '-']);
  const match = /Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)/.exec(stderr);
  assert.ok(match, 'idet reported nothing');
  return { tff: Number(match[1]), bff: Number(match[2]), progressive: Number(match[3]) };
}

/** Concatenates a media playlist's init segment and segments into one file ffprobe can read whole. */
async function joinPlaylist(masterDir: string, playlistUri: string, output: string): Promise<{ durationSeconds: number }> {
  const playlistPath = join(masterDir, playlistUri);
  const media = HLS.parse(await readFile(playlistPath, 'utf8')) as any;
  const trackDir = dirname(playlistPath);
  const init = media.segments[0]?.map?.uri;
  assert.ok(init, 'segments have an EXT-X-MAP init segment');
  const parts = [await readFile(join(trackDir, init)), ...(await Promise.all(media.segments.map((s: any) => readFile(join(trackDir, s.uri)))))];
  await writeFile(output, Buffer.concat(parts));
  return { durationSeconds: media.segments.reduce((sum: number, s: any) => sum + s.duration, 0) };
}

export function runCorpus(title: string, cases: readonly HostileCase[], options: CorpusOptions = {}): void {
describe(title, { timeout: 1_200_000, concurrency: 3 }, () => {
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir: root, cleanup } = await tempDir(options.tempPrefix ?? 'vidpipe-hostile-'));
    HLS.setOptions({ strictMode: true });
  });
  after(async () => cleanup());

  cases.forEach((testCase, caseIndex) => {
    const outcome = 'reject' in testCase.expect ? 'is refused with exit 2, one line, nothing published' : 'gives a correct, playable package';
    it(`${testCase.name}: ${outcome}`, async () => {
      const dir = join(root, `case-${caseIndex}`);
      await mkdir(dir, { recursive: true });
      const input = await testCase.make(dir);
      const out = join(dir, 'out');
      const ladder = testCase.ladder ?? '144p';
      const rejected = 'reject' in testCase.expect;
      const run = await runCli([
        'transcode', input, '--out', out, '--db', join(dir, 'meta.db'), '--work-dir', join(dir, 'work'), ...(rejected ? [] : ['--json']),
        '--quiet', '--ladder', ladder, '--preset', 'superfast', '--segment-duration', String(SEGMENT_SECONDS), '--concurrency', '1',
        ...(testCase.thumbnails ? [] : ['--no-thumbnails']), ...(testCase.args ?? []),
      ]);

      if ('reject' in testCase.expect) {
        assert.equal(run.code, 2, run.stderr);
        assert.equal(run.stdout, '');
        assert.match(run.stderr.trim().split('\n')[0]!, testCase.expect.reject, 'the first stderr line says why');
        assert.equal(existsSync(out), false, 'nothing published: no output folder');
        return;
      }

      const lines = run.stdout.trim().split('\n');
      assert.equal(lines.length, 1, `one JSON line on stdout: ${run.stdout}`);
      const result = JSON.parse(lines[0]!);
      const expected = testCase.expect.package;
      assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
      assert.equal(result.status, 'succeeded');
      const masterPath = result.outputs.hls as string;
      const masterDir = dirname(masterPath);
      assert.ok(existsSync(masterPath), 'master playlist published');

      // Strict HLS: the master and every media playlist parse.
      const master = HLS.parse(await readFile(masterPath, 'utf8')) as any;
      assert.equal(master.isMasterPlaylist, true);
      const variants = master.variants.filter((v: any) => !v.isIFrameOnly);
      assert.equal(variants.length, 1, 'one video rendition');
      const audioUris = new Set<string>(variants.flatMap((v: any) => v.audio.map((a: any) => a.uri)));
      assert.equal(audioUris.size, expected.audioTracks, 'audio renditions');

      // The video rendition: size, orientation, square pixels, 8-bit 4:2:0, frame rate, frame count, key frame grid.
      const joined = join(dir, 'video.mp4');
      const { durationSeconds: videoSeconds } = await joinPlaylist(masterDir, variants[0].uri, joined);
      const size = expected.size ?? expectedSize(expected, Number(ladder.replace(/p$/, '')));
      const stream = (await ffprobeJson(['-select_streams', 'v:0', '-show_streams', joined])).streams[0];
      assert.deepEqual({ width: stream.width, height: stream.height }, size, 'display size with the source aspect and orientation');
      assert.ok(['1:1', '0:1', undefined].includes(stream.sample_aspect_ratio), `square pixels, got SAR ${stream.sample_aspect_ratio}`);
      assert.equal(stream.pix_fmt, 'yuv420p');
      assert.equal(stream.profile, 'High');
      assert.equal(stream.side_data_list, undefined, 'no display matrix left for players to apply again');
      const [num, den] = String(stream.avg_frame_rate).split('/').map(Number);
      assert.ok(Math.abs(num! / den! - expected.fps) < 0.01, `frame rate ${stream.avg_frame_rate}, expected ${expected.fps}`);
      assert.ok(Math.abs(variants[0].frameRate - expected.fps) < 0.01, `FRAME-RATE ${variants[0].frameRate}`);
      const frames = await decodedFrameCount(joined);
      const expectedFrames = Math.max(1, Math.round(expected.seconds * expected.fps));
      assert.ok(Math.abs(frames - expectedFrames) <= 1, `${frames} frames, expected ${expectedFrames}`);
      assert.ok(Math.abs(videoSeconds - frames / expected.fps) < 0.01, `playlist duration ${videoSeconds} for ${frames} frames`);
      const gopFrames = Math.round(SEGMENT_SECONDS * expected.fps);
      const keys = await keyFrameTimes(joined);
      assert.equal(keys.length, Math.ceil(frames / gopFrames), `key frames at ${keys.join(', ')}`);
      keys.forEach((t, i) => assert.ok(Math.abs(t - (i * gopFrames) / expected.fps) < 0.002, `key frame ${i} at ${t}`));

      // Every audio rendition lasts as long as the video, whatever the source's streams did.
      for (const uri of audioUris) {
        const { durationSeconds } = await joinPlaylist(masterDir, uri, join(dir, 'audio.mp4'));
        assert.ok(Math.abs(durationSeconds - videoSeconds) < 0.1, `audio ${uri} lasts ${durationSeconds} s, video ${videoSeconds} s`);
      }

      // ffmpeg plays the whole package from the master playlist without a single error.
      const maps = ['-map', '0:v:0', ...(expected.audioTracks > 0 ? ['-map', '0:a:0'] : [])];
      const playback = await ffmpegStderr(['-v', 'error', '-i', masterPath, ...maps, '-f', 'null', '-']);
      assert.equal(playback.trim(), '', 'master.m3u8 decodes cleanly');

      if (expected.firstPicture) await assertFirstPicture(joined, input, size);
      if (expected.flashSeconds !== undefined) {
        const audio = expected.audioTracks > 0 ? join(dir, 'audio.mp4') : undefined;
        if (audio) await joinPlaylist(masterDir, [...audioUris][0]!, audio);
        await assertFlashAt(joined, audio, expected.flashSeconds, expected.fps);
      }
      if (expected.transpose) {
        // Compare with the source turned explicitly (autorotate off), not with ffmpeg's own autorotate.
        const psnr = async (transpose: string) => {
          const stderr = await ffmpegStderr([
            '-i', joined, '-noautorotate', '-i', input,
            '-filter_complex', `[1:v]transpose=${transpose},scale=${size.width}:${size.height}[ref];[0:v][ref]psnr`, '-f', 'null', '-',
          ]);
          return Number(/average:([0-9.]+|inf)/.exec(stderr)?.[1]);
        };
        const wrong = expected.transpose === 'clock' ? 'cclock' : 'clock';
        const [right, flipped] = [await psnr(expected.transpose), await psnr(wrong)];
        assert.ok(right > 25 && right > flipped + 10, `upright: PSNR ${right} dB turned ${expected.transpose}, ${flipped} dB the other way`);
      }
      if (expected.interlaced) {
        const source = await interlaceVerdicts(input);
        assert.ok(source.tff > source.progressive, `the fixture is interlaced: ${JSON.stringify(source)}`);
        const output = await interlaceVerdicts(joined);
        assert.ok(output.progressive >= 0.8 * frames, `deinterlaced: ${JSON.stringify(output)}`);
      }
      if (expected.hdr) {
        assert.equal(stream.color_transfer, 'bt709', 'tagged SDR');
        assert.equal(stream.color_primaries, 'bt709');
        // The same test pattern rendered straight to SDR is the reference: a missing tone map
        // (PQ/HLG code values shown as SDR) is grey and flat, with about a fifth of the saturation.
        const reference = ['-f', 'lavfi', '-i', `testsrc2=size=${size.width}x${size.height}:rate=${expected.fps}`];
        const [saturation, referenceSaturation] = [await signalStat(['-i', joined], '', 'SATAVG'), await signalStat(reference, 'format=yuv420p,', 'SATAVG')];
        assert.ok(saturation > 0.45 * referenceSaturation, `saturation ${saturation} vs SDR reference ${referenceSaturation}`);
        const contrast = (await signalStat(['-i', joined], '', 'YHIGH')) - (await signalStat(['-i', joined], '', 'YLOW'));
        const referenceContrast = (await signalStat(reference, 'format=yuv420p,', 'YHIGH')) - (await signalStat(reference, 'format=yuv420p,', 'YLOW'));
        assert.ok(contrast > 0.5 * referenceContrast, `contrast ${contrast} vs SDR reference ${referenceContrast}`);
      }
      if (basename(input).startsWith('-')) assert.equal(basename(dirname(masterPath)).startsWith('-'), false, 'the package folder does not start with -');
      if (expected.note) assert.match((result.source?.notes ?? []).join('\n'), expected.note, 'the decision is reported in --json');
      if (expected.decodeErrors) assert.ok(result.source?.decodeErrors > 0, `decode errors reported: ${JSON.stringify(result.source)}`);
      if (expected.audioDecodeErrors) assert.ok(result.source?.audioDecodeErrors > 0, `audio decode errors reported: ${JSON.stringify(result.source)}`);
      if (testCase.thumbnails) {
        for (const image of [result.outputs.poster, join(dirname(result.outputs.storyboard), 'sprite_001.jpg')]) {
          const picture = (await ffprobeJson(['-show_streams', image])).streams[0];
          assert.ok(picture.width > 0 && picture.height > 0 && picture.width <= 65535 && picture.height <= 65535, `${image}: ${picture.width}x${picture.height}`);
        }
      }
      if (options.validate) {
        const validation = await runCli(['validate', masterDir]);
        assert.equal(validation.code, 0, `vidpipe validate: ${validation.stdout}${validation.stderr}`);
      }
    });
  });
});
}
