import { availableParallelism } from 'node:os';
import { VidpipeError } from '../errors.js';
import { parseCodecs, parseLadderOption, parsePreset } from '../core/ladder.js';
import type { HlsSegments, TranscodeSettings } from '../core/plan.js';
import { parseSidecarSubtitle } from '../core/stages/subtitles.js';

/**
 * Every command-line option, declared once as data: commander builds the parser and the
 * help from this table, and tests read it without spawning a process.
 */
export interface OptionSpec {
  flags: string;
  description: string;
  defaultValue?: string | boolean | string[];
  /** How help and docs state a default computed at run time (the same text on every machine). */
  defaultDescription?: string;
  /** Environment variable that provides the value when the flag is absent. */
  env?: string;
  /** Repeatable option collecting values into an array. */
  repeatable?: boolean;
}

/** Every S3 wait is bounded: see docs/publishing.md for how the other timeouts derive from this one. */
const S3_TIMEOUT_OPTION: OptionSpec = {
  flags: '--s3-timeout <seconds>',
  description: 'give up on an S3 request (retries included) that has not completed after this long',
  defaultValue: '60',
  env: 'VIDPIPE_S3_TIMEOUT',
};

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
  { flags: '--concurrency <n>', description: 'tasks run in parallel', defaultValue: String(availableParallelism()), defaultDescription: 'the number of cores' },
  { flags: '--segment-duration <seconds>', description: 'CMAF segment duration', defaultValue: '6' },
  { flags: '--chunk-duration <seconds>', description: 'length of parallel encode chunks (default: from duration and concurrency)' },
  { flags: '--audio-bitrate <kbps>', description: 'AAC bit rate per audio rendition', defaultValue: '128' },
  { flags: '--audio-only', description: 'drop the picture and package the audio only' },
  { flags: '--audio-ladder <kbps,…>', description: 'AAC-LC stereo bit rates of audio-only jobs', defaultValue: '64,128,256' },
  { flags: '--sample-rate <hz>', description: 'audio sample rate, 44100 or 48000 (default: the source\'s for audio-only jobs, else 48000)' },
  { flags: '--surround', description: 'audio-only jobs: keep a 5.1 source as an extra 6-channel AAC rendition (384k)' },
  { flags: '--opus [kbps,…]', description: 'add Opus renditions for DASH (default 64,96,160; 96 per stream for video)' },
  { flags: '--loudness <LUFS|off>', description: 'EBU R128 loudness target, true peak ≤ -1 dBTP (default: -14 for audio-only, off for video)' },
  { flags: '--no-thumbnails', description: 'skip poster and storyboard' },
  { flags: '--allow-decode-errors', description: 'package a video whose decoder reports many corrupt frames (refused by default)' },
  { flags: '--hls-segments <fmp4|ts|both>', description: 'HLS segment format; ts/both add MPEG-TS variants (H.264 + AAC) for legacy players', defaultValue: 'fmp4' },
  { flags: '--subtitles <file[:lang]>', description: 'add a sidecar subtitle file (.srt, .vtt, .ass) as a WebVTT rendition (repeatable)', repeatable: true },
  { flags: '--metrics', description: 'measure PSNR and SSIM of every video rendition against the source' },
  { flags: '--tag <key=value>', description: 'tag stored with the video (repeatable)', repeatable: true },
  { flags: '--plan', description: 'print the task graph without running it' },
  { flags: '--stall-timeout <seconds>', description: 'kill an ffmpeg that makes no progress for this long', defaultValue: '300' },
  { flags: '--work-dir <dir>', description: 'folder for intermediate files (default: user cache folder)', env: 'VIDPIPE_WORK_DIR' },
  { flags: '--force', description: 'start over: discard the work kept from an unfinished earlier run of the same job' },
  { flags: '--s3-endpoint <url>', description: 'S3-compatible endpoint (MinIO, Ceph, R2…); path-style addressing (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)', env: 'VIDPIPE_S3_ENDPOINT' },
  { flags: '--s3-region <region>', description: 'S3 region (default: AWS_REGION or the AWS profile\'s, else us-east-1)' },
  S3_TIMEOUT_OPTION,
  { flags: '--queue <redis-url>', description: 'run the tasks on `vidpipe worker` processes through this Redis (input and --out on S3)' },
  { flags: '--detach', description: 'with --queue: print the job id and exit; follow it with `vidpipe status <job>`' },
];

/** `vidpipe worker` and `vidpipe status`: where the queue is, and what this worker may use. */
const REDIS_OPTION: OptionSpec = { flags: '--redis <url>', description: 'Redis holding the task queue, e.g. redis://host:6379', env: 'VIDPIPE_REDIS' };
export const WORKER_OPTIONS: OptionSpec[] = [
  REDIS_OPTION,
  { flags: '--concurrency <n>', description: 'tasks run at once by this worker (default: half the cores; each chunk encode runs one multi-threaded ffmpeg)' },
  { flags: '--lock-duration <seconds>', description: "a task whose worker stops renewing its lock for this long (killed, hung) is run again elsewhere", defaultValue: '30' },
  { flags: '--work-dir <dir>', description: 'folder for downloads and task outputs (default: user cache folder)', env: 'VIDPIPE_WORK_DIR' },
  { flags: '--s3-endpoint <url>', description: 'S3-compatible endpoint (default: the one the job was submitted with)', env: 'VIDPIPE_S3_ENDPOINT' },
  { flags: '--s3-region <region>', description: 'S3 region (default: the one the job was submitted with)' },
  S3_TIMEOUT_OPTION,
];
export const STATUS_OPTIONS: OptionSpec[] = [REDIS_OPTION];

/**
 * `vidpipe watch`: its own flags, then every transcode flag except the per-input ones
 * (--name comes from the key or a sidecar; --plan runs nothing; --detach would leave the
 * watcher unable to tell when an upload is done) and with no local --out default.
 */
export const WATCH_OPTIONS: OptionSpec[] = [
  { flags: '--prefix <prefix>', description: 'only keys below this prefix (default: the one in s3://bucket/prefix, else the whole bucket)' },
  { flags: '--interval <seconds>', description: 'seconds between two ListObjectsV2 polls', defaultValue: '10' },
  { flags: '--max-attempts <n>', description: 'attempts per upload (interrupted or transient failures) before it is marked failed', defaultValue: '3' },
  { flags: '--lease <seconds>', description: 'a claim not renewed for this long (watcher killed) may be taken over', defaultValue: '60' },
  { flags: '--sqs-queue <url>', description: 'consume S3 ObjectCreated notifications from this SQS queue instead of polling' },
  { flags: '--once', description: 'process what is there, then exit (polling: until nothing is left; SQS: until the queue is empty)' },
  ...TRANSCODE_OPTIONS.filter((spec) => !/--(name|plan|detach)\b/.test(spec.flags)).map((spec) =>
    spec.flags.includes('--out')
      ? { ...spec, defaultValue: undefined, description: 'where packages go (default: s3://<bucket>/vod/); each upload gets <out>/<name>/' }
      : spec,
  ),
];

export interface RawWatchOptions extends Omit<RawTranscodeOptions, 'out'> {
  out?: string;
  prefix?: string;
  interval: string;
  maxAttempts: string;
  lease: string;
  sqsQueue?: string;
  once?: boolean;
}

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
  audioLadder?: string;
  sampleRate?: string;
  surround?: boolean;
  opus?: boolean | string;
  loudness?: string;
  thumbnails: boolean;
  allowDecodeErrors?: boolean;
  hlsSegments?: string;
  subtitles?: string[];
  metrics?: boolean;
  tag?: string[];
  plan?: boolean;
  stallTimeout: string;
  queue?: string;
  detach?: boolean;
  workDir?: string;
  force?: boolean;
  s3Endpoint?: string;
  s3Region?: string;
  s3Timeout?: string;
}

export function positiveNumber(flag: string, value: string | undefined, { integer = false, min = 0 } = {}): number {
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
    audioLadderKbps: raw.audioLadder === undefined ? undefined : kbpsList('--audio-ladder', raw.audioLadder, 8, 512),
    audioSampleRate: parseSampleRate(raw.sampleRate),
    surround: raw.surround === true,
    opus: raw.opus !== undefined && raw.opus !== false,
    opusKbps: typeof raw.opus === 'string' ? kbpsList('--opus', raw.opus, 6, 510) : undefined,
    loudness: parseLoudness(raw.loudness),
    audioOnly: raw.audioOnly === true,
    hlsSegments: parseHlsSegments(raw.hlsSegments),
    subtitles: (raw.subtitles ?? []).map(parseSidecarSubtitle),
    ...(raw.allowDecodeErrors ? { allowDecodeErrors: true } : {}),
  };
}

function kbpsList(flag: string, value: string, min: number, max: number): number[] {
  const list = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (list.length === 0) throw new VidpipeError('USAGE', `${flag}: give at least one bit rate in kb/s, e.g. 64,128`);
  return list.map((item) => {
    const kbps = Number(item.replace(/k$/i, ''));
    if (!Number.isInteger(kbps) || kbps < min || kbps > max) throw new VidpipeError('USAGE', `${flag}: "${item}" is not a whole number of kb/s between ${min} and ${max}`);
    return kbps;
  });
}

function parseSampleRate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const rate = Number(value);
  if (rate !== 44100 && rate !== 48000) throw new VidpipeError('USAGE', `--sample-rate: "${value}" is not 44100 or 48000`);
  return rate;
}

function parseLoudness(value: string | undefined): number | 'off' | undefined {
  if (value === undefined) return undefined;
  if (value.trim().toLowerCase() === 'off') return 'off';
  const lufs = Number(value);
  // loudnorm accepts -70…-5 LUFS; anything louder than -5 cannot keep a -1 dBTP ceiling anyway.
  if (!Number.isFinite(lufs) || lufs < -70 || lufs > -5) throw new VidpipeError('USAGE', `--loudness: "${value}" is not "off" or a target between -70 and -5 LUFS`);
  return lufs;
}

function parseHlsSegments(value: string | undefined): HlsSegments {
  const mode = (value ?? 'fmp4').trim().toLowerCase();
  if (mode !== 'fmp4' && mode !== 'ts' && mode !== 'both') throw new VidpipeError('USAGE', `--hls-segments: "${value}" is not fmp4, ts or both`);
  return mode;
}
