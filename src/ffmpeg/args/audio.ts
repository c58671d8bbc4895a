import { safeInputPath } from './input-path.js';
import type { AudioOutputParams } from './params.js';
import { containerLanguage } from '../../manifest/language.js';

/** EBU R128 values as loudnorm measures them: LUFS, LU and dBTP. */
export interface LoudnessMeasurement {
  integrated: number;
  range: number;
  truePeak: number;
  /** Gating threshold of the integrated measurement, LUFS (loudnorm's second pass needs it). */
  threshold: number;
}

/**
 * How one rendition's level is changed. 'linear': one constant gain, so the loudness range and
 * the sound stay as they are. 'limited': the constant gain would push the true peak over the
 * ceiling, so a look-ahead limiter, run at 4x the sample rate where sample peaks approximate
 * true peaks (ITU-R BS.1770-4 Annex 2), holds the peaks at `ceilingDb` after the gain.
 */
export type GainPlan = { mode: 'linear'; gainDb: number } | { mode: 'limited'; gainDb: number; ceilingDb: number };

export interface AudioEncodeInput {
  /** The job's source; a rendition of a `--audio-track` file reads its own file instead. */
  source: string;
  rendition: AudioOutputParams;
  /** Make the audio exactly this long (pad with silence or cut): the video's duration. Omit for audio-only jobs. */
  fitToSeconds?: number;
  /** Loudness normalisation, if any. */
  gain?: GainPlan;
  output: string;
}

/**
 * Channel layout conversion put in the filter graph (not -ac), so the loudness measurement and
 * the encode hear the same downmix: mono plays at equal level on both sides, 5.1 folds centre and
 * surrounds in at -3 dB and drops the LFE (swresample's defaults).
 */
export function channelLayoutFilter(channels: number): string {
  return `aformat=channel_layouts=${channels === 6 ? '5.1' : channels === 1 ? 'mono' : 'stereo'}`;
}

function gainFilters(gain: GainPlan | undefined, sampleRate: number): string[] {
  if (!gain) return [];
  const volume = Math.abs(gain.gainDb) > 0.005 ? [`volume=${gain.gainDb.toFixed(2)}dB`] : [];
  if (gain.mode === 'linear') return volume;
  const limit = Math.pow(10, gain.ceilingDb / 20).toFixed(4);
  // level=false: no make-up gain up to the limit; latency=true: remove the look-ahead delay, so
  // the track keeps its timing and length.
  return [...volume, `aresample=${sampleRate * 4}`, `alimiter=limit=${limit}:attack=5:release=50:level=false:latency=true`, `aresample=${sampleRate}`];
}

/**
 * The audio filter chain. Audio is encoded once for the whole timeline so chunk joins cannot
 * click or drift. For video jobs `aresample=async=1:first_pts=0` fills a late start with
 * silence, so audio and video both start at 0, and apad+atrim make both end together. Audio-only
 * jobs keep the source's own timeline: padding its start (an MP3's decoder delay shows up as a
 * start time of ~25 ms) would make the package longer than the track.
 */
export function buildAudioFilter(input: AudioEncodeInput): string {
  const { sampleRate, channels } = input.rendition;
  const fit = input.fitToSeconds !== undefined;
  const steps = [fit ? `aresample=${sampleRate}:async=1:first_pts=0` : `aresample=${sampleRate}`, channelLayoutFilter(channels)];
  steps.push(...gainFilters(input.gain, sampleRate));
  if (fit) steps.push('apad', `atrim=end_sample=${Math.round(input.fitToSeconds! * sampleRate)}`);
  return steps.join(',');
}

function encoderArgs(rendition: AudioOutputParams): string[] {
  if (rendition.codec === 'opus') {
    // Constrained VBR keeps segment sizes near the nominal rate, as a streaming bit rate ladder needs.
    return ['-c:a', 'libopus', '-b:a', `${rendition.bitrateKbps}k`, '-vbr', 'constrained', '-application', 'audio'];
  }
  // Dolby Digital Plus with ffmpeg's own encoder: constant rate, its dec3 box written from the frames.
  if (rendition.codec === 'eac3') return ['-c:a', 'eac3', '-b:a', `${rendition.bitrateKbps}k`];
  return ['-c:a', 'aac', '-b:a', `${rendition.bitrateKbps}k`];
}

/** The file a rendition's stream is read from: its own `--audio-track` file, or the source. */
export function audioInputOf(rendition: Pick<AudioOutputParams, 'file'>, source: string): string {
  return rendition.file ?? source;
}

export function buildAudioEncodeArgs(input: AudioEncodeInput): string[] {
  const { rendition } = input;
  // A track that starts late is moved along the timeline; the filter's first_pts=0 fills the gap with silence.
  const offset = rendition.offsetSeconds ? ['-itsoffset', rendition.offsetSeconds.toFixed(6)] : [];
  return [
    // Each message tagged with its level: the decoder reports every damaged frame it skips as an error.
    '-loglevel', 'level+error',
    ...offset,
    '-i', safeInputPath(audioInputOf(rendition, input.source)),
    '-map', `0:${rendition.streamIndex}`,
    '-vn', '-sn', '-dn', '-map_metadata', '-1', '-map_chapters', '-1',
    // The source's tags are dropped; the language is the one the manifests give this track.
    '-metadata:s:a:0', `language=${containerLanguage(rendition.language)}`,
    '-af', buildAudioFilter(input),
    ...encoderArgs(rendition), '-ac', String(rendition.channels), '-ar', String(rendition.sampleRate),
    '-f', 'mp4', input.output,
  ];
}

export interface LoudnessMeasureInput {
  /** Source file, or an encoded rendition. */
  input: string;
  /** Stream to measure; omit for the first audio stream. */
  streamIndex?: number;
  /** Measure after converting to this many channels (what the rendition will carry). */
  channels?: number;
}

/**
 * One decoding pass through loudnorm, which prints the EBU R128 integrated loudness, range and
 * true peak (measured on a 4x upsampled signal) as JSON at the end. `-loglevel level+info`
 * overrides the runner's `error` level, which would hide that report, and tags every line with
 * its level so decode errors can be told from the rest.
 */
export function buildLoudnessMeasureArgs(input: LoudnessMeasureInput): string[] {
  const filters = [...(input.channels ? [channelLayoutFilter(input.channels)] : []), 'loudnorm=print_format=json'];
  return [
    '-loglevel', 'level+info',
    '-i', safeInputPath(input.input),
    '-map', input.streamIndex === undefined ? '0:a:0' : `0:${input.streamIndex}`,
    '-vn', '-sn', '-dn',
    '-af', filters.join(','),
    '-f', 'null', '-',
  ];
}

/** What a measurement of digital silence reads: below anything BS.1770 gating lets through. */
export const SILENCE_FLOOR = -99;

/** The JSON block loudnorm prints after its last frame, parsed; undefined when absent. */
export function parseLoudnormReport(stderr: string): LoudnessMeasurement | undefined {
  const start = stderr.lastIndexOf('[Parsed_loudnorm');
  if (start < 0) return undefined;
  const open = stderr.indexOf('{', start);
  const close = stderr.indexOf('}', open);
  if (open < 0 || close < 0) return undefined;
  let report: Record<string, string>;
  try {
    report = JSON.parse(stderr.slice(open, close + 1)) as Record<string, string>;
  } catch {
    return undefined;
  }
  // Silence measures "-inf"; -99 (loudnorm's own floor for measured values) stays a JSON number.
  const value = (key: string) => (/^-inf/i.test(report[key] ?? '') ? SILENCE_FLOOR : Number(report[key]));
  const measurement = { integrated: value('input_i'), range: value('input_lra'), truePeak: value('input_tp'), threshold: value('input_thresh') };
  return Object.values(measurement).some((v) => Number.isNaN(v)) ? undefined : measurement;
}
