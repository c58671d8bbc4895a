/**
 * A quality target is a promise: after the encodes, each constant-quality rung of a per-title
 * ladder is measured against the source (the metric the ladder was chosen on, as `--metrics`
 * measures it) and a rung under the target is encoded again at a lower CRF, at most
 * MAX_CORRECTIONS times. The prediction misses by a few tenths when the final preset, the chunk
 * joins or content outside the samples differ from the probes (a clean 1080p source chosen for
 * 40 dB measured 39.9). A rung that still misses (its cap holds it back) is reported as missed,
 * never as met. Rungs at the cap (VBR) make no promise: the table's rate is their limit.
 *
 * When the rung's encoder reported each chunk's PSNR (x264, encoder-psnr.ts) and PSNR is the
 * metric, nothing is decoded to measure: the chunks' reports are pooled. A miss is then corrected
 * chunk by chunk: the chunks that hold most of the rung's error are encoded again, a few CRF
 * steps lower, until the pooled error is predicted to meet the aim — a near miss costs one or two
 * chunks rather than the whole rung.
 */
import type { Rendition } from '../core/ladder.js';
import type { VideoPlan } from '../core/plan.js';
import type { StageContext } from '../core/stage.js';
import { stat } from 'node:fs/promises';
import { assembleRendition } from '../core/stages/assemble.js';
import { chunkPath, encodeChunk, type EncodedChunk } from '../core/stages/encode-video.js';
import { hasFilter } from '../ffmpeg/capabilities.js';
import { measureTargetQuality, mseOfPsnr, pooledPsnr } from '../metrics/quality.js';
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
  /** Chunks re-encoded by the corrections, of the rung's chunks (absent: none, or every chunk). */
  correctedChunks?: { count: number; of: number };
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
  return loweredCrf(input.codec, input.crf, step);
}

/** A CRF `step` steps lower, within the encoder's range, in the steps it takes (tenths; whole numbers for AV1). */
export function loweredCrf(codec: Rendition['codec'], crf: number, step: number): number {
  const lowered = Math.max(0, Math.min(CRF_MAX[codec], crf - step));
  // A hair of slack: 26 - 0.6 / 0.6 is 24.999… in floating point.
  return codec === 'av1' ? Math.floor(lowered + 1e-9) : Math.floor(lowered * 10 + 1e-9) / 10;
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
  /**
   * Every video rendition, with its assembled file (the constant-quality ones are checked) and,
   * when its encoder reported them, each chunk's PSNR (AssembledRendition.chunkPsnr).
   */
  renditions: { rendition: Rendition; path: string; chunkPsnr?: { frames: number; psnr: number }[] }[];
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

/** One chunk of a rung as it stands: its file, its CRF and, when the encoder reported it, its PSNR. */
interface RungChunk {
  path: string;
  frames: number;
  crf: number;
  psnr?: number;
}

/** A rung through the check: its chunks (each possibly re-encoded) and where it stands. */
interface RungState {
  rendition: Rendition;
  chunks: RungChunk[];
  check: RungQualityCheck;
  corrected: Set<number>;
}

/**
 * Which chunks a correction encodes again, and how many CRF steps lower: the fewest frames that
 * bring the pooled error under the aim's, the chunks holding most of the error first, each
 * lowered by `step` or up to twice it (a chunk's error falls by 10^(-slope·step/10)). With the
 * chunks' PSNR unknown, or no subset enough: every chunk at `step`.
 */
export function chunksToCorrect(chunks: readonly { frames: number; psnr?: number }[], aim: number, step: number, qualityPerCrf: number): { indices: number[]; step: number } {
  const all = { indices: chunks.map((_c, i) => i).filter((i) => chunks[i]!.frames > 0), step };
  if (chunks.some((c) => c.frames > 0 && c.psnr === undefined)) return all;
  const frames = chunks.reduce((sum, c) => sum + c.frames, 0);
  const errors = chunks.map((c) => (c.frames > 0 ? mseOfPsnr(c.psnr!) * c.frames : 0));
  const allowed = mseOfPsnr(aim) * frames;
  const byError = errors.map((e, i) => i).filter((i) => chunks[i]!.frames > 0).sort((a, b) => errors[b]! - errors[a]!);
  let best: { indices: number[]; step: number; frames: number } | undefined;
  for (const candidate of [step, Math.min(MAX_STEP, step * 1.5), Math.min(MAX_STEP, step * 2)]) {
    const kept = 10 ** (-(qualityPerCrf * candidate) / 10);
    let total = errors.reduce((a, b) => a + b, 0);
    const indices: number[] = [];
    for (const i of byError) {
      if (total <= allowed) break;
      total -= errors[i]! * (1 - kept);
      indices.push(i);
    }
    if (total > allowed) continue;
    const cost = indices.reduce((sum, i) => sum + chunks[i]!.frames, 0);
    if (!best || cost < best.frames) best = { indices: indices.sort((a, b) => a - b), step: candidate, frames: cost };
  }
  return best ? { indices: best.indices, step: best.step } : all;
}

/**
 * Measures the constant-quality rungs and corrects the misses (see the file's comment). A rung
 * whose chunks' PSNR its encoder reported is pooled from them; the others are measured by one
 * measureQuality call over every such rung. Each correction round encodes, per chunk, every
 * missed rung's corrected rendition that chunk needs, from one decode, as many chunks at once as
 * the job's slots; then each corrected rung is assembled from its old and new chunks.
 */
export async function checkQualityStage(input: QualityCheckInput, ctx: StageContext): Promise<QualityCheck> {
  const { video } = input;
  const vmafAvailable = input.metric === 'vmaf' && (await hasFilter(ctx.ffmpeg.binaries, 'libvmaf'));
  const durationSeconds = (video.totalFrames * video.frameRate.den) / video.frameRate.num;
  /** ctx with its progress mapped onto [from, to] of the node's. */
  const within = (from: number, to: number): StageContext => {
    const onProgress = (fraction: number, etaSeconds?: number) => ctx.onProgress(from + (to - from) * Math.min(1, fraction), etaSeconds);
    return { ...ctx, ffmpeg: ctx.ffmpeg.forTask(ctx.signal, onProgress), onProgress };
  };
  /** Each rung's quality on the target's metric: pooled from its chunks' reports, else from one measureQuality call over the rest. */
  const measure = async (states: readonly RungState[], files: Map<string, string>, stage: StageContext): Promise<Map<string, number>> => {
    const reported = (state: RungState) => !vmafAvailable && state.chunks.every((c) => c.frames === 0 || c.psnr !== undefined);
    const result = new Map(states.filter(reported).map((state) => [state.rendition.id, Math.round(pooledPsnr(state.chunks.map((c) => ({ frames: c.frames, psnr: c.psnr ?? 100 }))) * 1000) / 1000]));
    const rest = states.filter((state) => !reported(state));
    if (rest.length > 0) {
      const measured = await measureTargetQuality(
        {
          source: input.source,
          sourceStreamIndex: video.streamIndex,
          durationSeconds,
          deinterlace: video.deinterlace,
          vmafAvailable,
          renditions: rest.map(({ rendition }) => ({ name: rendition.id, playlist: files.get(rendition.id)!, width: rendition.width, height: rendition.height, frameRate: video.frameRate })),
        },
        stage,
      );
      for (const { rendition } of rest) result.set(rendition.id, measured[rendition.id]!);
    }
    stage.onProgress(1);
    return result;
  };

  const rungs = input.renditions.filter(({ rendition }) => rendition.crf !== undefined);
  const files = new Map(input.renditions.map(({ rendition, path }) => [rendition.id, path]));
  let states: RungState[] = rungs.map(({ rendition, path, chunkPsnr }) => ({
    rendition,
    chunks: video.chunks.map((chunk, i) => ({
      path: chunkPath(ctx.workDir, rendition.id, chunk.index),
      frames: chunkPsnr?.[i]?.frames ?? chunk.endFrame - chunk.startFrame,
      crf: rendition.crf!,
      ...(chunkPsnr?.[i] ? { psnr: chunkPsnr[i].psnr } : {}),
    })),
    check: { id: rendition.id, metric: input.metric, target: input.target, measured: 0, crf: rendition.crf!, chosenCrf: rendition.crf!, corrections: 0, met: false, path },
    corrected: new Set<number>(),
  }));
  const first = await measure(states, files, within(0, FIRST_MEASURE_SHARE));
  states = states.map((state) => ({ ...state, check: { ...state.check, measured: first.get(state.rendition.id)! } }));

  for (let round = 0; round < MAX_CORRECTIONS; round++) {
    const plans = [];
    for (const state of states) {
      const { rendition, check } = state;
      const slope = qualityPerCrf(input.probes, rendition, input.metric);
      const crf = correctedCrf({ codec: rendition.codec, crf: check.crf, measured: check.measured, target: input.target, corrections: check.corrections, ...(slope !== undefined ? { qualityPerCrf: slope } : {}) });
      if (crf === undefined) continue;
      // Chunk by chunk only where every chunk's file is still here (a queue's task may hold only the assembled file).
      const present = (await Promise.all(state.chunks.map((c) => stat(c.path).then(() => true, () => c.frames === 0)))).every(Boolean);
      const partial = !vmafAvailable && present;
      const chosen = partial
        ? chunksToCorrect(state.chunks, input.target + CORRECTION_MARGIN, check.crf - crf, slope !== undefined && slope > 0.05 ? slope : DEFAULT_QUALITY_PER_CRF)
        : { indices: state.chunks.map((_c, i) => i), step: check.crf - crf };
      plans.push({ state, indices: chosen.indices, crfOf: (i: number) => loweredCrf(rendition.codec, state.chunks[i]!.crf, chosen.step) });
    }
    if (plans.length === 0) break;
    const share = (1 - FIRST_MEASURE_SHARE) / MAX_CORRECTIONS;
    const from = FIRST_MEASURE_SHARE + round * share;
    // Per chunk, the corrected renditions it needs (one per rung, at that chunk's new CRF). They
    // get files of their own (chunks under `<id>.crf<CRF>`, the rung under `<id>.checked<round>`):
    // the encode's files stay as they were, for a resume.
    const work = new Map<number, Rendition[]>();
    for (const plan of plans) {
      for (const i of plan.indices) {
        const crf = plan.crfOf(i);
        work.set(i, [...(work.get(i) ?? []), { ...plan.state.rendition, id: `${plan.state.rendition.id}.crf${crf}`, crf }]);
      }
    }
    const encoded = await reencode(input, work, within(from, from + share / 2));
    const updated: RungState[] = [];
    for (const plan of plans) {
      const chunks = plan.state.chunks.map((chunk, i) => {
        if (!plan.indices.includes(i)) return chunk;
        const crf = plan.crfOf(i);
        const result = encoded.get(i)!;
        const id = `${plan.state.rendition.id}.crf${crf}`;
        const psnr = result.psnr?.[id];
        return { path: result.files[id]!, frames: result.frames, crf, ...(psnr !== undefined ? { psnr } : {}) };
      });
      const renditionId = `${plan.state.rendition.id}.checked${round + 1}`;
      const assembled = await assembleRendition({ renditionId, chunks: chunks.map((c) => ({ path: c.path, frames: c.frames })), video }, ctx);
      files.set(plan.state.rendition.id, assembled.path);
      updated.push({ ...plan.state, chunks, corrected: new Set([...plan.state.corrected, ...plan.indices]) });
    }
    const measured = await measure(updated, files, within(from + share / 2, from + share));
    states = states.map((state) => {
      const next = updated.find((u) => u.rendition.id === state.rendition.id);
      if (!next) return state;
      const of = next.chunks.filter((c) => c.frames > 0).length;
      return {
        ...next,
        check: {
          ...state.check,
          crf: Math.min(...next.chunks.map((c) => c.crf)),
          corrections: state.check.corrections + 1,
          path: files.get(state.rendition.id)!,
          measured: measured.get(state.rendition.id)!,
          ...(next.corrected.size < of ? { correctedChunks: { count: next.corrected.size, of } } : {}),
        },
      };
    });
  }
  ctx.onProgress(1);
  return {
    rungs: states.map(({ check }) => ({ ...check, met: check.measured >= input.target })),
    files: Object.fromEntries(input.renditions.map(({ rendition, path }) => [rendition.id, states.find((s) => s.rendition.id === rendition.id)?.check.path ?? path])),
  };
}

/**
 * Encodes, per chunk, the corrected renditions it needs (all of them from one decode of the
 * chunk), as many chunks at once as the job's slots; returns each chunk's encode by index.
 */
async function reencode(input: QualityCheckInput, work: Map<number, Rendition[]>, ctx: StageContext): Promise<Map<number, EncodedChunk>> {
  const chunks = input.video.chunks.filter((chunk) => work.has(chunk.index));
  const encoded = new Map<number, EncodedChunk>();
  let unfinished = chunks.length;
  // Silent ffmpeg runs (several at once would report over one another): progress is per chunk.
  const ffmpeg = ctx.ffmpeg.forTask(ctx.signal).forOwnChunkEncodes(() => unfinished);
  await forEachLimit(chunks, ctx.ffmpeg.encodeSlots, async (chunk) => {
    encoded.set(chunk.index, await encodeChunk({ source: input.source, video: { ...input.video, renditions: work.get(chunk.index)! }, chunk }, { ...ctx, ffmpeg }));
    unfinished--;
    ctx.onProgress(1 - unfinished / chunks.length);
  });
  return encoded;
}
