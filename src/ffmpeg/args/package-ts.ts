import { safeInputPath } from './input-path.js';

export interface TsPackageInput {
  /** Assembled H.264 rendition (MP4). */
  video: string;
  /** Encoded AAC rendition (MP4) muxed into every segment; absent for a source without audio. */
  audio?: string;
  segmentSeconds: number;
  /** e.g. <dir>/seg_%05d.ts */
  segmentPattern: string;
  /** ffmpeg's own playlist: read for the segment list and durations, then deleted. */
  scratchPlaylist: string;
}
/**
 * MPEG-TS HLS segments by stream copy (video and audio muxed in each segment). The hls muxer
 * cuts at the first key frame at or after each multiple of `segmentSeconds`; the GOP grid puts
 * a key frame exactly there. muxdelay/muxpreload 0 start the timestamps at 0, the same origin
 * as the CMAF tracks, so one WebVTT X-TIMESTAMP-MAP serves both.
 */
export function buildTsPackageArgs(input: TsPackageInput): string[] {
  return [
    '-i', safeInputPath(input.video), ...(input.audio ? ['-i', safeInputPath(input.audio)] : []),
    '-map', '0:v:0', ...(input.audio ? ['-map', '1:a:0'] : []), '-c', 'copy',
    '-muxdelay', '0', '-muxpreload', '0',
    '-f', 'hls', '-hls_time', input.segmentSeconds.toFixed(6), '-hls_playlist_type', 'vod',
    '-hls_segment_type', 'mpegts', '-start_number', '1', '-hls_segment_filename', input.segmentPattern,
    input.scratchPlaylist,
  ];
}
