/**
 * The chunk schedule: how the video timeline is cut into chunk encodes, in what order they run,
 * and how many chunk encodes share the machine's cores when one starts. The aim is that every
 * core stays busy until the last chunk ends: a job whose last chunk runs alone leaves the other
 * cores idle for its whole length (the 180/180/180/60-frame cut of a 20 s source ran its third
 * chunk alone for a quarter of the job).
 *
 * - Chunk boundaries fall on the GOP grid, so each chunk starts with the key frame the package
 *   wants there (encoders force one every GOP, counted from the chunk's first frame).
 * - Chunks come in waves of `slots` (the encodes that run at once): every wave but the last of
 *   equal chunks, the last wave of chunks half as long. Chunks run longest first (timeline
 *   order is run order), so the short ones at the end even out what the long ones did not.
 * - A chunk's encoders get the cores divided by the chunk encodes that run beside it when it
 *   starts: a chunk that will run alone uses the cores the others leave idle.
 */
import type { DagEvent } from './dag.js';

/** One chunk encode's part of the timeline. */
export interface Chunk {
  index: number;
  /** First frame (inclusive) and last frame (exclusive) on the output frame grid. */
  startFrame: number;
  endFrame: number;
  /** Where decoding starts: a little before the first frame encoded so the decoder and fps filter settle; on the grid. */
  prerollFrame: number;
  /**
   * Frames before startFrame that a rate-controlled (VBR) rendition encodes first and cuts away
   * at the key frame on startFrame (see RATE_WARMUP_FRAMES; which renditions do: rateWarmupFrames
   * in src/ffmpeg/args/video.ts). 0 or absent: none.
   */
  warmupFrames?: number;
}

/**
 * x264's and x265's one-pass rate control start every encode cautious: the first ~30 frames of
 * a chunk came out 1.7–2.2 dB below the same frames of one whole encode (360p, 730 kb/s), 0.34 dB
 * over the 20 s bench source. Encoding 15 frames before the chunk and cutting them off at its key
 * frame leaves 0.07 dB (10 frames: 0.14, 30: 0.03), for 15 more frames per chunk. The warm-up
 * takes at most this many of the frames the chunk's preroll decodes (fewer when the seek lands
 * just before the chunk, see prerollFrame). x264 frames of 1080p and more start well enough to
 * skip it (rateWarmupFrames in src/ffmpeg/args/video.ts).
 */
export const RATE_WARMUP_FRAMES = 15;

/** The frames to cut and the grid chunk boundaries fall on. */
export interface ChunkGrid {
  totalFrames: number;
  /** Boundaries fall on multiples of this (the GOP). */
  gridFrames: number;
  /** Frames decoded before each chunk's first frame so the decoder and the fps filter settle. */
  prerollFrames: number;
  /**
   * The source's key frames (where a seek lands), each as the first frame of the output grid
   * after it, ascending. Absent: unknown, or every frame is one.
   */
  keyFrames?: readonly number[];
}

/** Frames the fps filter gets before a chunk's first frame at the least, whatever the key frames. */
const SETTLE_FRAMES = 2;

/**
 * Where a chunk starting at `start` seeks to. A seek decodes from the last source key frame at
 * or before it, so a preroll point before a key frame that lies within the preroll makes the
 * chunk decode a whole source GOP more (a second of 1080p noise costs ~0.4 s CPU): the seek
 * goes just past that key frame instead, still a few frames before the chunk.
 */
function prerollFrame(grid: ChunkGrid, start: number): number {
  const earliest = Math.max(0, start - grid.prerollFrames);
  let preroll = earliest;
  for (const key of grid.keyFrames ?? []) {
    if (key > start - SETTLE_FRAMES) break;
    if (key > preroll) preroll = key;
  }
  return preroll;
}

/** Chunks of these sizes in grid units, in timeline order; the last one ends where the video does. */
function chunksOfSizes(grid: ChunkGrid, unitsPerChunk: readonly number[]): Chunk[] {
  const chunks: Chunk[] = [];
  let start = 0;
  for (const [i, units] of unitsPerChunk.entries()) {
    if (start >= grid.totalFrames) break;
    const endFrame = i === unitsPerChunk.length - 1 ? grid.totalFrames : Math.min(grid.totalFrames, start + units * grid.gridFrames);
    const preroll = start === 0 ? 0 : prerollFrame(grid, start);
    // The warm-up uses frames the preroll decodes anyway: it costs their encode, never a longer
    // decode. It may start at the preroll itself: fps emits a frame for every grid slot from its
    // start_time (repeating the first decoded one if need be), so the count up to the chunk's key
    // frame is exact, and the settling matters only for the chunk's own first frame.
    const warmupFrames = Math.max(0, Math.min(RATE_WARMUP_FRAMES, start - preroll));
    chunks.push({ index: chunks.length, startFrame: start, endFrame, prerollFrame: preroll, ...(warmupFrames > 0 ? { warmupFrames } : {}) });
    start = endFrame;
  }
  return chunks;
}

/**
 * Chunks of `chunkFrames` (rounded to the grid), as `--chunk-duration` asks; a last chunk under
 * a quarter of that costs a whole ffmpeg start-up and seek for little work and joins the one before.
 */
export function fixedChunks(grid: ChunkGrid, chunkFrames: number): Chunk[] {
  const units = Math.max(1, Math.round(chunkFrames / grid.gridFrames));
  const count = Math.ceil(grid.totalFrames / (units * grid.gridFrames));
  const chunks = chunksOfSizes(grid, Array.from({ length: count }, () => units));
  if (chunks.length > 1) {
    const last = chunks[chunks.length - 1]!;
    if (last.endFrame - last.startFrame < (units * grid.gridFrames) / 4) {
      chunks.pop();
      chunks[chunks.length - 1]!.endFrame = last.endFrame;
    }
  }
  return chunks;
}

/**
 * Whole numbers proportional to `weights` summing to `total` (largest remainder; ties to the
 * earlier one), so rounding never makes a later chunk longer than an earlier one of equal weight.
 */
function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const ideal = weights.map((w) => (total * w) / sum);
  const shares = ideal.map(Math.floor);
  let left = total - shares.reduce((a, b) => a + b, 0);
  const byRemainder = ideal.map((x, i) => ({ i, remainder: x - Math.floor(x) })).sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left-- <= 0) break;
    shares[i]!++;
  }
  return shares;
}

/**
 * The balanced cut: waves of `slots` chunks, the last wave's chunks half as long as the others',
 * each chunk at most `maxChunkFrames` (a failed chunk is redone whole; a resume reuses whole
 * chunks) and at least `minChunkFrames` (each chunk restarts the encoders' rate control: very
 * short ones cost quality), in decreasing length (the last one may hold up to a GOP more: the
 * frames past the last whole GOP). A short source gets fewer chunks than slots; a chunk that
 * runs alone then uses the idle cores (FfmpegRunner.threadsFor).
 */
export function balancedChunks(grid: ChunkGrid, slots: number, limits: { maxChunkFrames: number; minChunkFrames: number }): Chunk[] {
  const parallel = Math.max(1, Math.floor(slots));
  // Whole GOPs: the frames past the last one go to the last chunk, never a chunk of their own (a
  // one-frame chunk costs a whole ffmpeg start-up and seek).
  const units = Math.max(1, Math.floor(grid.totalFrames / grid.gridFrames));
  const maxUnits = Math.max(1, Math.floor(limits.maxChunkFrames / grid.gridFrames));
  const minUnits = Math.max(1, Math.ceil(limits.minChunkFrames / grid.gridFrames));
  // With w waves the long chunks hold units / (parallel × (w − ½)) GOPs each.
  const waves = Math.max(2, Math.ceil(units / (parallel * maxUnits) + 0.5));
  const count = Math.max(1, Math.min(parallel * waves, Math.floor(units / minUnits)));
  const weights = Array.from({ length: count }, (_, i) => (i < parallel * (waves - 1) ? 2 : 1));
  // A chunk shorter than the minimum joins the one before it; when one did, the waves no longer
  // hold (8 GOPs as 3 + 3 + 1 + 1 became 3 + 5, the second chunk running alone for 40 % of its
  // time), so the units are shared evenly over the chunks left (4 + 4).
  const sizes: number[] = [];
  for (const size of apportion(units, weights)) {
    if (size >= minUnits || sizes.length === 0) sizes.push(size);
    else sizes[sizes.length - 1]! += size;
  }
  const even = sizes.length < weights.length ? apportion(units, sizes.map(() => 1)) : sizes;
  return chunksOfSizes(grid, even.filter((n) => n > 0));
}

/**
 * Counts a job's unfinished chunk encodes (running or still to start) from its graph's events,
 * so each chunk's encoder threads are chosen when it starts (FfmpegRunner.threadsFor).
 */
export class ChunkEncodeTracker {
  private readonly unfinished = new Set<string>();

  constructor(private readonly kind: string) {}

  observe(event: DagEvent): void {
    if (event.type === 'tasks-added') {
      for (const task of event.tasks) if (task.kind === this.kind) this.unfinished.add(task.id);
    } else if (event.type === 'task-succeeded' || event.type === 'task-failed' || event.type === 'task-cancelled' || event.type === 'task-skipped') {
      this.unfinished.delete(event.id);
    }
  }

  get count(): number {
    return this.unfinished.size;
  }
}
