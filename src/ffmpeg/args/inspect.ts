import { safeInputPath } from '../probe.js';

/**
 * Copies one stream of a segment (MPEG-TS, say) into a plain MP4 so its sample entry can be read:
 * the mp4 muxer builds avcC/hvcC/esds from the in-band SPS / ADTS headers. Not fragmented, because
 * the fragmented muxer refuses ADTS AAC without an explicit bitstream filter.
 */
export function buildStreamRemuxArgs(input: string, streamIndex: number, output: string): string[] {
  return ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', safeInputPath(input), '-map', `0:${streamIndex}`, '-c', 'copy', '-f', 'mp4', output];
}

/** ffprobe arguments listing each packet of the first video stream as `pts_time,size` (one per line). */
export function buildVideoPacketTimesArgs(input: string): string[] {
  return ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,size', '-of', 'csv=p=0', safeInputPath(input)];
}

