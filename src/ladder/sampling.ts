import type { Chunk } from '../core/plan.js';

/**
 * Where the per-title analysis looks: a few samples spread over the title, each a whole GOP on
 * the key-frame grid (so a probe spends what the real encode spends on key frames, which is
 * most of the cost of still content), or the whole title when it is short. Sampling costs in
 * proportion to the samples, so the count grows slowly with duration: 2 samples under a minute,
 * 3 up to 2 min, one more per further 2 min, at most 8.
 */
export interface SamplingOptions {
  /** Number of samples (default from the duration, see above). */
  count?: number;
  /** GOPs per sample (default 1, ~2 s). */
  gops?: number;
}

export function sampleCount(durationSeconds: number): number {
  // Under a minute, 2: three 2 s samples were 37 % of a 16 s title, probed at two CRFs at the top
  // size alone; the check after the encodes measures every frame and corrects a miss chunk by chunk.
  if (durationSeconds < SHORT_TITLE_SECONDS) return 2;
  return Math.min(8, 3 + Math.floor(durationSeconds / 120));
}

/** Titles shorter than this get two samples (see sampleCount). */
export const SHORT_TITLE_SECONDS = 60;

/**
 * The samples as chunks of the output frame grid. A sample starts on a source key frame within
 * half a GOP of where it is spread to, when the key frames are known (`keyFrames`, as
 * sourceKeyFrames gives them): its decode then seeks straight to that frame, where a sample on
 * the grid decodes a second of preroll and, from the key frame before that, up to a whole source
 * GOP more (on 1080p grain, half the analysis's decoding). Unlike a chunk, a sample need not sit
 * on the package's grid nor have its first frame settled: the probes and their measures read the
 * same decode. Without a key frame near: on the grid, with the chunk encodes' ~1 s preroll.
 */
export function planSamples(totalFrames: number, gopFrames: number, fps: number, options: SamplingOptions = {}, keyFrames: readonly number[] = []): Chunk[] {
  const count = options.count ?? sampleCount(totalFrames / fps);
  const sampleFrames = gopFrames * (options.gops ?? 1);
  const preroll = Math.ceil(fps);
  // Short titles: sampling would cover most of it anyway, and a whole title cannot miss a scene.
  if (totalFrames <= count * sampleFrames * 2) return [{ index: 0, startFrame: 0, endFrame: totalFrames, prerollFrame: 0 }];
  const lastStart = Math.floor((totalFrames - sampleFrames) / gopFrames) * gopFrames;
  const starts = Array.from({ length: count }, (_, i) => {
    const centre = ((i + 0.5) / count) * totalFrames;
    return Math.min(lastStart, Math.max(0, Math.round((centre - sampleFrames / 2) / gopFrames) * gopFrames));
  });
  const onKeyFrame = (start: number) => {
    if (start === 0) return 0;
    const near = keyFrames.filter((k) => Math.abs(k - start) <= gopFrames / 2 && k + sampleFrames <= totalFrames);
    return near.length === 0 ? undefined : near.reduce((best, k) => (Math.abs(k - start) < Math.abs(best - start) ? k : best));
  };
  return [...new Set(starts.map((start) => onKeyFrame(start) ?? start))].map((start, index) => {
    const key = onKeyFrame(start) === start;
    return { index, startFrame: start, endFrame: Math.min(totalFrames, start + sampleFrames), prerollFrame: key ? start : Math.max(0, start - preroll) };
  });
}
