import { buildVideoPacketCountArgs } from './args/inspect.js';
import { runCapture } from './run.js';
import { VidpipeError, tailLines } from '../errors.js';
import { countVideoSamples } from '../media/mp4-file.js';

/**
 * Number of video packets (= frames) of the first video stream, read from the container without
 * decoding. MP4 files (every chunk and rendition vidpipe writes) are counted from their sample
 * tables and fragment runs (stsz/trun), a few small reads; other files by ffprobe, which reads
 * every packet.
 */
export async function countVideoFrames(ffprobe: string, path: string, signal?: AbortSignal): Promise<number> {
  signal?.throwIfAborted();
  let samples: number | undefined;
  try {
    samples = await countVideoSamples(path);
  } catch (error) {
    // A missing, cut-off or malformed output is the encoder's failure, as when ffprobe cannot read it.
    throw new VidpipeError('FFMPEG_FAILED', `cannot count frames of ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (samples !== undefined) return samples;
  const { stdout, stderr, exitCode } = await runCapture(
    ffprobe,
    buildVideoPacketCountArgs(path),
    { signal, label: 'count frames' },
  );
  const count = Number.parseInt(stdout.trim(), 10);
  if (exitCode !== 0 || !Number.isFinite(count)) {
    throw new VidpipeError('FFMPEG_FAILED', `cannot count frames of ${path}`, { stderrTail: tailLines(stderr) });
  }
  return count;
}
