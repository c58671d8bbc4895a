import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VidpipeError } from '../../errors.js';
import type { StageContext } from '../stage.js';
import type { MediaProbe } from '../../ffmpeg/probe.js';
import { buildCoverExtractArgs, buildWaveformArgs } from '../../ffmpeg/args/images.js';

export interface CoverInput {
  source: string;
  probe: MediaProbe;
  outDir: string;
}

export interface CoverResult {
  /** outDir/cover.jpg */
  path: string;
  /** Whether the picture came from the file's own artwork or was drawn from its audio. */
  kind: 'embedded' | 'waveform';
  width: number;
  height: number;
}

/** Wide and short like a waveform, and large enough for a player's background. */
const WAVEFORM_SIZE = { width: 1280, height: 360 };

/**
 * Writes cover.jpg for an audio file: its embedded artwork (ID3 APIC, FLAC PICTURE, MP4 covr)
 * when it has one, otherwise a picture of its waveform.
 */
export async function extractCover(input: CoverInput, ctx: StageContext): Promise<CoverResult> {
  await mkdir(input.outDir, { recursive: true });
  const path = join(input.outDir, 'cover.jpg');
  // A cover from an earlier run must not pass the check below for one this run failed to write.
  await rm(path, { force: true });

  const picture = input.probe.videoStreams.find((stream) => stream.isAttachedPicture && stream.width > 0 && stream.height > 0);
  let result: CoverResult;
  if (picture) {
    const args = buildCoverExtractArgs({ input: input.source, streamIndex: picture.index, codec: picture.codec, output: path });
    await ctx.ffmpeg.run(args, { label: 'cover' });
    result = { path, kind: 'embedded', width: picture.width, height: picture.height };
  } else {
    const audio = input.probe.audioStreams.find((stream) => stream.isDefault) ?? input.probe.audioStreams[0];
    if (!audio) {
      throw new VidpipeError('INPUT_INVALID', `${input.source} has neither embedded artwork nor an audio stream to draw a cover from`);
    }
    const args = buildWaveformArgs({ input: input.source, streamIndex: audio.index, size: WAVEFORM_SIZE, output: path });
    await ctx.ffmpeg.run(args, { label: 'cover' });
    result = { path, kind: 'waveform', ...WAVEFORM_SIZE };
  }
  // ffmpeg can exit successfully having written nothing (an empty picture packet, silent zero-length audio).
  const written = await stat(path).catch(() => undefined);
  if (!written?.size) throw new VidpipeError('FFMPEG_FAILED', `cover: ffmpeg wrote no picture for ${input.source}`);
  ctx.onProgress(1);
  return result;
}
