import { runCapture } from './run.js';
import { VidpipeError, tailLines } from '../errors.js';

/** Number of video packets (= frames) in a file, read from the container without decoding. */
export async function countVideoFrames(ffprobe: string, path: string, signal?: AbortSignal): Promise<number> {
  const { stdout, stderr, exitCode } = await runCapture(
    ffprobe,
    ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path],
    { signal, label: 'count frames' },
  );
  const count = Number.parseInt(stdout.trim(), 10);
  if (exitCode !== 0 || !Number.isFinite(count)) {
    throw new VidpipeError('FFMPEG_FAILED', `cannot count frames of ${path}`, { stderrTail: tailLines(stderr) });
  }
  return count;
}
