import { safeInputPath } from './input-path.js';

export interface DownloadMuxInput {
  /** The encoded H.264 rendition (MP4), as packaged. */
  video: string;
  /** The encoded AAC rendition (MP4); absent for a source without audio. */
  audio?: string;
  /** download.mp4 in the package folder. */
  output: string;
}

/**
 * download.mp4 by stream copy: the rendition's video and the audio rendition's packets as
 * encoded, in one progressive MP4. +faststart moves the moov box before mdat (a second pass
 * over the file), so a browser or a phone plays it while it downloads. No metadata or chapters
 * of the intermediate files; one video and one audio track.
 */
export function buildDownloadArgs(input: DownloadMuxInput): string[] {
  return [
    '-i', safeInputPath(input.video), ...(input.audio ? ['-i', safeInputPath(input.audio)] : []),
    '-map', '0:v:0', ...(input.audio ? ['-map', '1:a:0'] : []),
    '-c', 'copy', '-map_metadata', '-1', '-map_chapters', '-1',
    '-movflags', '+faststart',
    '-f', 'mp4', safeInputPath(input.output),
  ];
}
