import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Rendition } from '../../src/core/ladder.js';
import type { JobPlan } from '../../src/core/plan.js';
import { encodeChunk } from '../../src/core/stages/encode-video.js';
import { runCapture } from '../../src/ffmpeg/run.js';
import { buildVideoPacketSizesArgs, sumPacketSizes } from '../../src/ffmpeg/args/inspect.js';
import { measureQuality, type QualityMetrics } from '../../src/metrics/quality.js';
import type { StageContext } from '../../src/core/stage.js';

export interface EncodedRungResult {
  id: string;
  width: number;
  height: number;
  /** Video bytes of all chunks (packets only, no container). */
  bytes: number;
  kbps: number;
  /** Absent for renditions not asked to be measured. */
  quality?: QualityMetrics;
}

export interface EncodeAndMeasureResult {
  renditions: EncodedRungResult[];
  /** Wall time of the chunk encodes alone. */
  encodeSeconds: number;
}

export function stageContext(workDir: string, signal = new AbortController().signal): StageContext {
  return { binaries: { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' }, signal, onProgress: () => undefined, stallTimeoutMs: 0, workDir };
}

/** Runs tasks with at most `limit` at once. */
async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * Encodes `renditions` of a planned job the way the transcode does (encodeChunk: the plan's
 * chunks, one decode per chunk feeding every rendition, `concurrency` chunks at once), then
 * measures each rendition from its chunks: bytes, rate, and PSNR/SSIM against the source
 * scaled to its size (vidpipe's metrics).
 */
export async function encodeAndMeasure(
  source: string,
  plan: JobPlan,
  renditions: Rendition[],
  workDir: string,
  options: { concurrency?: number; preset?: 'medium' | 'veryfast'; measure?: (id: string) => boolean } = {},
): Promise<EncodeAndMeasureResult> {
  if (renditions.length === 0) return { renditions: [], encodeSeconds: 0 };
  const video = { ...plan.video!, renditions };
  const ctx = stageContext(workDir);
  await mkdir(workDir, { recursive: true });
  const encoded = new Map<number, Record<string, string>>();
  const started = Date.now();
  await inParallel(video.chunks, options.concurrency ?? 2, async (chunk) => {
    const result = await encodeChunk({ source, video, chunk, preset: options.preset ?? 'medium', av1Encoder: 'libsvtav1', encoderThreads: 1 }, ctx);
    encoded.set(chunk.index, result.files);
  });
  const encodeSeconds = (Date.now() - started) / 1000;
  const results: EncodedRungResult[] = [];
  for (const rendition of renditions) {
    const files = video.chunks.map((c) => encoded.get(c.index)![rendition.id]!);
    let bytes = 0;
    for (const file of files) bytes += sumPacketSizes((await runCapture('ffprobe', buildVideoPacketSizesArgs(file), { label: 'packet sizes' })).stdout).bytes;
    const kbps = Math.round((bytes * 8) / plan.durationSeconds / 100) / 10;
    if (options.measure && !options.measure(rendition.id)) {
      results.push({ id: rendition.id, width: rendition.width, height: rendition.height, bytes, kbps });
      continue;
    }
    // The concat demuxer reads the chunks in order as one stream; names relative to the list are "safe".
    const list = join(dirname(files[0]!), 'chunks.ffconcat');
    await writeFile(list, `ffconcat version 1.0\n${files.map((f) => `file ${basename(f)}`).join('\n')}\n`);
    const metrics = await measureQuality(
      {
        source,
        sourceStreamIndex: video.streamIndex,
        durationSeconds: plan.durationSeconds,
        deinterlace: video.deinterlace,
        vmafAvailable: false,
        renditions: [{ name: rendition.id, playlist: list, width: rendition.width, height: rendition.height, frameRate: video.frameRate }],
      },
      ctx,
    );
    results.push({ id: rendition.id, width: rendition.width, height: rendition.height, bytes, kbps, quality: metrics[rendition.id]! });
  }
  await rm(join(workDir, 'chunks'), { recursive: true, force: true });
  return { renditions: results, encodeSeconds };
}
