/**
 * What the per-title analysis probes next (src/ladder/analyse.ts runs it in rounds): the top size
 * first, at both CRFs; then the early exit when the content is so complex that the table's rates
 * are what it needs; otherwise each smaller size once, at the CRF where the top's curve meets the
 * aim, and a second time only when that point is too far from the aim for its curve to be
 * modelled (the curve-fit stopping rule). A size probed once gets its curve's second point modelled from the
 * top's slopes: near the aim, where the choice reads the curve, the slope barely matters.
 */
import type { VideoCodec } from '../settings/job-settings.js';
import type { QualityMetric } from '../settings/quality-target.js';
import { CRF_MAX, type ProbeResult } from './choose.js';
import { crfAt, fitCurve, qualityAt, rateFor, type RateQualityCurve } from './curve.js';
import { mseOfPsnr, psnrOfMse } from '../metrics/quality.js';

/**
 * How far under the aim the top size may stay at the table's rate before the analysis stops:
 * 3 dB PSNR (10 VMAF points) is beyond what the lower rungs' savings are worth probing for. On
 * the bench's grain the top rung measured 33 dB at the table's 6000 kb/s against a 40.5 dB aim;
 * the full analysis saved 8.5 % of the bytes (in the small rungs) for 1.7× the job's time.
 */
export const COMPLEX_SHORTFALL: Record<QualityMetric, number> = { psnr: 3, vmaf: 10 };

/**
 * A size's single probe counts as fitted at least when its quality is this close to the aim
 * (PSNR dB, VMAF points), and further when its modelled point lies across the aim (curveFitted).
 * A wrong slope then moves the rate read off the curve by a fraction of the distance; the quality
 * check after the encodes catches a rung that misses the target.
 */
export const FIT_TOLERANCE: Record<QualityMetric, number> = { psnr: 1, vmaf: 3 };

/** CRF steps between a fitted size's measured point and its modelled one (the probes' own spacing, halved). */
export const MODELLED_CRF_STEP = 5;

/** The quality a probe is judged on: the target's metric (VMAF when measured), else PSNR. */
export function targetQualityOf(probe: ProbeResult, metric: QualityMetric): number {
  return metric === 'vmaf' && probe.vmaf !== null ? probe.vmaf : probe.psnr;
}

/** The curve of one (codec, size) on the target's metric. */
export function curveOf(probes: readonly ProbeResult[], metric: QualityMetric): RateQualityCurve {
  return fitCurve(probes.map((p) => ({ crf: p.crf, kbps: p.kbps, quality: targetQualityOf(p, metric) })));
}

/**
 * The early exit: undefined when the analysis should go on, else why it stops. It stops when the
 * top size's curve, read at the table's rate (the cap), stays more than COMPLEX_SHORTFALL under
 * the aim (with one probe: when that probe is at or above the cap and that far under): the top rung is VBR at the cap whatever the other probes say, and content that far
 * from the target at 6 Mb/s in 1080p (grain) leaves the smaller rungs little to save.
 */
export function tableRatesNeeded(top: readonly ProbeResult[], capKbps: number, aim: number, metric: QualityMetric): string | undefined {
  if (top.length === 0) return undefined;
  const unit = metric === 'psnr' ? ' dB' : '';
  if (top.length === 1) {
    // One point (the top's lowest CRF, probed first) decides alone only when it is already at or
    // above the cap and still that far under: the curve rises with rate, so at the cap it is no better.
    const [probe] = top;
    const quality = targetQualityOf(probe!, metric);
    if (probe!.kbps < capKbps || quality >= aim - COMPLEX_SHORTFALL[metric]) return undefined;
    return `the top size reaches ${metric.toUpperCase()} ${quality.toFixed(1)}${unit} at ${Math.round(probe!.kbps)} kb/s (CRF ${probe!.crf}), above the table's ${Math.round(capKbps)} kb/s and ${(aim - quality).toFixed(1)}${unit} under the aim of ${aim}${unit}: the table's rates, no further probes`;
  }
  const curve = curveOf(top, metric);
  const atCap = qualityAt(curve, capKbps);
  if (atCap >= aim - COMPLEX_SHORTFALL[metric]) return undefined;
  return `the top size reaches ${metric.toUpperCase()} ${atCap.toFixed(1)}${unit} at the table's ${Math.round(capKbps)} kb/s, ${(aim - atCap).toFixed(1)}${unit} under the aim of ${aim}${unit}: the table's rates, no further probes`;
}

/** Change of a probe's quality and ln(rate) per CRF step, from the top size's two probes (or more). */
export interface CurveSlopes {
  lnKbpsPerCrf: number;
  psnrPerCrf: number;
  ssimPerCrf: number | null;
  vmafPerCrf: number | null;
}

/** The slopes between the top size's lowest- and highest-CRF probes; undefined with fewer than two CRFs. */
export function slopesOf(top: readonly ProbeResult[]): CurveSlopes | undefined {
  const sorted = [...top].sort((a, b) => a.crf - b.crf);
  const low = sorted[0];
  const high = sorted.at(-1);
  if (!low || !high || high.crf === low.crf || low.kbps <= 0 || high.kbps <= 0) return undefined;
  const span = high.crf - low.crf;
  return {
    lnKbpsPerCrf: (Math.log(high.kbps) - Math.log(low.kbps)) / span,
    psnrPerCrf: (high.psnr - low.psnr) / span,
    ssimPerCrf: low.ssim !== undefined && high.ssim !== undefined ? (high.ssim - low.ssim) / span : null,
    vmafPerCrf: low.vmaf !== null && high.vmaf !== null ? (high.vmaf - low.vmaf) / span : null,
  };
}

/**
 * The top size's second CRF, after its first (the codec's lowest probe CRF): where the first
 * probe's quality, falling at the codec's usual rate per CRF step, meets the aim, so that the two
 * points the choice interpolates between lie near the aim. The fixed second CRF (10 steps on)
 * put testsrc2's aim mid-way between the points, where the curve's bend made the chosen CRF
 * measure 0.6 dB under the prediction: a re-encode of the top rung. Kept between 0.4 and 1.6 of
 * the codec's probe spacing from the first.
 */
export function topSecondCrf(first: ProbeResult, aim: number, metric: QualityMetric, probeCrfs: readonly number[]): number {
  const span = Math.max(...probeCrfs) - Math.min(...probeCrfs);
  // x264's ~0.5 dB (VMAF ~1.5 points) per step over its 10-step spacing; a wider scale (SVT-AV1's 14) in proportion.
  const perCrf = ((metric === 'vmaf' ? 1.5 : 0.5) * 10) / span;
  const move = Math.min(1.6 * span, Math.max(0.4 * span, (targetQualityOf(first, metric) - aim) / perCrf));
  const crf = Math.min(CRF_MAX[first.codec], first.crf + move);
  return first.codec === 'av1' ? Math.round(crf) : Math.round(crf * 10) / 10;
}

/**
 * The CRF a smaller size is probed at first: where the top size's curve meets the aim (smaller
 * sizes meet a PSNR aim at about the same CRF), kept within the probes' range widened by half a
 * step each way, in tenths (x264 and x265 take them; SVT-AV1 whole numbers).
 */
export function firstCrf(top: readonly ProbeResult[], aim: number, metric: QualityMetric, codec: VideoCodec, probeCrfs: readonly number[]): number {
  const curve = curveOf(top, metric);
  const last = curve.points.at(-1)!;
  const kbps = rateFor(curve, aim) ?? last.kbps;
  const low = Math.min(...probeCrfs) - MODELLED_CRF_STEP;
  const high = Math.max(...probeCrfs) + MODELLED_CRF_STEP;
  const crf = Math.min(high, Math.max(low, crfAt(curve, kbps)));
  return codec === 'av1' ? Math.round(crf) : Math.round(crf * 10) / 10;
}

/**
 * The stopping rule: a size's single probe is enough when the aim lies between it and its
 * modelled point (MODELLED_CRF_STEP steps along the top's slope), so that the choice
 * interpolates rather than extrapolates, or within FIT_TOLERANCE of it. On the bench's slides
 * the smaller sizes measured 1–3 dB under the aim at the top's CRF: a second probe each cost
 * more than the rounds saved.
 */
export function curveFitted(probe: ProbeResult, aim: number, metric: QualityMetric, slopes?: CurveSlopes): boolean {
  const perCrf = metric === 'vmaf' ? slopes?.vmafPerCrf : slopes?.psnrPerCrf;
  const reach = perCrf ? Math.abs(perCrf) * MODELLED_CRF_STEP : 0;
  return Math.abs(targetQualityOf(probe, metric) - aim) <= Math.max(FIT_TOLERANCE[metric], reach);
}

/**
 * The CRF of a size's second probe when its first missed the aim: moved by the shortfall over
 * the top's quality per CRF step, so that the two points bracket the aim; at least 2 steps away
 * from the first, within the encoder's range.
 */
export function secondCrf(first: ProbeResult, aim: number, metric: QualityMetric, slopes: CurveSlopes | undefined): number {
  const perCrf = metric === 'vmaf' && slopes?.vmafPerCrf ? slopes.vmafPerCrf : slopes?.psnrPerCrf;
  // Quality falls as CRF rises; without a usable slope, x264's ~0.5 dB per step.
  const step = perCrf !== undefined && perCrf < 0 ? -perCrf : metric === 'vmaf' ? 1.5 : 0.5;
  const miss = targetQualityOf(first, metric) - aim;
  let move = miss / step;
  if (Math.abs(move) < 2) move = Math.sign(miss || 1) * 2;
  const crf = Math.min(CRF_MAX[first.codec], Math.max(0, first.crf + move * 1.2));
  return first.codec === 'av1' ? Math.round(crf) : Math.round(crf * 10) / 10;
}

/**
 * The second point of a size probed once: MODELLED_CRF_STEP CRF steps away from it, on the side
 * away from the aim's, moved along the top size's slopes. Its display-size quality keeps the
 * measured point's resolution loss (the error energies add, as the measures model it).
 */
export function modelledPoint(measured: ProbeResult, slopes: CurveSlopes, aim: number, metric: QualityMetric): ProbeResult {
  const direction = targetQualityOf(measured, metric) >= aim ? 1 : -1;
  const crf = Math.min(CRF_MAX[measured.codec], Math.max(0, measured.crf + direction * MODELLED_CRF_STEP));
  const steps = crf - measured.crf;
  const psnr = measured.psnr + slopes.psnrPerCrf * steps;
  const resolutionMse = Math.max(0, mseOfPsnr(measured.displayPsnr) - mseOfPsnr(measured.psnr));
  const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;
  // The measured point's SSIM is its own CRF's: the modelled one has SSIM only where the slopes do.
  const { ssim, ...rest } = measured;
  return {
    ...rest,
    crf,
    kbps: round(measured.kbps * Math.exp(slopes.lnKbpsPerCrf * steps), 1),
    psnr: round(psnr, 3),
    ...(ssim !== undefined && slopes.ssimPerCrf !== null ? { ssim: round(Math.min(1, ssim + slopes.ssimPerCrf * steps), 5) } : {}),
    displayPsnr: round(psnrOfMse(mseOfPsnr(psnr) + resolutionMse), 3),
    vmaf: measured.vmaf !== null && slopes.vmafPerCrf !== null ? round(Math.min(100, measured.vmaf + slopes.vmafPerCrf * steps), 3) : null,
    modelled: true,
  };
}
