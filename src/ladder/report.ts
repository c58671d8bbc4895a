/**
 * The ladder's story for the result, the database and the reports (LadderReport of
 * src/core/result.ts): every rung with how its rate was chosen, what the analysis predicted, what
 * the encoded rung measured, and why a rung was not packaged.
 */
import type { Rendition } from '../core/ladder.js';
import type { LadderReport, LadderRung, QualityMetrics, RungQuality } from '../core/result.js';
import type { TitleAnalysis } from './analyse.js';
import type { QualityCheck, RungQualityCheck } from './quality-check.js';
import type { RiseCheck } from './rise.js';

const round1 = (value: number) => Math.round(value * 10) / 10;
const round3 = (value: number) => Math.round(value * 1000) / 1000;

function quality(q: { psnr: number; ssim?: number; vmaf: number | null }): RungQuality {
  return { psnr: round3(q.psnr), ...(q.ssim === undefined ? {} : { ssim: round3(q.ssim * 100) / 100 }), ...(q.vmaf === null ? {} : { vmaf: round3(q.vmaf) }) };
}

export interface LadderReportInput {
  /** The renditions encoded (the analysis's choice with --ladder auto). */
  renditions: Rendition[];
  analysis?: TitleAnalysis;
  rise?: RiseCheck;
  /** --ladder auto: the constant-quality rungs against the target, corrected or missed (check-quality). */
  quality?: QualityCheck;
  /** --metrics: each packaged rendition's quality against the source. */
  metrics?: Record<string, QualityMetrics>;
}

/** What the quality check did to a constant-quality rung: corrected, or the target missed (never reported as met). */
export function qualityNote(check: RungQualityCheck): string {
  const unit = check.metric === 'psnr' ? ' dB' : '';
  const measured = `${check.metric.toUpperCase()} ${check.measured.toFixed(2)}${unit}`;
  const chunks = check.correctedChunks ? ` of ${check.correctedChunks.count} of its ${check.correctedChunks.of} chunks` : '';
  const corrections = check.corrections === 0 ? '' : ` after ${check.corrections} re-encode${check.corrections > 1 ? 's' : ''}${chunks} (CRF ${check.chosenCrf} → ${check.crf})`;
  return check.met
    ? `target ${check.target}${unit} met${corrections}: ${measured}`
    : `target ${check.target}${unit} missed: ${measured}${corrections}`;
}

export function ladderReport(input: LadderReportInput): LadderReport {
  const { analysis, rise, quality: checks, metrics } = input;
  const chosen = new Map((analysis?.choice.rungs ?? []).map((rung) => [rung.rendition.id, rung]));
  // Codecs whose analysis stopped early: their rungs say why they have the table's rates.
  const tableRates = analysis?.choice.tableRates;
  const encoded: LadderRung[] = input.renditions.map((rendition) => {
    const rung = chosen.get(rendition.id);
    const measured = rise?.measured.find((m) => m.id === rendition.id);
    const dropped = rise?.dropped.find((d) => d.id === rendition.id);
    const measuredQuality = metrics?.[rendition.id];
    const checked = checks?.rungs.find((q) => q.id === rendition.id);
    return {
      name: rendition.id,
      codec: rendition.codec,
      size: rendition.size,
      status: dropped ? 'dropped' : 'packaged',
      mode: rung ? rung.mode : 'vbr',
      ...(rendition.crf === undefined ? {} : { crf: checked?.crf ?? rendition.crf }),
      targetKbps: rendition.bitrateKbps,
      ...(rung?.predicted ? { predicted: { kbps: round1(rung.predicted.kbps), ...quality(rung.predicted) } } : {}),
      ...(measured
        ? { measured: { peakKbps: round1(measured.peakKbps), averageKbps: round1(measured.averageKbps), ...(measuredQuality ? { quality: quality(measuredQuality) } : {}) } }
        : {}),
      ...(dropped
        ? { reason: dropped.reason }
        : checked && (checked.corrections > 0 || !checked.met)
          ? { reason: qualityNote(checked) }
          : tableRates?.[rendition.codec]
            ? { reason: `at the table's rate: ${tableRates[rendition.codec]}` }
            : {}),
    };
  });
  if (!analysis) return { method: 'fixed', rungs: encoded };
  const left: LadderRung[] = analysis.choice.dropped.map((d) => ({
    name: d.id,
    codec: d.codec,
    size: d.size,
    status: 'dropped',
    mode: 'crf',
    targetKbps: round1(d.kbps),
    reason: d.reason,
  }));
  return {
    method: 'auto',
    metric: analysis.metric,
    target: analysis.target,
    analysisSeconds: round1(analysis.seconds),
    sampledFraction: analysis.sampledFraction,
    rungs: [...encoded, ...left].sort((a, b) => a.codec.localeCompare(b.codec) || b.size - a.size || b.targetKbps - a.targetKbps),
    probes: analysis.probes.filter((p) => !p.modelled).map((p) => ({ codec: p.codec, size: p.size, crf: p.crf, kbps: p.kbps, psnr: p.psnr, ...(p.ssim === undefined ? {} : { ssim: p.ssim }), ...(p.vmaf === null ? {} : { vmaf: p.vmaf }) })),
  };
}
