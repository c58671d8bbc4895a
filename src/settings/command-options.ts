/**
 * The options of every command other than `transcode` (src/settings/job-settings.ts), one typed
 * table each: the global options, `worker`, `status`, `watch`'s own, `sample`, `list`, `serve`,
 * `validate`, `metrics` and `report`. Each command parses what commander hands it with
 * parseOptions(TABLE, DEFAULTS, values) and gets typed, checked values.
 */
import { availableParallelism } from 'node:os';
import { invalid, numberOf, oneOf, optionSpecs, parseOptions, text, flag, type Complete, type Field, type OptionSpec, type OptionTable } from './option.js';
import { parseSidecarAudio, parseSidecarSubtitle, s3TimeoutEntry, TRANSCODE_OPTIONS, type SidecarAudio, type SidecarSubtitle } from './job-settings.js';

const optionalText = (value: unknown, field: Field): string | undefined => text(value, field);

// ---- global options ------------------------------------------------------------------------

export type ProgressChoice = 'auto' | 'tty' | 'plain' | 'none';

export interface GlobalOptions {
  ffmpeg?: string;
  ffprobe?: string;
  db?: string;
  json: boolean;
  quiet: boolean;
  progress: ProgressChoice;
}

export const GLOBAL_DEFAULTS: Complete<GlobalOptions> = { ffmpeg: undefined, ffprobe: undefined, db: undefined, json: false, quiet: false, progress: 'auto' };

const GLOBAL_TABLE: OptionTable<GlobalOptions> = {
  ffmpeg: { flags: '--ffmpeg <path>', description: 'ffmpeg executable to use', env: 'VIDPIPE_FFMPEG', parse: optionalText },
  ffprobe: { flags: '--ffprobe <path>', description: 'ffprobe executable to use', env: 'VIDPIPE_FFPROBE', parse: optionalText },
  db: { flags: '--db <target>', description: 'metadata database: a SQLite file, or a postgres:// URL shared by several machines (default: a SQLite file in the user data folder)', env: 'VIDPIPE_DB', parse: optionalText },
  json: { flags: '--json', description: 'machine-readable output: one JSON object per input on stdout', parse: flag },
  quiet: { flags: '-q, --quiet', description: 'no progress output', parse: flag },
  progress: { flags: '--progress <mode>', description: 'progress display: auto, tty, plain or none', showDefault: true, parse: oneOf(['auto', 'tty', 'plain', 'none'] as const) },
};
export const GLOBAL_OPTIONS: OptionSpec[] = optionSpecs(GLOBAL_TABLE, GLOBAL_DEFAULTS);
export const parseGlobalOptions = (values: Readonly<Record<string, unknown>>): GlobalOptions => parseOptions(GLOBAL_TABLE, GLOBAL_DEFAULTS, values);

// ---- worker and status ---------------------------------------------------------------------

export interface WorkerOptions {
  redis?: string;
  /** Tasks run at once by this worker. */
  concurrency: number;
  lockDurationSeconds: number;
  workDir?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3TimeoutSeconds: number;
}

const redisEntry = { flags: '--redis <url>', description: 'Redis holding the task queue, e.g. redis://host:6379', env: 'VIDPIPE_REDIS', parse: optionalText };

export const WORKER_DEFAULTS: Complete<WorkerOptions> = {
  redis: undefined,
  // Each chunk encode is one multi-threaded ffmpeg: half the cores' worth of them keeps the machine busy.
  concurrency: Math.max(1, Math.floor(availableParallelism() / 2)),
  lockDurationSeconds: 30,
  workDir: undefined,
  s3Endpoint: undefined,
  s3Region: undefined,
  s3TimeoutSeconds: 60,
};

const WORKER_TABLE: OptionTable<WorkerOptions> = {
  redis: redisEntry,
  concurrency: { flags: '--concurrency <n>', description: 'tasks run at once by this worker (default: half the cores; each chunk encode runs one multi-threaded ffmpeg)', parse: numberOf({ above: 0, integer: true }) },
  lockDurationSeconds: {
    flags: '--lock-duration <seconds>', description: 'a task whose worker stops renewing its lock for this long (killed, hung) is run again elsewhere', showDefault: true,
    parse: numberOf({ above: 0 }),
  },
  workDir: { flags: '--work-dir <dir>', description: 'folder for downloads and task outputs (default: user cache folder)', env: 'VIDPIPE_WORK_DIR', parse: optionalText },
  s3Endpoint: { flags: '--s3-endpoint <url>', description: 'S3-compatible endpoint (default: the one the job was submitted with)', env: 'VIDPIPE_S3_ENDPOINT', parse: optionalText },
  s3Region: { flags: '--s3-region <region>', description: 'S3 region (default: the one the job was submitted with)', parse: optionalText },
  s3TimeoutSeconds: s3TimeoutEntry(),
};
export const WORKER_OPTIONS: OptionSpec[] = optionSpecs(WORKER_TABLE, WORKER_DEFAULTS);
export const parseWorkerOptions = (values: Readonly<Record<string, unknown>>): WorkerOptions => parseOptions(WORKER_TABLE, WORKER_DEFAULTS, values);

export interface StatusOptions {
  redis?: string;
}
const STATUS_TABLE: OptionTable<StatusOptions> = { redis: redisEntry };
const STATUS_DEFAULTS: Complete<StatusOptions> = { redis: undefined };
export const STATUS_OPTIONS: OptionSpec[] = optionSpecs(STATUS_TABLE, STATUS_DEFAULTS);
export const parseStatusOptions = (values: Readonly<Record<string, unknown>>): StatusOptions => parseOptions(STATUS_TABLE, STATUS_DEFAULTS, values);

// ---- watch ---------------------------------------------------------------------------------

/** `vidpipe watch`'s own options; it takes the transcode options too (WATCH_OPTIONS). */
export interface WatchOptions {
  prefix?: string;
  intervalSeconds: number;
  maxAttempts: number;
  leaseSeconds: number;
  sqsQueue?: string;
  once: boolean;
  /** Where packages go; undefined: s3://<bucket>/vod/. */
  out?: string;
}

const WATCH_DEFAULTS: Complete<WatchOptions> = { prefix: undefined, intervalSeconds: 10, maxAttempts: 3, leaseSeconds: 60, sqsQueue: undefined, once: false, out: undefined };

const WATCH_TABLE: OptionTable<WatchOptions> = {
  // An empty --prefix is the whole bucket: its own text, not optionalText.
  prefix: { flags: '--prefix <prefix>', description: 'only keys below this prefix, taken as written: a leading or doubled / is part of it (default: the one in s3://bucket/prefix, else the whole bucket)', parse: (value) => String(value) },
  intervalSeconds: { flags: '--interval <seconds>', description: 'seconds between two ListObjectsV2 polls', showDefault: true, parse: numberOf({ above: 0 }) },
  maxAttempts: { flags: '--max-attempts <n>', description: 'attempts per upload (interrupted or transient failures) before it is marked failed', showDefault: true, parse: numberOf({ above: 0, integer: true }) },
  leaseSeconds: { flags: '--lease <seconds>', description: 'a claim not renewed for this long (watcher killed) may be taken over', showDefault: true, parse: numberOf({ above: 0 }) },
  sqsQueue: { flags: '--sqs-queue <url>', description: 'consume S3 ObjectCreated notifications from this SQS queue instead of polling', parse: optionalText },
  once: { flags: '--once', description: 'process what is there, then exit (polling: until nothing is left; SQS: until the queue is empty)', parse: flag },
  out: { flags: '-o, --out <dir|s3://bucket/prefix>', description: 'where packages go (default: s3://<bucket>/vod/); each upload gets <out>/<name>/', parse: optionalText },
};

/**
 * `vidpipe watch`: its own flags, then every transcode flag except the per-input ones
 * (--name comes from the key or a sidecar; --plan runs nothing; --detach would leave the
 * watcher unable to tell when an upload is done) and with no local --out default.
 */
export const WATCH_OPTIONS: OptionSpec[] = [...optionSpecs(WATCH_TABLE, WATCH_DEFAULTS), ...TRANSCODE_OPTIONS.filter((spec) => !/--(out|name|plan|detach)\b/.test(spec.flags))];
export const parseWatchOptions = (values: Readonly<Record<string, unknown>>): WatchOptions => parseOptions(WATCH_TABLE, WATCH_DEFAULTS, values);

// ---- sample, list, serve, validate, metrics, report ----------------------------------------

export interface SampleOptions {
  durationSeconds: number;
  size: { width: number; height: number };
  frameRate: number;
}

function pictureSize(value: unknown, field: Field): { width: number; height: number } {
  const match = /^(\d+)x(\d+)$/.exec(text(value, field));
  if (!match || Number(match[1]) < 2 || Number(match[2]) < 2) throw invalid(field, `"${String(value)}" is not WIDTHxHEIGHT`);
  return { width: Number(match[1]), height: Number(match[2]) };
}

const SAMPLE_DEFAULTS: Complete<SampleOptions> = { durationSeconds: 12, size: { width: 1280, height: 720 }, frameRate: 30 };
const SAMPLE_TABLE: OptionTable<SampleOptions> = {
  durationSeconds: { flags: '--duration <seconds>', description: 'length', showDefault: true, parse: numberOf({ above: 0, max: 3600, unit: 'seconds' }) },
  size: { flags: '--size <WxH>', description: 'picture size', showDefault: (size) => `${size.width}x${size.height}`, parse: pictureSize },
  frameRate: { flags: '--rate <fps>', description: 'frame rate', showDefault: true, parse: numberOf({ above: 0, max: 240 }) },
};
export const SAMPLE_OPTIONS: OptionSpec[] = optionSpecs(SAMPLE_TABLE, SAMPLE_DEFAULTS);
export const parseSampleOptions = (values: Readonly<Record<string, unknown>>): SampleOptions => parseOptions(SAMPLE_TABLE, SAMPLE_DEFAULTS, values);

export interface ListOptions {
  limit: number;
}
const LIST_DEFAULTS: Complete<ListOptions> = { limit: 50 };
const LIST_TABLE: OptionTable<ListOptions> = {
  limit: { flags: '--limit <n>', description: 'at most this many, most recently updated first', showDefault: true, parse: numberOf({ above: 0, integer: true }) },
};
export const LIST_OPTIONS: OptionSpec[] = optionSpecs(LIST_TABLE, LIST_DEFAULTS);
export const parseListOptions = (values: Readonly<Record<string, unknown>>): ListOptions => parseOptions(LIST_TABLE, LIST_DEFAULTS, values);

export interface EventsOptions {
  limit: number;
}
const EVENTS_DEFAULTS: Complete<EventsOptions> = { limit: 50 };
const EVENTS_TABLE: OptionTable<EventsOptions> = {
  limit: { flags: '--limit <n>', description: 'list at most this many deliveries, newest event first', showDefault: true, parse: numberOf({ above: 0, integer: true }) },
};
export const EVENTS_OPTIONS: OptionSpec[] = optionSpecs(EVENTS_TABLE, EVENTS_DEFAULTS);
export const parseEventsOptions = (values: Readonly<Record<string, unknown>>): EventsOptions => parseOptions(EVENTS_TABLE, EVENTS_DEFAULTS, values);

/** A content key given to `vidpipe serve` for its ClearKey player: key ID and AES-128 key, 32 lowercase hex digits each. */
export interface ClearKey {
  kid: string;
  key: string;
}

export interface ServeOptions {
  port: number;
  host: string;
  /** Keys the player page decrypts with (secret: only ever in the served page, in memory). */
  clearKeys?: ClearKey[];
  /** `serve --db`: the storage settings packages recorded on S3 are read with. */
  s3Endpoint?: string;
  s3Region?: string;
  s3TimeoutSeconds: number;
}

/** `--clear-key KID:KEY` / `validate --key KID:KEY` (repeatable), each 32 hex digits; a KID may be written as a UUID. */
function clearKeys(value: unknown, field: Field): ClearKey[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    const match = /^([0-9a-f-]{32,36}):([0-9a-f]{32})$/i.exec(text(item, field).trim());
    const kid = match?.[1]!.replace(/-/g, '');
    if (!match || kid!.length !== 32) throw invalid(field, 'a clear key is KID:KEY, two 16-byte values in hex', `e.g. ${field.flag} 0123456789abcdef0123456789abcdef:00112233445566778899aabbccddeeff`);
    return { kid: kid!.toLowerCase(), key: match[2]!.toLowerCase() };
  });
}

const SERVE_DEFAULTS: Complete<ServeOptions> = { port: 8080, host: '127.0.0.1', clearKeys: undefined, s3Endpoint: undefined, s3Region: undefined, s3TimeoutSeconds: 60 };
const SERVE_TABLE: OptionTable<ServeOptions> = {
  port: { flags: '--port <n>', description: 'TCP port (0: any free port)', showDefault: true, parse: numberOf({ above: 0, inclusive: true, max: 65535, integer: true }) },
  host: { flags: '--host <address>', description: 'address to listen on (0.0.0.0: reachable from the network)', showDefault: true, parse: text },
  clearKeys: {
    flags: '--clear-key <kid:key>',
    description: 'play an encrypted package with ClearKey: key ID and key in hex (repeatable; kept in memory, put only into the served player page)',
    repeatable: true,
    secret: true,
    parse: clearKeys,
  },
  s3Endpoint: { flags: '--s3-endpoint <url>', description: 'with --db: S3-compatible endpoint of the packages recorded on s3://', env: 'VIDPIPE_S3_ENDPOINT', parse: optionalText },
  s3Region: { flags: '--s3-region <region>', description: 'with --db: S3 region (default: AWS_REGION or the AWS profile\'s, else us-east-1)', parse: optionalText },
  s3TimeoutSeconds: s3TimeoutEntry(),
};
export const SERVE_OPTIONS: OptionSpec[] = optionSpecs(SERVE_TABLE, SERVE_DEFAULTS);
export const parseServeOptions = (values: Readonly<Record<string, unknown>>): ServeOptions => parseOptions(SERVE_TABLE, SERVE_DEFAULTS, values);

export interface ValidateOptions {
  source?: string;
  /** Content keys the encrypted tracks are decrypted with, to check they decode (secret: used in memory only). */
  keys?: ClearKey[];
}
const VALIDATE_DEFAULTS: Complete<ValidateOptions> = { source: undefined, keys: undefined };
const VALIDATE_TABLE: OptionTable<ValidateOptions> = {
  source: { flags: '--source <file>', description: 'the source file: playlist and MPD durations must match its duration (one package only)', parse: optionalText },
  keys: {
    flags: '--key <kid:key>',
    description: 'decrypt each encrypted track with the key for its KID and check it decodes: key ID and key in hex (repeatable; AES-128 tracks try every key; kept in memory only)',
    repeatable: true,
    secret: true,
    parse: clearKeys,
  },
};
export const VALIDATE_OPTIONS: OptionSpec[] = optionSpecs(VALIDATE_TABLE, VALIDATE_DEFAULTS);
export const parseValidateOptions = (values: Readonly<Record<string, unknown>>): ValidateOptions => parseOptions(VALIDATE_TABLE, VALIDATE_DEFAULTS, values);

export interface MetricsOptions {
  source?: string;
  packageDir?: string;
}
const METRICS_DEFAULTS: Complete<MetricsOptions> = { source: undefined, packageDir: undefined };
const METRICS_TABLE: OptionTable<MetricsOptions> = {
  source: { flags: '--source <file>', description: 'the source file, when it moved since the transcode', parse: optionalText },
  packageDir: { flags: '--package <dir>', description: 'a local copy of the package, when it was published elsewhere (S3)', parse: optionalText },
};
export const METRICS_OPTIONS: OptionSpec[] = optionSpecs(METRICS_TABLE, METRICS_DEFAULTS);
export const parseMetricsOptions = (values: Readonly<Record<string, unknown>>): MetricsOptions => parseOptions(METRICS_TABLE, METRICS_DEFAULTS, values);

export interface ReportOptions {
  html?: string;
}
const REPORT_DEFAULTS: Complete<ReportOptions> = { html: undefined };
const REPORT_TABLE: OptionTable<ReportOptions> = {
  html: { flags: '--html <file>', description: 'write it as one self-contained HTML file', parse: optionalText },
};
export const REPORT_OPTIONS: OptionSpec[] = optionSpecs(REPORT_TABLE, REPORT_DEFAULTS);
export const parseReportOptions = (values: Readonly<Record<string, unknown>>): ReportOptions => parseOptions(REPORT_TABLE, REPORT_DEFAULTS, values);

// ---- add-track -----------------------------------------------------------------------------

export interface AddTrackOptions {
  audioTracks: SidecarAudio[];
  subtitles: SidecarSubtitle[];
  /** Audio or subtitle track ids to leave out of the new release. */
  removeTracks: string[];
  workDir?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3TimeoutSeconds: number;
}

const ADD_TRACK_DEFAULTS: Complete<AddTrackOptions> = { audioTracks: [], subtitles: [], removeTracks: [], workDir: undefined, s3Endpoint: undefined, s3Region: undefined, s3TimeoutSeconds: 60 };

const listOf = <T>(parse: (value: string) => T) => (value: unknown, field: Field): T[] => {
  if (!Array.isArray(value)) throw invalid(field, 'give it once per track');
  return value.map((item) => parse(text(item, field)));
};

const ADD_TRACK_TABLE: OptionTable<AddTrackOptions> = {
  audioTracks: {
    flags: '--audio-track <file[:lang[:role]][@seconds]>',
    description: 'an audio file to add as renditions of the audio group (encoded like the package\'s audio, aligned to the video from 0 or @seconds); role main, dub, description or commentary (repeatable)',
    repeatable: true, parse: listOf(parseSidecarAudio),
  },
  subtitles: {
    flags: '--subtitles <file[:lang[:role]]>', description: 'a subtitle file (.srt, .vtt, .ass) to add as a WebVTT rendition; role forced or sdh (repeatable)',
    repeatable: true, parse: listOf(parseSidecarSubtitle),
  },
  removeTracks: { flags: '--remove-track <id>', description: 'an audio or subtitle track to leave out, by its id (e.g. aac-128k-fr-dub, sub-en; vidpipe show lists them) (repeatable)', repeatable: true, parse: listOf((id) => id) },
  workDir: { flags: '--work-dir <dir>', description: 'folder for intermediate files (default: user cache folder)', env: 'VIDPIPE_WORK_DIR', parse: optionalText },
  s3Endpoint: { flags: '--s3-endpoint <url>', description: 'S3-compatible endpoint of an s3:// package', env: 'VIDPIPE_S3_ENDPOINT', parse: optionalText },
  s3Region: { flags: '--s3-region <region>', description: 'S3 region (default: AWS_REGION or the AWS profile\'s, else us-east-1)', parse: optionalText },
  s3TimeoutSeconds: s3TimeoutEntry(),
};
export const ADD_TRACK_OPTIONS: OptionSpec[] = optionSpecs(ADD_TRACK_TABLE, ADD_TRACK_DEFAULTS);
export const parseAddTrackOptions = (values: Readonly<Record<string, unknown>>): AddTrackOptions => parseOptions(ADD_TRACK_TABLE, ADD_TRACK_DEFAULTS, values);
