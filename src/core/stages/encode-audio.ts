import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildAudioEncodeArgs } from '../../ffmpeg/args/audio.js';
import { runFfmpeg } from '../../ffmpeg/run.js';
import type { AudioRendition } from '../plan.js';
import type { StageContext } from '../stage.js';

export interface EncodeAudioInput {
  source: string;
  rendition: AudioRendition;
  /** The presentation duration the audio must match exactly (video jobs). */
  fitToSeconds?: number;
  /** Duration used for progress. */
  durationSeconds: number;
  gainDb?: number;
  extraFilters?: string[];
}

export interface EncodedAudio {
  renditionId: string;
  path: string;
}

/** Encodes one audio rendition for the whole timeline in one pass. */
export async function encodeAudio(input: EncodeAudioInput, ctx: StageContext): Promise<EncodedAudio> {
  const dir = join(ctx.workDir, 'audio');
  await mkdir(dir, { recursive: true });
  const output = join(dir, `${input.rendition.id}.mp4`);
  await runFfmpeg(
    ctx.binaries.ffmpeg,
    buildAudioEncodeArgs({ source: input.source, rendition: input.rendition, fitToSeconds: input.fitToSeconds, gainDb: input.gainDb, extraFilters: input.extraFilters, output }),
    {
      label: `encode audio ${input.rendition.id}`,
      signal: ctx.signal,
      stallTimeoutMs: ctx.stallTimeoutMs,
      onProgress: (p) =>
        ctx.onProgress(Math.min(1, p.outTimeSeconds / input.durationSeconds), p.speed > 0 ? (input.durationSeconds - p.outTimeSeconds) / p.speed : undefined),
    },
  );
  return { renditionId: input.rendition.id, path: output };
}
