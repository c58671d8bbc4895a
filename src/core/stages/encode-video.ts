import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildChunkEncodeArgs, type Av1Encoder } from '../../ffmpeg/args/video.js';
import { runFfmpeg } from '../../ffmpeg/run.js';
import { countVideoFrames } from '../../ffmpeg/count.js';
import { probeHdrStaticMetadata } from '../../ffmpeg/hdr.js';
import { VidpipeError } from '../errors.js';
import type { Preset } from '../ladder.js';
import type { Chunk, VideoPlan } from '../plan.js';
import type { StageContext } from '../stage.js';

export interface EncodeChunkInput {
  source: string;
  video: VideoPlan;
  chunk: Chunk;
  preset: Preset;
  av1Encoder: Av1Encoder;
  /** x264 threads per encoder (see ChunkEncodeInput.encoderThreads). */
  encoderThreads?: number;
}

export interface EncodedChunk {
  index: number;
  /** Encoded file per rendition id. */
  files: Record<string, string>;
  /** Frames in each file (the same for every rendition). */
  frames: number;
}

export function chunkPath(workDir: string, renditionId: string, chunkIndex: number): string {
  return join(workDir, 'chunks', renditionId, `chunk_${String(chunkIndex).padStart(5, '0')}.mp4`);
}

/**
 * Encodes one chunk of the timeline into every video rendition from a single decode, then
 * checks that each output holds exactly the chunk's frames (the last chunk may hold fewer
 * when the source ends early).
 */
export async function encodeChunk(input: EncodeChunkInput, ctx: StageContext): Promise<EncodedChunk> {
  const { chunk, video } = input;
  const outputs = video.renditions.map((rendition) => ({ rendition, path: chunkPath(ctx.workDir, rendition.id, chunk.index) }));
  await Promise.all(outputs.map((o) => mkdir(join(o.path, '..'), { recursive: true })));
  const chunkSeconds = ((chunk.endFrame - chunk.startFrame) * video.frameRate.den) / video.frameRate.num;
  const args = buildChunkEncodeArgs({
    source: input.source,
    streamIndex: video.streamIndex,
    frameRate: video.frameRate,
    chunk,
    gopFrames: video.gopFrames,
    deinterlace: video.deinterlace,
    hdr: video.hdr,
    hdrMetadata: video.hdr ? await probeHdrStaticMetadata(ctx.binaries.ffprobe, input.source, video.streamIndex, ctx.signal) : undefined,
    preset: input.preset,
    av1Encoder: input.av1Encoder,
    encoderThreads: input.encoderThreads,
    outputs,
  });
  await runFfmpeg(ctx.binaries.ffmpeg, args, {
    label: `encode chunk ${chunk.index}`,
    signal: ctx.signal,
    stallTimeoutMs: ctx.stallTimeoutMs,
    onProgress: (p) => ctx.onProgress(Math.min(1, p.outTimeSeconds / chunkSeconds), p.speed > 0 ? (chunkSeconds - p.outTimeSeconds) / p.speed : undefined),
  });

  const expected = chunk.endFrame - chunk.startFrame;
  const isLast = chunk.endFrame === video.totalFrames;
  const counts = await Promise.all(outputs.map((o) => countVideoFrames(ctx.binaries.ffprobe, o.path, ctx.signal)));
  for (const [i, count] of counts.entries()) {
    if (count !== counts[0] || count > expected || (!isLast && count !== expected)) {
      throw new VidpipeError(
        'FFMPEG_FAILED',
        `chunk ${chunk.index} of ${outputs[i]!.rendition.id} has ${count} frames, expected ${expected}: the source may be damaged around ${(chunk.startFrame * video.frameRate.den / video.frameRate.num).toFixed(2)} s`,
      );
    }
  }
  return { index: chunk.index, files: Object.fromEntries(outputs.map((o) => [o.rendition.id, o.path])), frames: counts[0] ?? 0 };
}
