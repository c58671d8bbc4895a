/**
 * The per-title ladder's quality target (`--quality-target`, src/ladder): which metric measures
 * it and its default per metric. The metric is what the ffmpeg in use can measure, so the range
 * a target must be in is checked when the job knows its ffmpeg (the analysis), not when parsed.
 */
import { VidpipeError } from '../errors.js';

export type QualityMetric = 'vmaf' | 'psnr';

/**
 * Defaults per metric. PSNR 40 dB (ffmpeg's Y/U/V-weighted average) is where coding artefacts
 * stop being visible on most content at normal viewing distance; VMAF 93 is the common top-rung
 * target of commercial per-title (Netflix/Bitmovin publish 93–95). Both are what issue 15 asks
 * the top rung to reach.
 */
export const DEFAULT_QUALITY_TARGET: Record<QualityMetric, number> = { psnr: 40, vmaf: 93 };

const TARGET_RANGE: Record<QualityMetric, [number, number]> = { psnr: [25, 60], vmaf: [40, 100] };

/** The target for this metric: the one given, else the metric's default; a USAGE error outside the metric's range. */
export function qualityTargetFor(metric: QualityMetric, given: number | undefined): number {
  const target = given ?? DEFAULT_QUALITY_TARGET[metric];
  const [low, high] = TARGET_RANGE[metric];
  if (target < low || target > high) {
    throw new VidpipeError('USAGE', `--quality-target: ${target} is outside ${low}–${high} for ${metric === 'psnr' ? 'PSNR (dB)' : 'VMAF'}`, {
      hint: `this ffmpeg measures ${metric === 'psnr' ? 'PSNR (it has no libvmaf)' : 'VMAF'}; omit the option for the default ${DEFAULT_QUALITY_TARGET[metric]}`,
    });
  }
  return target;
}
