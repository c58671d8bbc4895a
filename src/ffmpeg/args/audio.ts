import { safeInputPath } from '../probe.js';
import type { AudioRendition } from '../../core/plan.js';

export interface AudioEncodeInput {
  source: string;
  rendition: AudioRendition;
  /** Make the audio exactly this long (pad with silence or cut): the video's duration. Omit for audio-only jobs. */
  fitToSeconds?: number;
  /** Linear gain in dB applied before encoding (loudness normalisation), if any. */
  gainDb?: number;
  /** Extra filters (e.g. a true-peak limiter) after the gain. */
  extraFilters?: string[];
  output: string;
}

/**
 * The audio filter chain. Audio is encoded once for the whole timeline so chunk joins
 * cannot click or drift; `aresample=async=1:first_pts=0` fills a late start with silence,
 * so audio and video both start at 0, and apad+atrim make both end together.
 */
export function buildAudioFilter(input: AudioEncodeInput): string {
  const { sampleRate } = input.rendition;
  const steps = [`aresample=${sampleRate}:async=1:first_pts=0`];
  if (input.gainDb !== undefined && Math.abs(input.gainDb) > 0.01) steps.push(`volume=${input.gainDb.toFixed(2)}dB`);
  steps.push(...(input.extraFilters ?? []));
  if (input.fitToSeconds !== undefined) {
    steps.push('apad', `atrim=end_sample=${Math.round(input.fitToSeconds * sampleRate)}`);
  }
  return steps.join(',');
}

export function buildAudioEncodeArgs(input: AudioEncodeInput): string[] {
  const { rendition } = input;
  return [
    '-i', safeInputPath(input.source),
    '-map', `0:${rendition.streamIndex}`,
    '-vn', '-sn', '-dn', '-map_metadata', '-1', '-map_chapters', '-1',
    '-af', buildAudioFilter(input),
    '-c:a', 'aac', '-b:a', `${rendition.bitrateKbps}k`, '-ac', String(rendition.channels), '-ar', String(rendition.sampleRate),
    '-f', 'mp4', input.output,
  ];
}
