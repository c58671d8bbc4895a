/**
 * A quality target is a promise: after the encodes, each constant-quality rung of a per-title
 * ladder is measured against the source (the metric the ladder was chosen on, as `--metrics`
 * measures it) and a rung under the target is encoded again at a lower CRF, at most
 * MAX_CORRECTIONS times. The prediction misses by a few tenths when the final preset, the chunk
 * joins or content outside the samples differ from the probes (a clean 1080p source chosen for
 * 40 dB measured 39.9). A rung that still misses (its cap holds it back) is reported as missed,
 * never as met. Rungs at the cap (VBR) make no promise: the table's rate is their limit.
 */
import type { Rendition } from '../core/ladder.js';
import type { VideoPlan } from '../core/plan.js';
import type { StageContext } from '../core/stage.js';
import { assembleRendition } from '../core/stages/assemble.js';
import { encodeChunk, type EncodedChunk } from '../core/stages/encode-video.js';
import { detectCapabilities } from '../ffmpeg/capabilities.js';
import { measureTargetQuality } from '../metrics/quality.js';
import { forEachLimit } from '../storage/package-files.js';
import type { QualityMetric } from '../settings/quality-target.js';
import type { ProbeResult } from './choose.js';
import { CRF_MAX } from './choose.js';

/** Re-encodes of one rung at most: each costs the rung's whole encode again. */
export const MAX_CORRECTIONS = 2;
/** Aimed above the target by a correction, as the choice aims (DEFAULT_CHOICE.margin). */
const CORRECTION_MARGIN = 0.5;
/** Quality per CRF step when the probes do not say (x264 around CRF 25: about 0.5 dB). */
const DEFAULT_QUALITY_PER_CRF = 0.5;
/** The smallest and largest CRF step of one correction. */
const MIN_STEP = 1;
const MAX_STEP = 8;

export interface RungQualityCheck {
  id: string;
  metric: QualityMetric;
  target: number;
  /** The packaged encode's quality. */
  measured: number;
  /** The CRF it was encoded at (the chosen one, or the last correction's). */
  crf: number;
  /** The CRF the analysis chose. */
  chosenCrf: number;
  corrections: number;
  met: boolean;
  /** The file to package (a correction's assembled file, or the encode's). */
  path: string;
}

/**
 * The CRF of the next encode of a rung that measured `measured` against `target`, or undefined
 * when it met the target, has had its corrections, or is at CRF 0. The step is the shortfall
 * plus the margin, over the quality one CRF step buys at this size (the slope between its probes).
 */
export function correctedCrf(input: { codec: Rendition['codec']; crf: number; measured: number; target: number; qualityPerCrf?: number; corrections: number }): number | undefined {
  if (input.measured >= input.target || input.corrections >= MAX_CORRECTIONS || input.crf <= 0) return undefined;
  const slope = input.qualityPerCrf !== undefined && input.qualityPerCrf > 0.05 ? input.qualityPerCrf : DEFAULT_QUALITY_PER_CRF;
  const step = Math.min(MAX_STEP, Math.max(MIN_STEP, (input.target + CORRECTION_MARGIN - input.measured) / slope));
  const crf = Math.max(0, Math.min(CRF_MAX[input.codec], input.crf - step));
  // A hair of slack: 26 - 0.6 / 0.6 is 24.999… in floating point.
  return input.codec === 'av1' ? Math.floor(crf + 1e-9) : Math.floor(crf * 10 + 1e-9) / 10;
}

/** Quality per CRF step of one size from its probes (best minus worst over their CRF distance). */
export function qualityPerCrf(probes: readonly ProbeResult[], rendition: Rendition, metric: QualityMetric): number | undefined {
  const own = probes.filter((p) => p.codec === rendition.codec && p.size === rendition.size).sort((a, b) => a.crf - b.crf);
  const quality = (p: ProbeResult) => (metric === 'vmaf' && p.vmaf !== null ? p.vmaf : p.psnr);
  if (own.length < 2 || own.at(-1)!.crf === own[0]!.crf) return undefined;
  return (quality(own[0]!) - quality(own.at(-1)!)) / (own.at(-1)!.crf - own[0]!.crf);
}

export interface QualityCheckInput {
  source: string;
  video: VideoPlan;
  /** Every video rendition, with its assembled file (the constant-quality ones are checked). */
  renditions: { rendition: Rendition; path: string }[];
  metric: QualityMetric;
  target: number;
  probes: readonly ProbeResult[];
}

/** The check-quality node's result: each constant-quality rung as it is to be packaged. */
export interface QualityCheck {
  rungs: RungQualityCheck[];
  /**
   * Every video rendition's file from here on, by id: a correction's, else the assembled one. In
   * the result so that on a queue the rise check's task after this one receives them (a task
   * hands on the work files its results name; the assembles' task is not its child).
   */
  files: Record<string, string>;
}

/** The part of the node's progress the first measure takes; the corrections share the rest. */
const FIRST_MEASURE_SHARE = 0.4;

/**
 * Measures the constant-quality rungs and corrects the misses (see the file's comment). Each
 * round costs one measureQuality call over every rung it measures (the first: all of them; then
 * only the re-encoded ones) and, for the misses, one encode per chunk that makes all their
 * corrected renditions from one decode, the chunks run as the encode nodes run them: as many at
 * once as the job's slots, their encoders sharing the cores.
 */
export async function checkQualityStage(input: QualityCheckInput, ctx: StageContext): Promise<QualityCheck> {
  const { video } = input;
  const vmafAvailable = input.metric === 'vmaf' && (await detectCapabilities(ctx.ffmpeg.binaries)).filters.has('libvmaf');
  const durationSeconds = (video.totalFrames * video.frameRate.den) / video.frameRate.num;
  /** ctx with its progress mapped onto [from, to] of the node's. */
  const within = (from: number, to: number): StageContext => {
    const onProgress = (fraction: number, etaSeconds?: number) => ctx.onProgress(from + (to - from) * Math.min(1, fraction), etaSeconds);
    return { ...ctx, ffmpeg: ctx.ffmpeg.forTask(ctx.signal, onProgress), onProgress };
  };
  /** Each file's quality on the target's metric, from one measureQuality call. */
  const measure = async (files: readonly { rendition: Rendition; path: string }[], stage: StageContext): Promise<Map<string, number>> => {
    const measured = await measureTargetQuality(
      {
        source: input.source,
        sourceStreamIndex: video.streamIndex,
        durationSeconds,
        deinterlace: video.deinterlace,
        vmafAvailable,
        renditions: files.map(({ rendition, path }) => ({ name: rendition.id, playlist: path, width: rendition.width, height: rendition.height, frameRate: video.frameRate })),
      },
      stage,
    );
    return new Map(files.map(({ rendition }) => [rendition.id, measured[rendition.id]!]));
  };

  const rungs = input.renditions.filter(({ rendition }) => rendition.crf !== undefined);
  const first = await measure(rungs, within(0, FIRST_MEASURE_SHARE));
  let checks: RungQualityCheck[] = rungs.map(({ rendition, path }) => ({
    id: rendition.id, metric: input.metric, target: input.target, measured: first.get(rendition.id)!, crf: rendition.crf!, chosenCrf: rendition.crf!, corrections: 0, met: false, path,
  }));
  for (let round = 0; round < MAX_CORRECTIONS; round++) {
    const misses = checks.flatMap((check) => {
      const rendition = rungs.find((r) => r.rendition.id === check.id)!.rendition;
      const slope = qualityPerCrf(input.probes, rendition, input.metric);
      const crf = correctedCrf({ codec: rendition.codec, crf: check.crf, measured: check.measured, target: input.target, corrections: check.corrections, ...(slope !== undefined ? { qualityPerCrf: slope } : {}) });
      // Its own files (chunks and assembled file under another id): the encode's stay as they were for resume.
      return crf === undefined ? [] : [{ id: check.id, corrected: { ...rendition, id: `${rendition.id}.crf${crf}`, crf } satisfies Rendition }];
    });
    if (misses.length === 0) break;
    const share = (1 - FIRST_MEASURE_SHARE) / MAX_CORRECTIONS;
    const from = FIRST_MEASURE_SHARE + round * share;
    const files = await reencode(input, misses.map((m) => m.corrected), within(from, from + share / 2));
    const measured = await measure(misses.map((m) => ({ rendition: m.corrected, path: files.get(m.corrected.id)! })), within(from + share / 2, from + share));
    checks = checks.map((check) => {
      const miss = misses.find((m) => m.id === check.id);
      return miss ? { ...check, crf: miss.corrected.crf, corrections: check.corrections + 1, path: files.get(miss.corrected.id)!, measured: measured.get(miss.corrected.id)! } : check;
    });
  }
  ctx.onProgress(1);
  return {
    rungs: checks.map((check) => ({ ...check, met: check.measured >= input.target })),
    files: Object.fromEntries(input.renditions.map(({ rendition, path }) => [rendition.id, checks.find((c) => c.id === rendition.id)?.path ?? path])),
  };
}

/**
 * Encodes the corrected renditions (each chunk makes all of them from one decode) and assembles
 * each; returns the assembled files by rendition id.
 */
async function reencode(input: QualityCheckInput, renditions: Rendition[], ctx: StageContext): Promise<Map<string, string>> {
  const video = { ...input.video, renditions };
  const chunks: EncodedChunk[] = new Array(video.chunks.length);
  let unfinished = video.chunks.length;
  // Silent ffmpeg runs (several at once would report over one another): progress is per chunk.
  const ffmpeg = ctx.ffmpeg.forTask(ctx.signal).forOwnChunkEncodes(() => unfinished);
  await forEachLimit(video.chunks, ctx.ffmpeg.encodeSlots, async (chunk) => {
    chunks[chunk.index] = await encodeChunk({ source: input.source, video, chunk }, { ...ctx, ffmpeg });
    unfinished--;
    ctx.onProgress(1 - unfinished / video.chunks.length);
  });
  const files = new Map<string, string>();
  for (const rendition of renditions) {
    const assembled = await assembleRendition({ renditionId: rendition.id, chunks: chunks.map((c) => ({ path: c.files[rendition.id]!, frames: c.frames })), video }, ctx);
    files.set(rendition.id, assembled.path);
  }
  return files;
}
