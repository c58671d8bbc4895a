import type { Rendition } from '../core/ladder.js';
import type { VideoCodec } from '../settings/job-settings.js';
import { crfAt, fitCurve, qualityAt, rateFor, type RateQualityCurve } from './curve.js';
import type { QualityMetric } from '../settings/quality-target.js';

/** One probe encode (codec, size, CRF) pooled over every sample of the title. */
export interface ProbeResult {
  codec: VideoCodec;
  /** Short-side size class of the candidate rendition it stands for. */
  size: number;
  width: number;
  height: number;
  crf: number;
  /** Average rate over the samples: total bits / total seconds. */
  kbps: number;
  /** At the rung's own size, against the source scaled to it (from the pooled mean squared error). */
  psnr: number;
  /** Measured by the probe measure only where it measures PSNR too (absent when the encoder reported the PSNR). */
  ssim?: number;
  /**
   * Upscaled to the display size (the top candidate's), against the source at that size: modelled
   * as the coding error plus the error of the resolution alone (measured without encoding).
   */
  displayPsnr: number;
  /** VMAF at the display size, when the ffmpeg has libvmaf. */
  vmaf: number | null;
  /** Not encoded: a size probed once gets its curve's second point from the top size's slopes (probe-rules.ts). */
  modelled?: true;
}

export interface ChoiceOptions {
  metric: QualityMetric;
  /** The quality every rung must reach (dB for PSNR, 0–100 for VMAF). */
  target: number;
  /** Aimed above the target to absorb the prediction error (probe preset, sampling). */
  margin: number;
  /** Ceiling on every rung, kb/s. */
  maxBitrateKbps?: number;
  /** Adjacent kept rungs are at least this many times apart in rate. */
  minSpacing: number;
  /** Gaps wider than this are reported (no size between could be added). */
  maxSpacing: number;
  /** Display-size PSNR gain (dB) under which a bigger rung shows nothing more than the one below. */
  visibleGainDb: number;
}

export const DEFAULT_CHOICE: Omit<ChoiceOptions, 'metric' | 'target'> = {
  margin: 0.5,
  minSpacing: 1.5,
  maxSpacing: 2,
  visibleGainDb: 0.5,
};

/** What a chosen rung is predicted to measure, from the fitted curves at its rate. */
export interface PredictedQuality {
  kbps: number;
  psnr: number;
  ssim?: number;
  displayPsnr: number;
  vmaf: number | null;
}

export interface ChosenRung {
  /** The candidate with the chosen rate control: crf set (capped CRF), or VBR at the cap. */
  rendition: Rendition;
  /** crf: the content reaches the target below the cap; cap: it does not, VBR at the cap (as the fixed ladder). */
  mode: 'crf' | 'cap';
  /** The rung's cap: the table's rate for its size, the ceiling, or the spacing under the rung above. */
  capKbps: number;
  /** Absent for a size the analysis stopped before probing (tableLadder). */
  predicted?: PredictedQuality;
}

export interface DroppedRung {
  id: string;
  codec: VideoCodec;
  size: number;
  /** The rate it would have needed, kb/s. */
  kbps: number;
  reason: string;
}

export interface LadderChoice {
  rungs: ChosenRung[];
  /** Codecs whose analysis stopped early (probe-rules.ts, tableRatesNeeded): why, by codec. */
  tableRates?: Partial<Record<VideoCodec, string>>;
  dropped: DroppedRung[];
  /** Adjacent kept rungs further apart than maxSpacing (a player's switch there is a big step). */
  gaps: { upper: string; lower: string; ratio: number }[];
}

interface Candidate {
  rendition: Rendition;
  psnr: RateQualityCurve;
  ssim?: RateQualityCurve;
  display: RateQualityCurve;
  vmaf?: RateQualityCurve;
}

function curves(rendition: Rendition, probes: ProbeResult[]): Candidate | undefined {
  const own = probes.filter((p) => p.codec === rendition.codec && p.size === rendition.size);
  if (own.length === 0) return undefined;
  const fit = (quality: (p: ProbeResult) => number | null) => fitCurve(own.map((p) => ({ crf: p.crf, kbps: p.kbps, quality: quality(p) ?? NaN })));
  const vmaf = own.every((p) => p.vmaf !== null) ? fit((p) => p.vmaf) : undefined;
  const ssim = own.every((p) => p.ssim !== undefined) ? fit((p) => p.ssim!) : undefined;
  return { rendition, psnr: fit((p) => p.psnr), ...(ssim ? { ssim } : {}), display: fit((p) => p.displayPsnr), ...(vmaf ? { vmaf } : {}) };
}

/** The CRF range each encoder takes: x264/x265 0–51, SVT-AV1 and libaom 0–63. */
export const CRF_MAX: Record<VideoCodec, number> = { h264: 51, hevc: 51, av1: 63 };

/** CRF steps the encoders take: x264/x265 accept tenths, SVT-AV1 and libaom whole numbers. Rounded towards quality. */
function roundCrf(codec: VideoCodec, crf: number): number {
  const within = Math.min(CRF_MAX[codec], Math.max(0, crf));
  return codec === 'av1' ? Math.floor(within) : Math.floor(within * 10) / 10;
}

function predict(c: Candidate, kbps: number): PredictedQuality {
  const r = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;
  return {
    kbps: Math.round(kbps),
    psnr: r(qualityAt(c.psnr, kbps), 2),
    ...(c.ssim ? { ssim: r(qualityAt(c.ssim, kbps), 4) } : {}),
    displayPsnr: r(qualityAt(c.display, kbps), 2),
    vmaf: c.vmaf ? r(qualityAt(c.vmaf, kbps), 2) : null,
  };
}

/** The rung at its rate under a cap: capped CRF when the content needs less, else VBR at the cap. */
function rungAt(c: Candidate, needed: number | undefined, capKbps: number, ceiling: number | undefined): ChosenRung {
  const cap = Math.max(1, Math.round(capKbps));
  const maxrate = Math.min(Math.round(cap * 1.1), ceiling ?? Infinity);
  if (needed === undefined || needed >= cap) {
    return {
      rendition: { ...c.rendition, bitrateKbps: cap, maxrateKbps: maxrate, bufsizeKbps: cap * 2 },
      mode: 'cap',
      capKbps: cap,
      predicted: predict(c, cap),
    };
  }
  const crf = roundCrf(c.rendition.codec, crfAt(c.psnr, needed));
  return {
    rendition: { ...c.rendition, bitrateKbps: Math.round(needed), maxrateKbps: maxrate, bufsizeKbps: cap * 2, crf },
    mode: 'crf',
    capKbps: cap,
    predicted: predict(c, needed),
  };
}

/**
 * Chooses the ladder of each codec from its probes:
 * 1. per size, the lowest rate whose predicted quality reaches target + margin (the top rung on
 *    the target's metric; with VMAF, the rungs below aim at the top rung's own-size PSNR, so each
 *    rung has no more coding loss than the top), capped at the candidate's table rate and the ceiling;
 * 2. from the top down, a rung whose rate is not at least minSpacing below the last kept rung is
 *    dropped (it costs about as much and shows less); the smallest, the ladder's floor, stays when
 *    the middle rung just above it can give way instead, or (right under the top) capped at top / minSpacing;
 * 3. a kept rung whose display-size quality is less than visibleGainDb above the next kept rung
 *    below is dropped: it spends minSpacing× the bits on detail a viewer cannot see (an upscaled source);
 * so rates rise strictly with resolution.
 */
export function chooseLadder(candidates: Rendition[], probes: ProbeResult[], options: ChoiceOptions): LadderChoice {
  const result: LadderChoice = { rungs: [], dropped: [], gaps: [] };
  const codecs = [...new Set(candidates.map((r) => r.codec))];
  for (const codec of codecs) {
    const ordered = candidates.filter((r) => r.codec === codec).sort((a, b) => b.size - a.size || b.bitrateKbps - a.bitrateKbps);
    const measured = ordered.map((r) => curves(r, probes)).filter((c): c is Candidate => c !== undefined);
    if (measured.length === 0) continue;
    const top = measured[0]!;
    const aim = options.target + options.margin;
    const capOf = (c: Candidate) => Math.min(c.rendition.bitrateKbps, options.maxBitrateKbps ?? Infinity);
    const topNeeded = options.metric === 'vmaf' && top.vmaf ? rateFor(top.vmaf, aim) : rateFor(top.psnr, aim);
    // With VMAF, the top rung's own-size PSNR at its chosen rate is what the lower rungs aim at.
    const psnrAim = options.metric === 'vmaf' && top.vmaf ? qualityAt(top.psnr, Math.min(topNeeded ?? Infinity, capOf(top))) : aim;
    const wanted = measured.map((c, i) => rungAt(c, i === 0 ? topNeeded : rateFor(c.psnr, psnrAim), capOf(c), options.maxBitrateKbps));

    // 2. Spacing, from the top down.
    const kept: ChosenRung[] = [wanted[0]!];
    for (let i = 1; i < wanted.length; i++) {
      const rung = wanted[i]!;
      const above = kept[kept.length - 1]!;
      const limit = above.rendition.bitrateKbps / options.minSpacing;
      const why = rung.rendition.bitrateKbps >= above.rendition.bitrateKbps
        ? `needs no fewer bits than ${above.rendition.id} (${rung.rendition.bitrateKbps} vs ${above.rendition.bitrateKbps} kb/s)`
        : `within ${options.minSpacing}x of ${above.rendition.id}'s rate (${rung.rendition.bitrateKbps} vs ${above.rendition.bitrateKbps} kb/s)`;
      const drop = (r: ChosenRung, reason: string) => result.dropped.push({ id: r.rendition.id, codec, size: r.rendition.size, kbps: r.rendition.bitrateKbps, reason });
      if (rung.rendition.bitrateKbps <= limit) {
        kept.push(rung);
      } else if (i === wanted.length - 1) {
        // The smallest size is the ladder's floor (slow networks): it stays, and a middle rung too
        // close above it gives way; right under the top, it is kept capped at top / minSpacing.
        if (kept.length > 1 && rung.rendition.bitrateKbps * options.minSpacing <= kept[kept.length - 2]!.rendition.bitrateKbps) {
          drop(kept.pop()!, `within ${options.minSpacing}x of the floor ${rung.rendition.id} (${above.rendition.bitrateKbps} vs ${rung.rendition.bitrateKbps} kb/s)`);
          kept.push(rung);
        } else if (kept.length === 1) {
          kept.push(rungAt(measured[i]!, rateFor(measured[i]!.psnr, psnrAim), Math.min(capOf(measured[i]!), limit), options.maxBitrateKbps));
        } else {
          drop(rung, why);
        }
      } else {
        drop(rung, why);
      }
    }

    // 3. Visible gain at the display size, from the bottom up (a dropped rung's place is taken by the one above).
    for (let i = kept.length - 2; i >= 0; i--) {
      const upper = kept[i]!;
      const lower = kept[i + 1]!;
      // Rungs chosen from curves always carry a prediction (rungAt).
      const gain = upper.predicted!.displayPsnr - lower.predicted!.displayPsnr;
      // Two variants at least (Apple's authoring spec asks for two; a player needs a choice).
      if (gain < options.visibleGainDb && kept.length > 2) {
        result.dropped.push({
          id: upper.rendition.id, codec, size: upper.rendition.size, kbps: upper.rendition.bitrateKbps,
          reason: `shows ${gain.toFixed(2)} dB more than ${lower.rendition.id} at the display size (under ${options.visibleGainDb} dB) for ${(upper.rendition.bitrateKbps / lower.rendition.bitrateKbps).toFixed(1)}x the bits`,
        });
        kept.splice(i, 1);
      }
    }

    for (let i = 1; i < kept.length; i++) {
      const ratio = kept[i - 1]!.rendition.bitrateKbps / kept[i]!.rendition.bitrateKbps;
      if (ratio > options.maxSpacing) result.gaps.push({ upper: kept[i - 1]!.rendition.id, lower: kept[i]!.rendition.id, ratio: Math.round(ratio * 100) / 100 });
    }
    result.rungs.push(...kept);
  }
  return result;
}

/**
 * The ladder of a codec whose analysis stopped early (the content needs the table's rates): every
 * candidate VBR at its table rate under the ceiling, as the fixed ladder, with a prediction where
 * its size was probed. The rise check still drops a rung that does not rise.
 */
export function tableLadder(candidates: Rendition[], probes: ProbeResult[], maxBitrateKbps?: number): ChosenRung[] {
  return candidates.map((rendition) => {
    const cap = Math.min(rendition.bitrateKbps, maxBitrateKbps ?? Infinity);
    const measured = curves(rendition, probes);
    if (measured) return rungAt(measured, undefined, cap, maxBitrateKbps);
    const rate = Math.max(1, Math.round(cap));
    return {
      rendition: { ...rendition, bitrateKbps: rate, maxrateKbps: Math.min(Math.round(rate * 1.1), maxBitrateKbps ?? Infinity), bufsizeKbps: rate * 2 },
      mode: 'cap' as const,
      capKbps: rate,
    };
  });
}
