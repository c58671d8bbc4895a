import { VidpipeError, tailLines } from '../core/errors.js';
import type { MediaProbe } from './probe.js';
import { safeInputPath } from './probe.js';
import { runFfmpeg } from './run.js';

/** Demuxer messages that mean the file's data stops before its index says it does. */
const TRUNCATION = /partial file|truncat|unexpected end|end of file|moov atom not found|invalid data found/i;

/**
 * Reads every packet of the input once (stream copy to the null muxer, no decoding) to find
 * files whose index promises more than the data holds: an upload cut off mid-transfer still
 * probes fine when its index (moov) sits at the front. Costs one sequential read of the file.
 */
export async function checkReadable(ffmpeg: string, probe: MediaProbe, signal?: AbortSignal): Promise<void> {
  let endSeconds = 0;
  const maps = [...(probe.video ? ['-map', `0:${probe.video.index}`] : []), ...probe.audioStreams.map((a) => ['-map', `0:${a.index}`]).flat()];
  const { stderr } = await runFfmpeg(ffmpeg, ['-i', safeInputPath(probe.path), ...maps, '-c', 'copy', '-f', 'null', '-'], {
    label: 'read input',
    signal,
    onProgress: (p) => {
      endSeconds = Math.max(endSeconds, p.outTimeSeconds);
    },
  }).catch((error: unknown) => {
    if (error instanceof VidpipeError && error.code === 'FFMPEG_FAILED') {
      throw new VidpipeError('INPUT_INVALID', `${probe.path} cannot be read to the end: ${tailLines(error.stderrTail, 1) || 'ffmpeg failed'}`, { stderrTail: error.stderrTail });
    }
    throw error;
  });
  const declared = probe.durationSeconds;
  const missing = declared - endSeconds;
  if (TRUNCATION.test(stderr) || (declared > 0 && missing > Math.max(1, declared * 0.05))) {
    throw new VidpipeError(
      'INPUT_INVALID',
      `${probe.path} is truncated: its data ends at ${endSeconds.toFixed(2)} s of a declared ${declared.toFixed(2)} s`,
      { stderrTail: tailLines(stderr) },
    );
  }
}
