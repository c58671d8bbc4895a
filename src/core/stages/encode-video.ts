import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildChunkEncodeArgs, buildWarmupCutArgs, rateWarmupFrames } from '../../ffmpeg/args/video.js';
import { countVideoFrames } from '../../ffmpeg/count.js';
import { probeHdrStaticMetadata } from '../../ffmpeg/hdr.js';
import { countDecodeErrors } from '../../ffmpeg/decode-errors.js';
import { matchEncoderPsnr, parseEncoderPsnr, reportsPsnr } from '../../ffmpeg/encoder-psnr.js';
import type { Rational } from '../../ffmpeg/probe.js';
import { readVideoSamples } from '../../media/mp4-file.js';
import { VidpipeError } from '../../errors.js';
import type { Rendition } from '../ladder.js';
import type { Chunk, VideoPlan } from '../plan.js';
import type { StageContext } from '../stage.js';

export interface EncodeChunkInput {
  source: string;
  video: VideoPlan;
  chunk: Chunk;
}

export interface EncodedChunk {
  index: number;
  /** Encoded file per rendition id. */
  files: Record<string, string>;
  /** Frames in each file (the same for every rendition). */
  frames: number;
  /** Source frames the decoder reported corrupt while decoding this chunk (its preroll included). */
  decodeErrors?: number;
  /** The decoder's first complaint, for the message. */
  firstDecodeError?: string;
  /**
   * PSNR each constant-quality rendition's encoder reported of this chunk (encoder-psnr.ts), by
   * rendition id; absent when its encoder does not report or the report could not be matched.
   */
  psnr?: Record<string, number>;
}

/** Refuses a source with more corrupt frames than the plan allows (exit 2, with the count). */
export function assertDecodeErrorsWithin(video: Pick<VideoPlan, 'maxDecodeErrors' | 'totalFrames'>, count: number, first: string | undefined, scope: string): void {
  if (video.maxDecodeErrors === undefined || count <= video.maxDecodeErrors) return;
  throw new VidpipeError(
    'INPUT_INVALID',
    `the video has corrupt data: the decoder reported ${count} damaged frame${count > 1 ? 's' : ''} ${scope} (more than the ${video.maxDecodeErrors} allowed for ${video.totalFrames} frames)${first ? `, first: ${first}` : ''}`,
    { hint: 'pass --allow-decode-errors to package it anyway, with the damaged pictures as the decoder concealed them' },
  );
}

/** Frames the last chunk may fall short of the plan: the end time of the last picture rounds to the grid. */
const LAST_CHUNK_SLACK_FRAMES = 1;

export function chunkPath(workDir: string, renditionId: string, chunkIndex: number): string {
  return join(workDir, 'chunks', renditionId, `chunk_${String(chunkIndex).padStart(5, '0')}.mp4`);
}

/**
 * Encodes one chunk of the timeline into every video rendition from a single decode, then
 * checks that each output holds exactly the chunk's frames (the last chunk may hold fewer
 * when the source ends early). The decoder's and each encoder's threads are resolved as the
 * chunk starts, from what this machine runs at once (and the rendition's policy).
 */
export async function encodeChunk(input: EncodeChunkInput, ctx: StageContext): Promise<EncodedChunk> {
  const { video } = input;
  // The chunk decodes as many frames before its first as the rendition that warms up longest needs.
  const warmupFrames = Math.max(0, ...video.renditions.map((r) => rateWarmupFrames(r, input.chunk.warmupFrames ?? 0)));
  const chunk = { ...input.chunk, warmupFrames };
  const outputs = video.renditions.map((rendition) => {
    const path = chunkPath(ctx.workDir, rendition.id, chunk.index);
    const warmup = rateWarmupFrames(rendition, warmupFrames);
    // With a warm-up the encode writes beside the chunk's file, which then gets the chunk's frames alone.
    return { rendition, path, warmup, encoded: warmup > 0 ? `${path}.warmup.mp4` : path, threads: ctx.ffmpeg.threadsFor(rendition.encoder.threads) };
  });
  await Promise.all(outputs.map((o) => mkdir(join(o.path, '..'), { recursive: true })));
  const encodedSeconds = ((chunk.endFrame - chunk.startFrame + warmupFrames) * video.frameRate.den) / video.frameRate.num;
  const args = buildChunkEncodeArgs({
    source: input.source,
    streamIndex: video.streamIndex,
    frameRate: video.frameRate,
    chunk,
    gopFrames: video.gopFrames,
    deinterlace: video.deinterlace,
    hdr: video.hdr,
    hdrMetadata: video.hdr ? await probeHdrStaticMetadata(ctx.ffmpeg.binaries.ffprobe, input.source, video.streamIndex, ctx.signal) : undefined,
    decoderThreads: ctx.ffmpeg.coreShare(),
    outputs: outputs.map((o) => ({ rendition: o.rendition, path: o.encoded, threads: o.threads })),
  });
  const { stderr } = await ctx.ffmpeg.run(args, { label: `encode chunk ${chunk.index}`, durationSeconds: encodedSeconds });
  const warmedUp = outputs.filter((o) => o.warmup > 0);
  if (warmedUp.length > 0) {
    await ctx.ffmpeg.run(buildWarmupCutArgs(warmedUp.map((o) => ({ input: o.encoded, output: o.path, warmupFrames: o.warmup })), video.frameRate), { label: `cut the warm-up off chunk ${chunk.index}` });
    await Promise.all(warmedUp.map((o) => rm(o.encoded, { force: true })));
  }

  const decodeErrors = countDecodeErrors(stderr);
  assertDecodeErrorsWithin(video, decodeErrors.count, decodeErrors.first, `in chunk ${chunk.index + 1} alone`);

  const expected = chunk.endFrame - chunk.startFrame;
  const isLast = chunk.endFrame === video.totalFrames;
  const at = (frame: number) => `${((frame * video.frameRate.den) / video.frameRate.num).toFixed(2)} s`;
  const counts = await Promise.all(outputs.map((o) => countVideoFrames(ctx.ffmpeg.binaries.ffprobe, o.path, ctx.signal)));
  for (const [i, count] of counts.entries()) {
    if (count !== counts[0] || count > expected || (!isLast && count !== expected)) {
      throw new VidpipeError('FFMPEG_FAILED', `chunk ${chunk.index} of ${outputs[i]!.rendition.id} has ${count} frames, expected ${expected}: the source may be damaged around ${at(chunk.startFrame)}`);
    }
  }
  // The plan's frame count comes from the packets' timestamps; the last frame's rounding aside,
  // a shorter decode means packets that hold no pictures: the package would claim more than it has.
  const frames = counts[0] ?? 0;
  if (isLast && frames < expected - LAST_CHUNK_SLACK_FRAMES) {
    throw new VidpipeError(
      'INPUT_INVALID',
      `the video decodes to fewer pictures than its timestamps span: it ends at ${at(chunk.startFrame + frames)} instead of ${at(chunk.endFrame)} (${expected - frames} frames missing)`,
    );
  }
  const psnr = await reportedPsnr(stderr, outputs, frames, video.frameRate);
  return {
    index: chunk.index,
    files: Object.fromEntries(outputs.map((o) => [o.rendition.id, o.path])),
    frames,
    ...(psnr ? { psnr } : {}),
    decodeErrors: decodeErrors.count,
    ...(decodeErrors.first ? { firstDecodeError: decodeErrors.first } : {}),
  };
}

/**
 * The PSNR the chunk's reporting encoders printed, by rendition id, when every report matches its
 * output. Reporting renditions are constant-quality ones, which never warm up (rateWarmupFrames):
 * each report covers exactly the chunk's frames.
 */
async function reportedPsnr(stderr: string, outputs: readonly { rendition: Rendition; path: string }[], frames: number, rate: Rational): Promise<Record<string, number> | undefined> {
  const reporting = outputs.filter((o) => reportsPsnr(o.rendition));
  if (reporting.length === 0 || frames === 0) return undefined;
  const seconds = (frames * rate.den) / rate.num;
  const sizes = await Promise.all(reporting.map(async (o) => ({ bytes: (await readVideoSamples(o.path))?.bytes ?? 0, seconds })));
  const matched = matchEncoderPsnr(parseEncoderPsnr(stderr), sizes);
  return matched && Object.fromEntries(reporting.map((o, i) => [o.rendition.id, matched[i]!]));
}
