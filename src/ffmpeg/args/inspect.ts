import { safeInputPath } from '../probe.js';

/**
 * Copies one stream of a segment (MPEG-TS, say) into a plain MP4 so its sample entry can be read:
 * the mp4 muxer builds avcC/hvcC/esds from the in-band SPS / ADTS headers. Not fragmented, because
 * the fragmented muxer refuses ADTS AAC without an explicit bitstream filter.
 */
export function buildStreamRemuxArgs(input: string, streamIndex: number, output: string): string[] {
  return ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', safeInputPath(input), '-map', `0:${streamIndex}`, '-c', 'copy', '-f', 'mp4', output];
}
