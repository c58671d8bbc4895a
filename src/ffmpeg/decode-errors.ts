/**
 * Reading ffmpeg's stderr for damaged source frames: the chunk encodes (video), the audio
 * encodes and the loudness pass each decode every frame anyway, so counting costs nothing.
 */

/**
 * Frames ffmpeg's decoder concealed ("corrupt decoded frame", a warning) or could not decode at
 * all ("Error while decoding stream"; an audio decoder skips such a frame), from the stderr of a
 * run with `-loglevel level+warning` (or level+error: audio decoders conceal nothing).
 * A capture that starts mid-GOP only has the decoder skip to the first key frame: not counted.
 */
export function countDecodeErrors(stderr: string): { count: number; first?: string } {
  let count = 0;
  let first: string | undefined;
  for (const line of stderr.split('\n')) {
    if (first === undefined && /\[(error|fatal)\]/.test(line)) first = line.replace(/^.*\[(error|fatal)\]\s*/, '').trim();
    if (/corrupt decoded frame in stream|Error while decoding stream #/.test(line)) count++;
  }
  return { count, first };
}
