import { VidpipeError } from '../core/errors.js';

/**
 * The per-title ladder's settings, as a fragment for the job's settings module (issue 13):
 * each option is one entry below with its flag, conversion, validation and help, so the option
 * table can take them over as they are. `--ladder auto` itself is a value of the existing
 * `--ladder` option (also "auto" in a JSON profile's "rungs" and in watch sidecars).
 */
export type QualityMetric = 'vmaf' | 'psnr';

export interface PerTitleSettings {
  /**
   * Quality every rung must reach, on the metric in use: VMAF (0–100) when the ffmpeg has
   * libvmaf, else PSNR in dB (ffmpeg's Y/U/V-weighted average). undefined: the metric's default.
   */
  qualityTarget?: number;
  /** Ceiling on any rung's rate, kb/s, below the table's cap for its size; undefined: none. */
  maxBitrateKbps?: number;
}

/**
 * Defaults per metric. PSNR 40 dB (ffmpeg's weighted average) is where coding artefacts stop
 * being visible on most content at normal viewing distance; VMAF 93 is the common top-rung
 * target of commercial per-title (Netflix/Bitmovin publish 93–95). Both are what issue 15 asks
 * the top rung to reach.
 */
export const DEFAULT_QUALITY_TARGET: Record<QualityMetric, number> = { psnr: 40, vmaf: 93 };

const TARGET_RANGE: Record<QualityMetric, [number, number]> = { psnr: [25, 60], vmaf: [40, 100] };

export function qualityTargetFor(metric: QualityMetric, settings: PerTitleSettings): number {
  const target = settings.qualityTarget ?? DEFAULT_QUALITY_TARGET[metric];
  const [low, high] = TARGET_RANGE[metric];
  if (target < low || target > high) {
    throw new VidpipeError('USAGE', `--quality-target: ${target} is outside ${low}–${high} for ${metric === 'psnr' ? 'PSNR (dB)' : 'VMAF'}`, {
      hint: `this ffmpeg measures ${metric === 'psnr' ? 'PSNR (it has no libvmaf)' : 'VMAF'}; omit the option for the default ${DEFAULT_QUALITY_TARGET[metric]}`,
    });
  }
  return target;
}

/** True for `--ladder auto` (any case), the value that asks for a per-title ladder. */
export function isAutoLadder(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'auto';
}

function positive(flag: string, value: string, max: number): number {
  const n = Number(value.trim().replace(/k$/i, ''));
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new VidpipeError('USAGE', `${flag}: "${value}" is not a number between 0 and ${max}`);
  return n;
}

/** One option of the fragment: what the option table (issue 13) needs to declare it. */
export interface PerTitleOption<K extends keyof PerTitleSettings> {
  flags: string;
  setting: K;
  description: string;
  parse: (value: string) => NonNullable<PerTitleSettings[K]>;
}

export const PER_TITLE_OPTIONS: readonly [PerTitleOption<'qualityTarget'>, PerTitleOption<'maxBitrateKbps'>] = [
  {
    flags: '--quality-target <n>',
    setting: 'qualityTarget',
    description: `--ladder auto: quality each rung must reach, VMAF when ffmpeg has libvmaf (default ${DEFAULT_QUALITY_TARGET.vmaf}), else PSNR dB (default ${DEFAULT_QUALITY_TARGET.psnr})`,
    parse: (value) => positive('--quality-target', value, 100),
  },
  {
    flags: '--max-bitrate <kbps>',
    setting: 'maxBitrateKbps',
    description: '--ladder auto: no rung above this rate (default: the ladder table\'s rate for each size)',
    parse: (value) => Math.round(positive('--max-bitrate', value, 1_000_000)),
  },
];

/** Settings from a plain record (CLI flags, a sidecar, object metadata), through the entries above. */
export function parsePerTitleSettings(raw: Partial<Record<keyof PerTitleSettings, string | number | undefined>>): PerTitleSettings {
  const settings: PerTitleSettings = {};
  for (const option of PER_TITLE_OPTIONS) {
    const value = raw[option.setting];
    if (value === undefined || value === '') continue;
    settings[option.setting] = option.parse(String(value));
  }
  return settings;
}
