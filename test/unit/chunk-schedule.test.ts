import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { balancedChunks, ChunkEncodeTracker, fixedChunks, RATE_WARMUP_FRAMES, type Chunk } from '../../src/core/schedule.js';
import { buildLadder } from '../../src/core/ladder.js';
import { buildChunkEncodeArgs, buildWarmupCutArgs, rateWarmupFrames } from '../../src/ffmpeg/args/video.js';
import { planJob } from '../../src/core/plan.js';
import { parseProbe } from '../../src/ffmpeg/probe.js';
import { FfmpegRunner } from '../../src/ffmpeg/runner.js';
import { DEFAULT_SETTINGS } from '../../src/settings/job-settings.js';
import type { DagEvent } from '../../src/core/dag.js';

const frames = (chunks: Chunk[]) => chunks.map((c) => c.endFrame - c.startFrame);

/**
 * When the last chunk ends if chunks start in index order (the graph ranks them so) on `slots`
 * slots, each taking time in proportion to its frames: what runDag does with equal-cost frames.
 */
function finishTimes(chunks: Chunk[], slots: number): number[] {
  const free = Array.from({ length: slots }, () => 0);
  for (const chunk of chunks) {
    const slot = free.indexOf(Math.min(...free));
    free[slot]! += chunk.endFrame - chunk.startFrame;
  }
  return free;
}

function assertCovers(chunks: Chunk[], totalFrames: number, gridFrames: number): void {
  assert.equal(chunks[0]!.startFrame, 0);
  assert.equal(chunks.at(-1)!.endFrame, totalFrames);
  for (const [i, chunk] of chunks.entries()) {
    assert.equal(chunk.index, i);
    assert.equal(chunk.startFrame % gridFrames, 0, `chunk ${i} starts on the key-frame grid`);
    if (i > 0) assert.equal(chunk.startFrame, chunks[i - 1]!.endFrame, 'chunks are contiguous');
    assert.ok(chunk.endFrame > chunk.startFrame, `chunk ${i} is not empty`);
  }
}

/** A minute at most, one 60-frame GOP at least (the plan's 4 s minimum is tested with planJob). */
const LIMITS = { maxChunkFrames: 1800, minChunkFrames: 60 };

describe('balancedChunks', () => {
  const grid = (totalFrames: number, gridFrames = 60, prerollFrames = 30) => ({ totalFrames, gridFrames, prerollFrames });

  it('cuts the 20 s 30 fps source into 180/180/120/120 frames on 2 slots: both slots end together', () => {
    const chunks = balancedChunks(grid(600), 2, LIMITS);
    assert.deepEqual(frames(chunks), [180, 180, 120, 120]);
    assert.deepEqual(finishTimes(chunks, 2), [300, 300]);
    assert.deepEqual(chunks.map((c) => c.prerollFrame), [0, 150, 330, 450], 'preroll one second before each start, never before 0');
  });

  it('comes in waves of the slots, longest first, every chunk within the maximum', () => {
    for (const slots of [1, 2, 3, 4, 8]) {
      for (const totalFrames of [600, 1799, 3600, 7200 * 30 + 17]) {
        const chunks = balancedChunks(grid(totalFrames), slots, LIMITS);
        assertCovers(chunks, totalFrames, 60);
        const sizes = frames(chunks);
        // The last chunk also holds the frames past the last whole GOP.
        const lastExtra = totalFrames % 60;
        for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! - (i === sizes.length - 1 ? lastExtra : 0) <= sizes[i - 1]!, `longest first (${slots} slots, ${totalFrames} frames): ${sizes}`);
        assert.ok(sizes.every((n) => n <= 1800 + lastExtra), 'no chunk longer than the maximum');
        // A multiple of the slots, unless the source has too few GOPs for two waves (one GOP a chunk then).
        if (sizes[0]! > 60) assert.equal(chunks.length % slots, 0, `a multiple of ${slots} slots (${totalFrames} frames): ${sizes}`);
        // The slots finish within one last-wave chunk of each other (at most a GOP apart when sizes are exact).
        const ends = finishTimes(chunks, slots);
        assert.ok(Math.max(...ends) - Math.min(...ends) <= sizes.at(-1)! + 60, `slots end together: ${ends}`);
      }
    }
  });

  it('gives a source shorter than a chunk per slot one chunk per GOP, and a one-GOP source one chunk', () => {
    assert.deepEqual(frames(balancedChunks(grid(180), 2, LIMITS)), [60, 60, 60]);
    assert.deepEqual(frames(balancedChunks(grid(45), 4, LIMITS)), [45]);
  });

  it('shares the GOPs evenly when the minimum chunk length folds the last wave into the chunk before', () => {
    // 16 s at 25 fps in 2 s GOPs, 4 s at least: the waves' 3 + 3 + 1 + 1 GOPs would fold into 3 + 5
    // (the second chunk alone for 40 % of its time); 4 + 4 keeps both slots busy to the end.
    assert.deepEqual(frames(balancedChunks({ totalFrames: 400, gridFrames: 50, prerollFrames: 25 }, 2, { maxChunkFrames: 1500, minChunkFrames: 100 })), [200, 200]);
    assert.deepEqual(frames(balancedChunks({ totalFrames: 500, gridFrames: 50, prerollFrames: 25 }, 2, { maxChunkFrames: 1500, minChunkFrames: 100 })), [150, 150, 100, 100]);
  });

  it('never makes a chunk of the frames past the last whole GOP: they join the last chunk', () => {
    // 4 s at 25 fps plus one frame, 2 s GOPs, one slot: two chunks, not 100 + 1 frames.
    assert.deepEqual(frames(balancedChunks({ totalFrames: 101, gridFrames: 50, prerollFrames: 25 }, 1, { maxChunkFrames: 1500, minChunkFrames: 50 })), [50, 51]);
    assert.deepEqual(frames(balancedChunks(grid(150), 2, LIMITS)), [60, 90]);
  });

  it('keeps long sources in chunks of at most the maximum, still ending together', () => {
    const chunks = balancedChunks(grid(2 * 3600 * 30), 2, LIMITS);
    assert.ok(chunks.length > 100);
    const ends = finishTimes(chunks, 2);
    assert.ok(Math.max(...ends) - Math.min(...ends) <= 900);
  });
});

describe('preroll from the source key frames', () => {
  // The 20 s bench source: key frames at 0, 1.27, 2.7, 4.2, 5.6, 10.57, 15.53, 16.77 … s at 30 fps.
  const keyFrames = [0, 38, 81, 126, 168, 317, 466, 503, 550, 591];
  const chunks = balancedChunks({ totalFrames: 600, gridFrames: 60, prerollFrames: 30, keyFrames }, 2, LIMITS);

  it('seeks just past a key frame that lies within the preroll, so no chunk decodes the GOP before it', () => {
    assert.deepEqual(chunks.map((c) => [c.startFrame, c.prerollFrame]), [[0, 0], [180, 168], [360, 330], [480, 466]]);
  });

  it('keeps the one-second preroll when no key frame lies in it, and a few frames before the chunk at the least', () => {
    const late = balancedChunks({ totalFrames: 600, gridFrames: 60, prerollFrames: 30, keyFrames: [0, 179, 359] }, 2, LIMITS);
    assert.deepEqual(late.map((c) => c.prerollFrame), [0, 150, 330, 450], 'a key frame one frame before the chunk is too late to settle on');
    for (const chunk of [...chunks, ...late]) assert.ok(chunk.startFrame === 0 || chunk.prerollFrame <= chunk.startFrame - 2);
  });
});

describe('rate-control warm-up before each chunk', () => {
  const keyFrames = [0, 38, 81, 126, 168, 317, 466, 503, 550, 591];
  const chunks = balancedChunks({ totalFrames: 600, gridFrames: 60, prerollFrames: 30, keyFrames }, 2, LIMITS);

  it('takes up to RATE_WARMUP_FRAMES of the frames the preroll decodes anyway, never starting before the preroll', () => {
    assert.equal(RATE_WARMUP_FRAMES, 15);
    assert.deepEqual(chunks.map((c) => c.warmupFrames ?? 0), [0, 12, 15, 14]);
    for (const c of chunks) assert.ok(c.startFrame - (c.warmupFrames ?? 0) >= c.prerollFrame);
  });

  it('encodes from the warm-up on, with the GOPs counted from the chunk\'s own first frame', () => {
    const video = { index: 0, codec: 'h264', width: 640, height: 360, displayWidth: 640, displayHeight: 360, rotation: 0, sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: { num: 16, den: 9 }, bitDepth: 8, startSeconds: 0, isAttachedPicture: false };
    const rendition = buildLadder(video, { codecs: ['h264'], frameRate: { num: 30, den: 1 }, preset: 'veryfast', av1Encoder: 'libsvtav1' })[0]!;
    const args = buildChunkEncodeArgs({ source: 'in.mp4', streamIndex: 0, frameRate: { num: 30, den: 1 }, chunk: chunks[1]!, gopFrames: 60, deinterlace: false, outputs: [{ rendition, path: 'out.mp4' }] });
    assert.match(args[args.indexOf('-filter_complex') + 1]!, /fps=fps=30:start_time=5\.600000,trim=start_pts=168:end_pts=360,/);
    assert.equal(args[args.indexOf('-force_key_frames') + 1], 'expr:eq(n,0)+gte(n,12)*eq(mod(n-12,60),0)');
    assert.deepEqual(buildWarmupCutArgs([{ input: '/w/a.mp4', output: '/c/a.mp4', warmupFrames: 10 }, { input: '/w/b.mp4', output: '/c/b.mp4', warmupFrames: 12 }], { num: 30, den: 1 }), [
      '-ss', '0.333334', '-i', '/w/a.mp4', '-ss', '0.400000', '-i', '/w/b.mp4',
      '-map', '0', '-c', 'copy', '-map_metadata', '-1', '-f', 'mp4', '/c/a.mp4',
      '-map', '1', '-c', 'copy', '-map_metadata', '-1', '-f', 'mp4', '/c/b.mp4',
    ]);
    assert.deepEqual(buildWarmupCutArgs([{ input: '/w/a.mp4', output: '/c/a.mp4', warmupFrames: 15 }], { num: 30000, den: 1001 }).slice(0, 2), ['-ss', '0.500500']);
    // VBR x264/x265 rungs warm up; constant quality (per-title), SVT-AV1 and x264 from 1080p on do not.
    assert.equal(rateWarmupFrames(rendition, 12), 12);
    assert.equal(rateWarmupFrames(rendition, 0), 0);
    assert.equal(rateWarmupFrames({ ...rendition, crf: 28 }, 12), 0);
    assert.equal(rateWarmupFrames({ ...rendition, encoder: { name: 'libsvtav1', preset: '8', threads: 'encoder-default' } }, 12), 0);
    assert.equal(rateWarmupFrames({ ...rendition, width: 1920, height: 1080 }, 12), 0);
    assert.equal(rateWarmupFrames({ ...rendition, width: 1920, height: 800 }, 12), 12, 'a 2.4:1 1080p frame is under the threshold');
    assert.equal(rateWarmupFrames({ ...rendition, width: 1920, height: 1080, encoder: { name: 'libx265', preset: 'veryfast', threads: 'encoder-default' } }, 12), 12, 'x265 was not measured: it keeps its warm-up');
  });

  it('encodes a 1080p and a 360p rung of one chunk from one decode, only the 360p one from the warm-up on', () => {
    const video = { index: 0, codec: 'h264', width: 1920, height: 1080, displayWidth: 1920, displayHeight: 1080, rotation: 0, sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: { num: 16, den: 9 }, bitDepth: 8, startSeconds: 0, isAttachedPicture: false };
    const ladder = buildLadder(video, { codecs: ['h264'], frameRate: { num: 30, den: 1 }, preset: 'veryfast', av1Encoder: 'libsvtav1' });
    const top = ladder.find((r) => r.height === 1080)!;
    const bottom = ladder.find((r) => r.height === 360)!;
    const args = buildChunkEncodeArgs({ source: 'in.mp4', streamIndex: 0, frameRate: { num: 30, den: 1 }, chunk: chunks[1]!, gopFrames: 60, deinterlace: false, outputs: [{ rendition: top, path: 'top.mp4' }, { rendition: bottom, path: 'bottom.mp4' }] });
    const graph = args[args.indexOf('-filter_complex') + 1]!;
    assert.match(graph, /trim=start_pts=168:end_pts=360,setpts=PTS-STARTPTS,split=2\[s0\]\[s1\];\[s0\]trim=start_pts=12,setpts=PTS-STARTPTS,scale=1920:1080:/);
    assert.match(graph, /\[s1\]scale=640:360:/);
    const keyFrames = args.flatMap((arg, i) => (arg === '-force_key_frames' ? [args[i + 1]] : []));
    assert.deepEqual(keyFrames, ['expr:eq(mod(n,60),0)', 'expr:eq(n,0)+gte(n,12)*eq(mod(n-12,60),0)']);
  });
});

describe('fixedChunks (--chunk-duration)', () => {
  it('merges a tiny tail chunk into the previous one and sets a grid-aligned preroll', () => {
    const chunks = fixedChunks({ totalFrames: 1000, gridFrames: 30, prerollFrames: 30 }, 330);
    assert.deepEqual(chunks.map((c) => [c.startFrame, c.endFrame, c.prerollFrame]), [[0, 330, 0], [330, 660, 300], [660, 1000, 630]]);
  });
  it('keeps a tail that is large enough, and rounds the length to the grid', () => {
    assert.equal(fixedChunks({ totalFrames: 1000, gridFrames: 40, prerollFrames: 30 }, 400).length, 3);
    assert.deepEqual(frames(fixedChunks({ totalFrames: 600, gridFrames: 60, prerollFrames: 30 }, 200)), [180, 180, 180, 60]);
  });
});

describe('chunks of at least the minimum', () => {
  it('keeps every chunk at the minimum or longer: fewer chunks for a short source, never a short one', () => {
    const limits = { maxChunkFrames: 1800, minChunkFrames: 120 };
    assert.deepEqual(frames(balancedChunks({ totalFrames: 180, gridFrames: 60, prerollFrames: 30 }, 2, limits)), [180]);
    assert.deepEqual(frames(balancedChunks({ totalFrames: 300, gridFrames: 60, prerollFrames: 30 }, 2, limits)), [180, 120]);
    for (const totalFrames of [240, 360, 420, 600, 3600]) {
      const sizes = frames(balancedChunks({ totalFrames, gridFrames: 60, prerollFrames: 30 }, 2, limits));
      assert.ok(sizes.every((n) => n >= 120), `${totalFrames} frames: ${sizes}`);
    }
  });
});

describe('planJob chunk schedule', () => {
  const probe = (seconds: number) =>
    parseProbe('/x.mp4', 1000, {
      streams: [{ index: 0, codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, avg_frame_rate: '30', r_frame_rate: '30', duration: String(seconds), start_time: '0' }] as never,
      format: { format_name: 'mov,mp4', duration: String(seconds), start_time: '0' },
    });

  it('keeps a 6 s source in one chunk: 2 s chunks cost quality (each restarts rate control)', () => {
    const video = planJob(probe(6), { ...DEFAULT_SETTINGS, concurrency: 2 }, { av1Encoder: 'libsvtav1' }).video!;
    assert.deepEqual(frames(video.chunks), [180]);
  });

  it('ends a 20 s and a 2-minute source with every slot busy to the last frame', () => {
    for (const seconds of [20, 120]) {
      const video = planJob(probe(seconds), { ...DEFAULT_SETTINGS, concurrency: 2 }, { av1Encoder: 'libsvtav1' }).video!;
      assertCovers(video.chunks, video.totalFrames, video.gopFrames);
      assert.deepEqual(finishTimes(video.chunks, 2), [video.totalFrames / 2, video.totalFrames / 2], `${seconds} s: ${frames(video.chunks)}`);
    }
  });
});

describe('encoder threads per chunk', () => {
  const binaries = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' } as const;
  const added = (ids: string[]): DagEvent => ({ type: 'tasks-added', complete: false, tasks: ids.map((id) => ({ id, kind: 'encode-video', label: id, dependsOn: [] })) });
  const done = (id: string, type: 'task-succeeded' | 'task-skipped' | 'task-failed' = 'task-succeeded'): DagEvent =>
    type === 'task-succeeded' ? { type, id, at: 0, result: {} } : type === 'task-skipped' ? { type, id, at: 0 } : { type, id, at: 0, error: new Error('x') as never };

  it('shares the cores among the chunks that run beside it, and gives a chunk running alone all of them', () => {
    const tracker = new ChunkEncodeTracker('encode-video');
    const runner = new FfmpegRunner({ binaries, stallTimeoutMs: 0, cores: 4, parallelEncodes: 2, unfinishedChunkEncodes: () => tracker.count }, new AbortController().signal);
    tracker.observe(added(['encode-video-0', 'encode-video-1', 'encode-video-2']));
    tracker.observe({ type: 'tasks-added', complete: true, tasks: [{ id: 'package-x', kind: 'package', label: 'p', dependsOn: [] }] });
    assert.equal(runner.threadsFor('share-cores'), 2, 'three left on two slots: two at once');
    tracker.observe(done('encode-video-0'));
    assert.equal(runner.threadsFor('share-cores'), 2, 'two left: two at once');
    tracker.observe(done('encode-video-1'));
    assert.equal(runner.threadsFor('share-cores'), 4, 'the last one runs alone: every core');
    assert.equal(runner.threadsFor('encoder-default'), undefined, 'encoders that scale by themselves keep their default');
    assert.equal(runner.coreShare(), 4, 'the decoder of a chunk running alone gets every core too');
  });

  it('gives the source decoder its threads as an input option, before the source', () => {
    const video = { index: 0, codec: 'h264', width: 640, height: 360, displayWidth: 640, displayHeight: 360, rotation: 0, sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: { num: 16, den: 9 }, bitDepth: 8, startSeconds: 0, isAttachedPicture: false };
    const rendition = buildLadder(video, { codecs: ['h264'], frameRate: { num: 30, den: 1 }, preset: 'veryfast', av1Encoder: 'libsvtav1' })[0]!;
    const chunk = { index: 1, startFrame: 60, endFrame: 120, prerollFrame: 40 };
    const input = { source: 'in.mp4', streamIndex: 0, frameRate: { num: 30, den: 1 }, chunk, gopFrames: 60, deinterlace: false, outputs: [{ rendition, path: 'out.mp4', threads: 1 }] };
    const args = buildChunkEncodeArgs({ ...input, decoderThreads: 1 });
    assert.deepEqual(args.slice(args.indexOf('-ss'), args.indexOf('-i') + 2), ['-ss', '1.333333', '-threads', '1', '-copyts', '-start_at_zero', '-i', './in.mp4']);
    assert.equal(args.indexOf('-threads'), args.lastIndexOf('-threads'), 'the encoders get theirs as -threads:v');
    assert.ok(!buildChunkEncodeArgs(input).includes('-threads'), 'unset: ffmpeg chooses');
  });

  it('counts chunks a resume reuses as done, and a failure as finished', () => {
    const tracker = new ChunkEncodeTracker('encode-video');
    tracker.observe(added(['encode-video-0', 'encode-video-1', 'encode-video-2']));
    tracker.observe(done('encode-video-0', 'task-skipped'));
    tracker.observe(done('encode-video-1', 'task-failed'));
    assert.equal(tracker.count, 1);
    const runner = new FfmpegRunner({ binaries, stallTimeoutMs: 0, cores: 2, parallelEncodes: 2, unfinishedChunkEncodes: () => tracker.count }, new AbortController().signal);
    assert.equal(runner.threadsFor('share-cores'), 2);
  });

  it('without a count (a queue worker), shares the cores among all slots', () => {
    const runner = new FfmpegRunner({ binaries, stallTimeoutMs: 0, cores: 2, parallelEncodes: 2 }, new AbortController().signal);
    assert.equal(runner.threadsFor('share-cores'), 1);
  });
});
