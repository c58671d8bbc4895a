import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDownloadArgs } from '../../ffmpeg/args/download.js';
import { readIndexBoxes } from '../../media/mp4-file.js';
import { VidpipeError } from '../../errors.js';
import type { StageContext } from '../stage.js';

/** Its key in the package (the release folder), beside poster.jpg. */
export const DOWNLOAD_KEY = 'download.mp4';

export interface DownloadInput {
  /** The encoded H.264 rendition as packaged, and its id. */
  video: { renditionId: string; path: string };
  /** The encoded AAC rendition; absent for a source without audio. */
  audio?: { renditionId: string; path: string };
  packageDir: string;
  durationSeconds: number;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** The rendition ids it holds. */
  video: string;
  audio?: string;
}

/**
 * Writes download.mp4 into the package: the rendition's packets and the audio's, copied (no
 * encode, so it costs seconds and looks exactly like the rung), with the index first so that
 * it plays while it downloads. The order is checked: a progressive file is the point of it.
 */
export async function writeDownload(input: DownloadInput, ctx: StageContext): Promise<DownloadResult> {
  const path = join(input.packageDir, DOWNLOAD_KEY);
  // A file left by an earlier run must not pass the checks below for one this run did not write.
  await rm(path, { force: true });
  await ctx.ffmpeg.run(buildDownloadArgs({ video: input.video.path, audio: input.audio?.path, output: path }), {
    label: `download.mp4 (${input.video.renditionId})`,
    durationSeconds: input.durationSeconds,
  });
  const order = ((await readIndexBoxes(path)) ?? []).map(({ box }) => box.type);
  const moov = order.indexOf('moov');
  const mdat = order.indexOf('mdat');
  if (moov < 0 || mdat < 0 || moov > mdat) {
    throw new VidpipeError('FFMPEG_FAILED', `${DOWNLOAD_KEY}: ffmpeg did not put the index first (top-level boxes: ${order.join(', ') || 'none'})`);
  }
  ctx.onProgress(1);
  return { path, bytes: (await stat(path)).size, video: input.video.renditionId, ...(input.audio ? { audio: input.audio.renditionId } : {}) };
}
