import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildQualityArgs } from '../ffmpeg/args/metrics.js';
import type { Rational } from '../ffmpeg/probe.js';
import { VidpipeError } from '../errors.js';
import type { QualityMetrics } from '../core/result.js';
import type { StageContext } from '../core/stage.js';

export interface RenditionToMeasure {
  name: string;
  /** The rendition's HLS media playlist (local path: ffmpeg reads init + every segment through it), or its MP4. */
  playlist: string;
  width: number;
  height: number;
  frameRate: Rational;
}

export interface QualityJobInput {
  source: string;
  sourceStreamIndex: number;
  durationSeconds: number;
  deinterlace: boolean;
  renditions: RenditionToMeasure[];
  /** Whether the ffmpeg in use has the libvmaf filter (Debian's has not). */
  vmafAvailable: boolean;
}

export const VMAF_UNAVAILABLE = 'this ffmpeg has no libvmaf filter';

const PEAK = 255 * 255;

/** PSNR of 8-bit video from a mean squared error; identical pictures give Infinity, capped at 100 dB like ffmpeg's tools print it. */
export function psnrOfMse(mse: number): number {
  if (mse <= 0) return 100;
  return Math.min(100, 10 * Math.log10(PEAK / mse));
}

/** The mean squared error of a PSNR (8-bit peak): pooling over frames averages the error, not the decibels. */
export function mseOfPsnr(psnr: number): number {
  return PEAK / 10 ** (psnr / 10);
}

/** The PSNR of parts pooled by their frames (each part's error weighted by its frames). */
export function pooledPsnr(parts: readonly { psnr: number; frames: number }[]): number {
  const frames = parts.reduce((sum, p) => sum + p.frames, 0);
  if (frames === 0) return 100;
  return psnrOfMse(parts.reduce((sum, p) => sum + mseOfPsnr(p.psnr) * p.frames, 0) / frames);
}

/** One number per frame from a stats_file, e.g. `mse_avg` of psnr or `All` of ssim. */
function perFrame(text: string, pattern: RegExp, filter: string): number[] {
  const values = text.split('\n').flatMap((line) => {
    const match = pattern.exec(line);
    return match ? [Number(match[1])] : [];
  });
  if (values.length === 0) throw new VidpipeError('FFMPEG_FAILED', `${filter}: no frames were compared`);
  return values;
}

/** Lines of ffmpeg's psnr stats_file: "n:1 mse_avg:19.55 … psnr_avg:35.22 …". */
export function parsePsnrStats(text: string): { psnr: number; psnrMin: number; frames: number } {
  const mses = perFrame(text, /\bmse_avg:([\d.]+)/, 'psnr');
  const mean = mses.reduce((a, b) => a + b, 0) / mses.length;
  return { psnr: psnrOfMse(mean), psnrMin: psnrOfMse(Math.max(...mses)), frames: mses.length };
}

/** Lines of ffmpeg's ssim stats_file: "n:1 Y:0.961 U:0.972 V:0.984 All:0.966 (14.78)". */
export function parseSsimStats(text: string): { ssim: number; ssimMin: number; frames: number } {
  const values = perFrame(text, /\bAll:([\d.]+)/, 'ssim');
  return { ssim: values.reduce((a, b) => a + b, 0) / values.length, ssimMin: Math.min(...values), frames: values.length };
}

/** libvmaf's JSON log: pooled_metrics.vmaf.mean. */
export function parseVmafLog(text: string): number {
  const log = JSON.parse(text) as { pooled_metrics?: { vmaf?: { mean?: number } } };
  const mean = log.pooled_metrics?.vmaf?.mean;
  if (typeof mean !== 'number') throw new VidpipeError('FFMPEG_FAILED', 'libvmaf wrote no pooled VMAF mean');
  return mean;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Where one rendition's per-frame statistics go; ssimLog absent when SSIM is left out. */
interface MeasureLogs {
  psnrLog: string;
  ssimLog?: string;
  vmafLog?: string;
}

/**
 * Measures every rendition against one decode of the source: one ffmpeg for all the renditions
 * of a frame rate (a job's have one), then `read` turns each rendition's logs into its result.
 */
async function measureRenditions<T>(
  input: QualityJobInput,
  ctx: StageContext,
  withSsim: boolean,
  read: (rendition: RenditionToMeasure, logs: MeasureLogs) => Promise<T>,
): Promise<Record<string, T>> {
  const scratch = join(ctx.workDir, 'metrics');
  await mkdir(scratch, { recursive: true });
  const results: Record<string, T> = {};
  const logsOf = (index: number): MeasureLogs => ({
    psnrLog: join(scratch, `${index}-psnr.log`),
    ...(withSsim ? { ssimLog: join(scratch, `${index}-ssim.log`) } : {}),
    ...(input.vmafAvailable ? { vmafLog: join(scratch, `${index}-vmaf.json`) } : {}),
  });
  const byRate = new Map<string, { rendition: RenditionToMeasure; index: number }[]>();
  for (const [index, rendition] of input.renditions.entries()) {
    const key = `${rendition.frameRate.num}/${rendition.frameRate.den}`;
    byRate.set(key, [...(byRate.get(key) ?? []), { rendition, index }]);
  }
  try {
    for (const [run, group] of [...byRate.values()].entries()) {
      await ctx.ffmpeg.run(
        buildQualityArgs({
          renditions: group.map(({ rendition, index }) => ({ path: rendition.playlist, width: rendition.width, height: rendition.height, ...logsOf(index) })),
          source: input.source,
          sourceStreamIndex: input.sourceStreamIndex,
          frameRate: group[0]!.rendition.frameRate,
          durationSeconds: input.durationSeconds,
          deinterlace: input.deinterlace,
        }),
        {
          label: `quality metrics of ${group.map(({ rendition }) => rendition.name).join(', ')}`,
          durationSeconds: input.durationSeconds,
          span: [run / byRate.size, (run + 1) / byRate.size],
        },
      );
      for (const { rendition, index } of group) results[rendition.name] = await read(rendition, logsOf(index));
    }
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
  ctx.onProgress(1);
  return results;
}

/** PSNR, SSIM and (with libvmaf) VMAF of every rendition against one decode of the source, by rendition name. */
export async function measureQuality(input: QualityJobInput, ctx: StageContext): Promise<Record<string, QualityMetrics>> {
  return measureRenditions(input, ctx, true, async (rendition, logs) => {
    const psnr = parsePsnrStats(await readFile(logs.psnrLog, 'utf8'));
    const ssim = parseSsimStats(await readFile(logs.ssimLog!, 'utf8'));
    const vmaf = logs.vmafLog ? parseVmafLog(await readFile(logs.vmafLog, 'utf8')) : null;
    const fps = rendition.frameRate.num / rendition.frameRate.den;
    return {
      psnr: round(psnr.psnr, 3),
      psnrMin: round(psnr.psnrMin, 3),
      ssim: round(ssim.ssim, 5),
      ssimMin: round(ssim.ssimMin, 5),
      vmaf: vmaf === null ? null : round(vmaf, 3),
      ...(vmaf === null ? { vmafNote: VMAF_UNAVAILABLE } : {}),
      frames: psnr.frames,
      reference: `source scaled to ${rendition.width}x${rendition.height} at ${round(fps, 3)} fps`,
      measuredAt: new Date().toISOString(),
    };
  });
}

/**
 * Only the quality a target is stated in, by rendition name: VMAF when `input.vmafAvailable`,
 * else PSNR (dB). Leaves SSIM out (the quality check reads nothing else): on 1080p slides it was
 * about a third of the measure's CPU.
 */
export async function measureTargetQuality(input: QualityJobInput, ctx: StageContext): Promise<Record<string, number>> {
  return measureRenditions(input, ctx, false, async (_rendition, logs) =>
    logs.vmafLog ? parseVmafLog(await readFile(logs.vmafLog, 'utf8')) : round(parsePsnrStats(await readFile(logs.psnrLog, 'utf8')).psnr, 3),
  );
}
