import { safeInputPath } from './input-path.js';

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

/** ffprobe arguments for a file's container, streams and programs, as JSON (what `probeFile` reads). */
export function buildProbeArgs(input: string): string[] {
  return ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-show_programs', safeInputPath(input)];
}

/** ffprobe arguments for the interlacing flags of a stream's first 8 decoded frames, as JSON. */
export function buildFieldOrderArgs(input: string, streamIndex: number): string[] {
  return ['-v', 'error', '-select_streams', String(streamIndex), '-read_intervals', '%+#8', '-show_entries', 'frame=interlaced_frame,top_field_first', '-of', 'json', safeInputPath(input)];
}

/** ffprobe arguments for the side data (HDR mastering display, light levels) of a stream's first frame, as JSON. */
export function buildFirstFrameSideDataArgs(input: string, streamIndex: number): string[] {
  return ['-v', 'error', '-select_streams', String(streamIndex), '-read_intervals', '%+#1', '-show_frames', '-show_entries', 'frame=side_data_list', '-of', 'json', safeInputPath(input)];
}

/** ffprobe arguments listing every packet of every stream with these fields, one CSV line each (csv, not json: a 3-hour film has a million packets). */
export function buildPacketListArgs(input: string, fields: readonly string[]): string[] {
  return ['-v', 'error', '-show_entries', `packet=${fields.join(',')}`, '-of', 'csv=p=0', safeInputPath(input)];
}

/** ffprobe arguments counting the packets of the first video stream (one number). */
export function buildVideoPacketCountArgs(input: string): string[] {
  return ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', safeInputPath(input)];
}

/** ffprobe arguments for the first video stream's packets with their byte position, time and flags, as JSON. */
export function buildVideoPacketPositionsArgs(input: string): string[] {
  return ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pos,pts_time,flags', '-of', 'json', safeInputPath(input)];
}

/** ffprobe arguments for a segment's streams and every packet (time, duration, key flag), as JSON. */
export function buildSegmentPacketsArgs(input: string): string[] {
  const entries = 'stream=index,codec_type,width,height,avg_frame_rate,channels:packet=stream_index,pts_time,duration_time,flags';
  return ['-v', 'error', '-of', 'json', '-show_entries', entries, safeInputPath(input)];
}

/** ffmpeg arguments decoding every stream of a file to a frame checksum per line on stdout (`framecrc`), printing only errors. */
export function buildDecodeAllArgs(input: string): string[] {
  return ['-hide_banner', '-nostdin', '-v', 'error', '-i', safeInputPath(input), '-map', '0', '-f', 'framecrc', '-'];
}
