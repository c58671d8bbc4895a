/**
 * A rate–quality curve of one (codec, size) from a few constant-quality probe encodes: quality
 * is linear in log rate between measured points (how PSNR and VMAF behave over a CRF range),
 * CRF likewise. Beyond the points, the end segment's slope is used over a bounded stretch.
 */
export interface CurvePoint {
  crf: number;
  kbps: number;
  /** The quality the target is stated in (PSNR dB at the rung's size, or VMAF). */
  quality: number;
}

/** How far a curve is followed past its last point, in natural-log rate (ln 2: half/double the rate). */
const EXTRAPOLATE_LN = Math.log(2);

export interface RateQualityCurve {
  points: CurvePoint[];
}

/**
 * Points sorted by rate, with quality made non-decreasing in rate (a probe at a higher rate that
 * measured lower is noise: the curve keeps the best quality reached at or below each rate).
 */
export function fitCurve(points: CurvePoint[]): RateQualityCurve {
  const sorted = points.filter((p) => p.kbps > 0 && Number.isFinite(p.quality)).sort((a, b) => a.kbps - b.kbps);
  let best = -Infinity;
  return { points: sorted.map((p) => ({ ...p, quality: (best = Math.max(best, p.quality)) })) };
}

function lerp(x0: number, y0: number, x1: number, y1: number, x: number): number {
  return x1 === x0 ? Math.max(y0, y1) : y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
}

/** The two points whose segment covers ln(rate) x (the end segments beyond the ends). */
function segment(curve: RateQualityCurve, x: number): [CurvePoint, CurvePoint] {
  const p = curve.points;
  if (p.length === 1) return [p[0]!, p[0]!];
  for (let i = 1; i < p.length; i++) if (x <= Math.log(p[i]!.kbps)) return [p[i - 1]!, p[i]!];
  return [p[p.length - 2]!, p[p.length - 1]!];
}

/** Predicted quality at a rate. */
export function qualityAt(curve: RateQualityCurve, kbps: number): number {
  const p = curve.points;
  const low = Math.log(p[0]!.kbps) - EXTRAPOLATE_LN;
  const high = Math.log(p[p.length - 1]!.kbps) + EXTRAPOLATE_LN;
  const x = Math.min(high, Math.max(low, Math.log(kbps)));
  const [a, b] = segment(curve, x);
  return lerp(Math.log(a.kbps), a.quality, Math.log(b.kbps), b.quality, x);
}

/** Predicted CRF that gives this rate (CRF is about linear in log rate). */
export function crfAt(curve: RateQualityCurve, kbps: number): number {
  const [a, b] = segment(curve, Math.log(kbps));
  return lerp(Math.log(a.kbps), a.crf, Math.log(b.kbps), b.crf, Math.log(kbps));
}

/**
 * The lowest rate whose predicted quality reaches `quality`, or undefined when the curve does
 * not reach it within the stretch it may be followed (the content needs more than was probed).
 */
export function rateFor(curve: RateQualityCurve, quality: number): number | undefined {
  const p = curve.points;
  const first = p[0]!;
  const last = p[p.length - 1]!;
  if (quality <= first.quality) {
    // Easier than the cheapest probe: follow the first segment down, at most EXTRAPOLATE_LN.
    if (p.length === 1 || p[1]!.quality <= first.quality) return first.kbps;
    const x = lerp(first.quality, Math.log(first.kbps), p[1]!.quality, Math.log(p[1]!.kbps), quality);
    return Math.exp(Math.max(x, Math.log(first.kbps) - EXTRAPOLATE_LN));
  }
  for (let i = 1; i < p.length; i++) {
    const a = p[i - 1]!;
    const b = p[i]!;
    if (quality <= b.quality && b.quality > a.quality) return Math.exp(lerp(a.quality, Math.log(a.kbps), b.quality, Math.log(b.kbps), quality));
  }
  // Harder than the best probe: follow the last rising segment up, at most EXTRAPOLATE_LN.
  const a = p[p.length - 2];
  if (!a || last.quality <= a.quality) return undefined;
  const x = lerp(a.quality, Math.log(a.kbps), last.quality, Math.log(last.kbps), quality);
  return x <= Math.log(last.kbps) + EXTRAPOLATE_LN ? Math.exp(x) : undefined;
}
