import type { Chunk } from '../core/plan.js';

/**
 * Where the per-title analysis looks: a few samples spread over the title, each a whole GOP on
 * the key-frame grid (so a probe spends what the real encode spends on key frames, which is
 * most of the cost of still content), or the whole title when it is short. Sampling costs in
 * proportion to the samples, so the count grows slowly with duration: 3 samples up to 2 min,
 * one more per further 2 min, at most 8.
 */
export interface SamplingOptions {
  /** Number of samples (default from the duration, see above). */
  count?: number;
  /** GOPs per sample (default 1, ~2 s). */
  gops?: number;
}

export function sampleCount(durationSeconds: number): number {
  return Math.min(8, 3 + Math.floor(durationSeconds / 120));
}

/** The samples as chunks of the output frame grid (preroll as the chunk encodes use: ~1 s). */
export function planSamples(totalFrames: number, gopFrames: number, fps: number, options: SamplingOptions = {}): Chunk[] {
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
  return [...new Set(starts)].map((start, index) => ({
    index,
    startFrame: start,
    endFrame: Math.min(totalFrames, start + sampleFrames),
    prerollFrame: Math.max(0, start - preroll),
  }));
}
