import { availableParallelism } from 'node:os';
import { VidpipeError } from '../core/errors.js';
import { parseCodecs, parseLadderOption, parsePreset } from '../core/ladder.js';
import type { TranscodeSettings } from '../core/plan.js';

/**
 * Every command-line option, declared once as data: commander builds the parser and the
 * help from this table, and tests read it without spawning a process.
 */
export interface OptionSpec {
  flags: string;
  description: string;
  defaultValue?: string | boolean | string[];
  /** Environment variable that provides the value when the flag is absent. */
  env?: string;
  /** Repeatable option collecting values into an array. */
  repeatable?: boolean;
}

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { flags: '--ffmpeg <path>', description: 'ffmpeg executable to use', env: 'VIDPIPE_FFMPEG' },
  { flags: '--ffprobe <path>', description: 'ffprobe executable to use', env: 'VIDPIPE_FFPROBE' },
  { flags: '--db <path>', description: 'SQLite metadata database (default: user data folder)', env: 'VIDPIPE_DB' },
  { flags: '--json', description: 'machine-readable output: one JSON object per input on stdout' },
  { flags: '-q, --quiet', description: 'no progress output' },
  { flags: '--progress <mode>', description: 'progress display: auto, tty, plain or none', defaultValue: 'auto' },
];

export const TRANSCODE_OPTIONS: OptionSpec[] = [
  { flags: '-o, --out <dir|s3://bucket/prefix>', description: 'where packages go; each input gets <out>/<name>/', defaultValue: 'vidpipe-out' },
  { flags: '--name <name>', description: 'package folder name (default: from the input file name; single input only)' },
  { flags: '--ladder <rungs|profile.json>', description: 'rungs to encode, e.g. 1080p,720p,360p or 480p:1500, or a JSON profile' },
  { flags: '--codecs <list>', description: 'video codecs: h264, hevc, av1 (comma-separated)', defaultValue: 'h264' },
  { flags: '--preset <name>', description: 'encoder speed/quality preset (x264 names; mapped for AV1)', defaultValue: 'medium' },
  { flags: '--concurrency <n>', description: 'tasks run in parallel', defaultValue: String(availableParallelism()) },
  { flags: '--segment-duration <seconds>', description: 'CMAF segment duration', defaultValue: '6' },
  { flags: '--chunk-duration <seconds>', description: 'length of parallel encode chunks (default: from duration and concurrency)' },
  { flags: '--audio-bitrate <kbps>', description: 'AAC bit rate per audio rendition', defaultValue: '128' },
  { flags: '--audio-only', description: 'drop the picture and package the audio only' },
  { flags: '--no-thumbnails', description: 'skip poster and storyboard' },
  { flags: '--tag <key=value>', description: 'tag stored with the video (repeatable)', repeatable: true },
  { flags: '--plan', description: 'print the task graph without running it' },
  { flags: '--stall-timeout <seconds>', description: 'kill an ffmpeg that makes no progress for this long', defaultValue: '300' },
  { flags: '--work-dir <dir>', description: 'folder for intermediate files (default: user cache folder)', env: 'VIDPIPE_WORK_DIR' },
  { flags: '--s3-endpoint <url>', description: 'S3-compatible endpoint (MinIO, Ceph, R2…); path-style addressing', env: 'VIDPIPE_S3_ENDPOINT' },
  { flags: '--s3-region <region>', description: 'S3 region (default: from AWS config, else us-east-1)' },
];

/** What commander hands the transcode action (all strings, as typed). */
export interface RawTranscodeOptions {
  out: string;
  name?: string;
  ladder?: string;
  codecs: string;
  preset: string;
  concurrency: string;
  segmentDuration: string;
  chunkDuration?: string;
  audioBitrate: string;
  audioOnly?: boolean;
  thumbnails: boolean;
  tag?: string[];
  plan?: boolean;
  stallTimeout: string;
  workDir?: string;
  s3Endpoint?: string;
  s3Region?: string;
}

function positiveNumber(flag: string, value: string | undefined, { integer = false, min = 0 } = {}): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= min || (integer && !Number.isInteger(number))) {
    throw new VidpipeError('USAGE', `${flag}: "${value}" is not a ${integer ? 'whole ' : ''}number above ${min}`);
  }
  return number;
}

export function parseTags(values: string[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const value of values ?? []) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new VidpipeError('USAGE', `--tag: "${value}" is not key=value`);
    tags[value.slice(0, eq).trim()] = value.slice(eq + 1);
  }
  return tags;
}

/** Validates the raw flags into settings; every usage error names its flag. */
export function toTranscodeSettings(raw: RawTranscodeOptions): TranscodeSettings {
  const segmentDurationSeconds = positiveNumber('--segment-duration', raw.segmentDuration, { min: 0.5 });
  if (segmentDurationSeconds > 30) throw new VidpipeError('USAGE', '--segment-duration: at most 30 seconds');
  return {
    codecs: parseCodecs(raw.codecs),
    rungs: parseLadderOption(raw.ladder),
    preset: parsePreset(raw.preset),
    segmentDurationSeconds,
    gopSeconds: 2,
    chunkSeconds: raw.chunkDuration ? positiveNumber('--chunk-duration', raw.chunkDuration) : 0,
    concurrency: positiveNumber('--concurrency', raw.concurrency, { integer: true }),
    audioBitrateKbps: positiveNumber('--audio-bitrate', raw.audioBitrate, { integer: true, min: 7 }),
    audioSampleRate: 48000,
    audioOnly: raw.audioOnly === true,
  };
}
