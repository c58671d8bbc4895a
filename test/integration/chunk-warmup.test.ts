/**
 * A chunk encoded after a rate-control warm-up (Chunk.warmupFrames): real ffmpeg, x264 and x265 on a
 * source whose frames are numbered in the picture, so that what the chunk file holds can be
 * compared frame by frame with the source.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLadder } from '../../src/core/ladder.js';
import type { VideoPlan } from '../../src/core/plan.js';
import type { StageContext } from '../../src/core/stage.js';
import { chunkPath, encodeChunk } from '../../src/core/stages/encode-video.js';
import { probeFile } from '../../src/ffmpeg/probe.js';
import { FfmpegRunner } from '../../src/ffmpeg/runner.js';
import { runCapture } from '../../src/ffmpeg/run.js';
import { countVideoFrames } from '../../src/ffmpeg/count.js';
import { keyFrameTimes } from '../helpers/media.js';

let dir: string;
const fps = { num: 25, den: 1 };

function context(): StageContext {
  const signal = new AbortController().signal;
  const binaries = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' } as const;
  return { ffmpeg: new FfmpegRunner({ binaries, stallTimeoutMs: 0, cores: 1, parallelEncodes: 1 }, signal), signal, onProgress: () => {}, workDir: join(dir, 'work') };
}

async function ffmpeg(args: string[]): Promise<string> {
  const result = await runCapture('ffmpeg', ['-hide_banner', '-nostdin', '-y', ...args], { label: 'test' });
  assert.equal(result.exitCode, 0, result.stderr);
  return result.stderr;
}

/** PSNR of frames [from, from + count) of `a` against frames [0, count) of `b`. */
async function psnrOfRange(a: string, from: number, count: number, b: string): Promise<number> {
  const stderr = await ffmpeg(['-i', a, '-i', b, '-lavfi', `[0:v]trim=start_frame=${from}:end_frame=${from + count},setpts=PTS-STARTPTS,scale=320:180[x];[1:v]scale=320:180[y];[x][y]psnr`, '-f', 'null', '-']);
  const average = /average:([\d.]+|inf)/.exec(stderr)?.[1];
  return average === 'inf' ? 100 : Number(average);
}

describe('a chunk with a rate-control warm-up', { timeout: 120_000 }, () => {
  let source: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidpipe-warmup-'));
    source = join(dir, 'numbered.mp4');
    // Key frames every 10 frames, so the chunk at frame 50 seeks just past the one at 40.
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=25:d=6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p', source]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const [codec, warmupFrames] of [['h264', 8], ['h264', 10], ['hevc', 8]] as const) {
  it(`holds exactly the chunk's frames, opening on a key frame, none of the warm-up (${codec}, ${warmupFrames} frames${warmupFrames === 10 ? ', from the preroll itself' : ''})`, async () => {
    const probe = await probeFile('ffprobe', source);
    const renditions = buildLadder(probe.video!, { codecs: [codec], frameRate: fps, preset: 'veryfast', av1Encoder: 'libsvtav1' }).slice(-1);
    assert.equal(renditions[0]!.codec, codec);
    assert.equal(renditions[0]!.crf, undefined, 'a VBR rung');
    const video = { streamIndex: 0, frameRate: fps, gopFrames: 25, segmentFrames: 50, totalFrames: 150, chunks: [], renditions, deinterlace: false, fragmentSeconds: 1 } as VideoPlan;
    const chunk = { index: 1, startFrame: 50, endFrame: 100, prerollFrame: 40, warmupFrames };
    const encoded = await encodeChunk({ source, video, chunk }, { ...context(), workDir: join(dir, `work-${codec}-${warmupFrames}`) });
    const file = chunkPath(join(dir, `work-${codec}-${warmupFrames}`), renditions[0]!.id, 1);
    assert.equal(encoded.frames, 50);
    assert.equal(await countVideoFrames('ffprobe', file), 50);
    assert.deepEqual(await keyFrameTimes(file), [0, 1]);
    // Frame 0 of the chunk is source frame 50, not the first warm-up frame.
    const exact = await psnrOfRange(source, 50, 50, file);
    const shifted = await psnrOfRange(source, 50 - warmupFrames, 50, file);
    const oneOff = await psnrOfRange(source, 51, 49, file);
    assert.ok(exact > 24 && exact > shifted + 8 && exact > oneOff + 2, `against frames 50…: ${exact} dB, ${50 - warmupFrames}…: ${shifted} dB, 51…: ${oneOff} dB`);
    assert.deepEqual((await readdir(join(file, '..'))).filter((name) => name.includes('warmup')), [], 'the warm-up file is removed');
  });
  }

  it('warms up only the rungs that need it: a 1080p rung of the same chunk starts on its own first frame, both exact', async () => {
    const probe = await probeFile('ffprobe', source);
    const small = buildLadder(probe.video!, { codecs: ['h264'], frameRate: fps, preset: 'ultrafast', av1Encoder: 'libsvtav1' }).at(-1)!;
    const { picture: _padded, ...unpadded } = small;
    const large = { ...unpadded, id: 'h264-1080p', width: 1920, height: 1080, level: '4.0', bitrateKbps: 8000, maxrateKbps: 8800, bufsizeKbps: 16000 };
    const video = { streamIndex: 0, frameRate: fps, gopFrames: 25, segmentFrames: 50, totalFrames: 150, chunks: [], renditions: [large, small], deinterlace: false, fragmentSeconds: 1 } as VideoPlan;
    const chunk = { index: 1, startFrame: 50, endFrame: 100, prerollFrame: 40, warmupFrames: 8 };
    const workDir = join(dir, 'work-mixed');
    const encoded = await encodeChunk({ source, video, chunk }, { ...context(), workDir });
    assert.equal(encoded.frames, 50);
    for (const rendition of [large, small]) {
      const file = chunkPath(workDir, rendition.id, 1);
      assert.equal(await countVideoFrames('ffprobe', file), 50, rendition.id);
      assert.deepEqual(await keyFrameTimes(file), [0, 1], rendition.id);
      const exact = await psnrOfRange(source, 50, 50, file);
      const shifted = await psnrOfRange(source, 42, 50, file);
      assert.ok(exact > 24 && exact > shifted + 8, `${rendition.id} against frames 50…: ${exact} dB, 42…: ${shifted} dB`);
    }
  });
});
