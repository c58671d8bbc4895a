import { safeInputPath } from './input-path.js';

export interface SubtitleExtractInput {
  input: string;
  /** ffprobe stream index; undefined: the file's first subtitle stream (a sidecar .srt/.ass/.vtt). */
  streamIndex?: number;
  output: string;
}

/** Converts one text subtitle stream to WebVTT (ffmpeg's webvtt encoder turns ASS styling into <i>/<b>/<u>). */
export function buildSubtitleExtractArgs(input: SubtitleExtractInput): string[] {
  return [
    '-i', safeInputPath(input.input),
    '-map', input.streamIndex === undefined ? '0:s:0' : `0:${input.streamIndex}`,
    '-vn', '-an', '-dn', '-map_metadata', '-1', '-map_chapters', '-1',
    '-c:s', 'webvtt', '-f', 'webvtt', input.output,
  ];
}
