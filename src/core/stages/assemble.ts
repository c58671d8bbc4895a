import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { buildAssembleArgs, buildConcatList } from '../../ffmpeg/args/package.js';
import { countVideoFrames } from '../../ffmpeg/count.js';
import { VidpipeError } from '../../errors.js';
import type { StageContext } from '../stage.js';
import type { VideoPlan } from '../plan.js';
import { assertDecodeErrorsWithin } from './encode-video.js';

export interface AssembleInput {
  renditionId: string;
  /** Chunk files in timeline order, with the frames each holds. */
  chunks: { path: string; frames: number; decodeErrors?: number; firstDecodeError?: string; psnr?: number }[];
  /** The plan's video: its frame count, and the corrupt frames it allows. */
  video: Pick<VideoPlan, 'totalFrames' | 'maxDecodeErrors'>;
}

export interface AssembledRendition {
  renditionId: string;
  path: string;
  frames: number;
  /**
   * Each chunk's frames and the PSNR its encoder reported (EncodedChunk.psnr), in timeline order:
   * only when every chunk that holds frames has one. The quality check pools them instead of
   * measuring the file, and corrects a miss chunk by chunk.
   */
  chunkPsnr?: { frames: number; psnr: number }[];
}

/**
 * Joins a rendition's chunks without re-encoding. Every chunk starts with a key frame of a
 * closed GOP and the chunks' timestamps are contiguous frame counts, so the concat demuxer
 * lays them end to end; the frame count is checked against the sum of the chunks.
 */
export async function assembleRendition(input: AssembleInput, ctx: StageContext): Promise<AssembledRendition> {
  const dir = join(ctx.workDir, 'renditions');
  await mkdir(dir, { recursive: true });
  const decodeErrors = input.chunks.reduce((sum, c) => sum + (c.decodeErrors ?? 0), 0);
  assertDecodeErrorsWithin(input.video, decodeErrors, input.chunks.find((c) => c.firstDecodeError)?.firstDecodeError, 'in all');
  const chunks = input.chunks.filter((c) => c.frames > 0);
  const listPath = join(dir, `${input.renditionId}.ffconcat`);
  const output = join(dir, `${input.renditionId}.mp4`);
  // The concat demuxer resolves a relative entry against the list's folder: entries are written
  // relative to it, so the list holds no part of the work folder's own path (any characters) and
  // stays right wherever the process runs from.
  await writeFile(listPath, buildConcatList(chunks.map((c) => relative(dir, c.path).split(sep).join('/'))));
  await ctx.ffmpeg.run(buildAssembleArgs(listPath, output), { label: `assemble ${input.renditionId}` });
  const expected = chunks.reduce((sum, c) => sum + c.frames, 0);
  const frames = await countVideoFrames(ctx.ffmpeg.binaries.ffprobe, output, ctx.signal);
  if (frames !== expected) {
    throw new VidpipeError('FFMPEG_FAILED', `assembled ${input.renditionId} has ${frames} frames, its chunks hold ${expected}`);
  }
  // What the playlists will state (the plan's duration) and what the rendition holds agree.
  if (Math.abs(frames - input.video.totalFrames) > 1) {
    throw new VidpipeError('FFMPEG_FAILED', `assembled ${input.renditionId} has ${frames} frames, the package states ${input.video.totalFrames}`);
  }
  ctx.onProgress(1);
  const reported = input.chunks.every((c) => c.frames === 0 || c.psnr !== undefined);
  return { renditionId: input.renditionId, path: output, frames, ...(reported ? { chunkPsnr: input.chunks.map((c) => ({ frames: c.frames, psnr: c.psnr ?? 100 })) } : {}) };
}
