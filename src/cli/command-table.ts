/**
 * Every command as data: what it does, its arguments and options, the global options it reads
 * and examples. src/cli/program.ts builds the parser and each command's --help from this table,
 * scripts/options-doc.ts writes docs/options.md from it, and the tests read it directly.
 */
import {
  EVENTS_OPTIONS,
  ADD_TRACK_OPTIONS,
  LIST_OPTIONS,
  METRICS_OPTIONS,
  REPORT_OPTIONS,
  SAMPLE_OPTIONS,
  SERVE_OPTIONS,
  STATUS_OPTIONS,
  VALIDATE_OPTIONS,
  WATCH_OPTIONS,
  WORKER_OPTIONS,
} from '../settings/command-options.js';
import { TRANSCODE_OPTIONS } from '../settings/job-settings.js';
import type { OptionSpec } from '../settings/option.js';

/** A global option by its long name (`--db` → 'db'). */
export type GlobalName = 'ffmpeg' | 'ffprobe' | 'db' | 'json' | 'quiet' | 'progress';

export interface ArgumentSpec {
  /** commander syntax: <required>, [optional], <many...>. */
  syntax: string;
  description: string;
  defaultValue?: string;
}

export interface Example {
  /** A complete command line, words separated by single spaces (the tests parse every one). */
  command: string;
  /** What it does. */
  does: string;
}

export interface CommandSpec {
  name: string;
  description: string;
  arguments: ArgumentSpec[];
  options: OptionSpec[];
  /**
   * The global options this command reads, in the order its help lists them. Every global
   * option is accepted everywhere (before or after the command); the others change nothing here.
   */
  globals: GlobalName[];
  examples: Example[];
}

const ALL_GLOBALS: GlobalName[] = ['ffmpeg', 'ffprobe', 'db', 'json', 'quiet', 'progress'];

export const COMMANDS = {
  transcode: {
    name: 'transcode',
    description: 'transcode files (or s3:// objects) into HLS + DASH packages',
    arguments: [{ syntax: '<inputs...>', description: 'media files or s3://bucket/key URIs' }],
    options: TRANSCODE_OPTIONS,
    globals: ALL_GLOBALS,
    examples: [
      { command: 'vidpipe transcode talk.mp4 --out out/', does: 'out/talk/master.m3u8 and out/talk/manifest.mpd' },
      { command: 'vidpipe transcode a.mp4 b.mov --out out/ --json', does: 'a batch; one JSON object per input on stdout' },
      { command: 'vidpipe transcode talk.mp4 --ladder 720p,360p --preset fast --plan', does: 'print the task graph, run nothing' },
    ],
  },
  'add-track': {
    name: 'add-track',
    description: 'add (or remove) audio and subtitle tracks of a published package: a new release that reuses every segment, no re-encode',
    arguments: [{ syntax: '<package>', description: 'the package folder or s3:// prefix (out/<name>), or its video id' }],
    options: ADD_TRACK_OPTIONS,
    globals: ['ffmpeg', 'ffprobe', 'db', 'json', 'quiet'],
    examples: [
      { command: 'vidpipe add-track out/talk --audio-track talk.fr.m4a:fr:dub', does: 'a French dub beside the published audio' },
      { command: 'vidpipe add-track v1a2b3c4d5e6 --subtitles talk.en.srt:en:sdh --audio-track talk.ad.wav:en:description', does: 'by video id: SDH subtitles and audio description' },
      { command: 'vidpipe add-track s3://media/vod/talk --remove-track aac-128k-fr-dub', does: 'a release without that track' },
    ],
  },
  doctor: {
    name: 'doctor',
    description: 'check the setup: the ffmpeg/ffprobe pair in use, the encoders available, SQLite; exit 1 when something required is missing',
    arguments: [],
    options: [],
    globals: ['ffmpeg', 'ffprobe', 'db', 'json'],
    examples: [
      { command: 'vidpipe doctor', does: 'what vidpipe would use, and what is missing' },
      { command: 'vidpipe doctor --ffmpeg /opt/ffmpeg/bin/ffmpeg', does: 'check another ffmpeg (and the ffprobe beside it)' },
    ],
  },
  sample: {
    name: 'sample',
    description: 'generate a synthetic test clip with ffmpeg (testsrc2 + tone)',
    arguments: [{ syntax: '[output]', description: 'file to write', defaultValue: 'vidpipe-sample.mp4' }],
    options: SAMPLE_OPTIONS,
    globals: ['ffmpeg'],
    examples: [
      { command: 'vidpipe sample clip.mp4', does: '12 s of 1280x720 at 30 fps' },
      { command: 'vidpipe sample clip.mp4 --duration 20 --size 1920x1080 --rate 25', does: 'another length, size and rate' },
    ],
  },
  list: {
    name: 'list',
    description: 'list transcoded videos recorded in the database',
    arguments: [],
    options: LIST_OPTIONS,
    globals: ['db', 'json'],
    examples: [
      { command: 'vidpipe list', does: 'the 50 most recent videos' },
      { command: 'vidpipe list --limit 5 --json', does: 'as one JSON document: { "videos": [...] }' },
    ],
  },
  show: {
    name: 'show',
    description: 'show one video: metadata, renditions, outputs and tasks of its latest job',
    arguments: [{ syntax: '<id>', description: 'video id (or a unique prefix)' }],
    options: [],
    globals: ['db', 'json'],
    examples: [
      { command: 'vidpipe show v1a2b', does: 'by a prefix of its id (vidpipe list shows ids)' },
      { command: 'vidpipe show v1a2b3c4d5e6 --json', does: 'as JSON' },
    ],
  },
  validate: {
    name: 'validate',
    description: "check HLS/DASH packages (anyone's, not only vidpipe's) against the HLS and DASH rules; exit 1 when a check fails",
    arguments: [{ syntax: '<target>', description: 'package folder, output folder of packages, master.m3u8 / media playlist, or manifest.mpd (path or http(s) URL)' }],
    options: VALIDATE_OPTIONS,
    globals: ['ffmpeg', 'ffprobe', 'json'],
    examples: [
      { command: 'vidpipe validate out/talk --source talk.mp4', does: 'one package, durations against its source' },
      { command: 'vidpipe validate out/', does: 'every package of an output folder' },
      { command: 'vidpipe validate https://example.com/vod/master.m3u8 --json', does: 'a published playlist, as JSON' },
    ],
  },
  watch: {
    name: 'watch',
    description: 'transcode every upload that appears in a bucket (polling ListObjectsV2, or S3 notifications via SQS)',
    arguments: [{ syntax: '<bucket>', description: 'bucket name or s3://bucket/prefix' }],
    options: WATCH_OPTIONS,
    globals: ALL_GLOBALS,
    examples: [
      { command: 'vidpipe watch s3://media/uploads/ --out s3://media/vod/', does: 'poll every 10 s, package each upload once' },
      { command: 'vidpipe watch s3://media/uploads/ --once --json', does: 'process what is there, one JSON line per upload' },
      { command: 'vidpipe watch s3://media/uploads/ --queue redis://queue:6379', does: 'run each upload on vidpipe worker processes' },
    ],
  },
  worker: {
    name: 'worker',
    description: 'run queued tasks (transcode --queue) from Redis until stopped; needs ffmpeg and S3 access; with --db, record the end of --detach jobs there',
    arguments: [],
    options: WORKER_OPTIONS,
    globals: ['ffmpeg', 'ffprobe', 'db', 'quiet'],
    examples: [
      { command: 'vidpipe worker --redis redis://queue:6379', does: 'half the cores worth of tasks at once' },
      { command: 'vidpipe worker --redis redis://queue:6379 --db /shared/vidpipe.db', does: 'also record the end of --detach jobs in that database' },
      { command: 'vidpipe worker --redis redis://queue:6379 --concurrency 2 --s3-endpoint http://minio:9000', does: 'two at a time, S3-compatible storage' },
    ],
  },
  status: {
    name: 'status',
    description: 'show a queued job (transcode --queue): its tasks, workers, attempts; exit 1 if it failed; with --db, record it there once it has ended',
    arguments: [{ syntax: '<job>', description: 'job id' }],
    options: STATUS_OPTIONS,
    globals: ['db', 'json'],
    examples: [
      { command: 'vidpipe status jmx1a2b3c4d5e6f7 --redis redis://queue:6379', does: 'a job submitted with --queue --detach' },
      { command: 'vidpipe status jmx1a2b3c4d5e6f7 --json', does: 'as JSON, Redis from VIDPIPE_REDIS' },
      { command: 'vidpipe status jmx1a2b3c4d5e6f7 --db meta.db', does: 'once it has ended, record it in meta.db (vidpipe list shows it)' },
    ],
  },
  events: {
    name: 'events',
    description: "the job events (webhooks) in the database's outbox and their delivery state; `events retry` sends the undelivered ones now (signed with VIDPIPE_WEBHOOK_SECRET), exit 1 if some are still undelivered",
    arguments: [{ syntax: '[action]', description: 'list (the default) or retry' }],
    options: EVENTS_OPTIONS,
    globals: ['db', 'json'],
    examples: [
      { command: 'vidpipe events', does: 'every delivery: pending, delivered or failed, its attempts and last answer' },
      { command: 'vidpipe events --json', does: 'as one JSON document: { "deliveries": [...] }' },
      { command: 'vidpipe events retry', does: 'send the pending and given-up ones now' },
    ],
  },
  serve: {
    name: 'serve',
    description: 'serve a package, an output folder of packages, or (without a folder) the catalogue of the metadata records, on loopback with a player page (hls.js and dash.js), storyboard and job report',
    arguments: [{ syntax: '[dir]', description: 'package folder (out/talk) or output folder (out); without it, every published video of --db' }],
    options: SERVE_OPTIONS,
    globals: ['db', 'json', 'quiet'],
    examples: [
      { command: 'vidpipe serve out/talk', does: 'its player page at http://127.0.0.1:8080/' },
      { command: 'vidpipe serve out/', does: 'an index of every package in out/' },
      { command: 'vidpipe serve out/ --port 0 --host 0.0.0.0', does: 'any free port, reachable from the network' },
      { command: 'vidpipe serve --db postgres://db.internal/vidpipe', does: 'every published video of the records, played from where it is published' },
    ],
  },
  metrics: {
    name: 'metrics',
    description: "measure PSNR and SSIM of a video's published renditions against its source and store them",
    arguments: [{ syntax: '<id>', description: 'video id (or a unique prefix)' }],
    options: METRICS_OPTIONS,
    globals: ['ffmpeg', 'ffprobe', 'db', 'json', 'quiet'],
    examples: [
      { command: 'vidpipe metrics v1a2b3c4d5e6', does: 'source and package from the database' },
      { command: 'vidpipe metrics v1a2b --source /new/place/talk.mp4 --package ./copy', does: 'the source moved, the package is a local copy' },
    ],
  },
  report: {
    name: 'report',
    description: 'the job report: ladder, measured bit rates, quality metrics, task timeline',
    arguments: [{ syntax: '<id|dir>', description: 'video id (or a unique prefix), or a package folder with vidpipe.json' }],
    options: REPORT_OPTIONS,
    globals: ['db', 'json'],
    examples: [
      { command: 'vidpipe report v1a2b3c4d5e6', does: 'as text' },
      { command: 'vidpipe report out/talk --html report.html', does: 'from the package alone, as one HTML file' },
    ],
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

/** The whole program's examples (vidpipe --help). */
export const PROGRAM_EXAMPLES: Example[] = [
  { command: 'vidpipe sample clip.mp4', does: 'a test clip' },
  { command: 'vidpipe transcode clip.mp4 --out out/', does: 'HLS + DASH in out/clip/' },
  { command: 'vidpipe serve out/', does: 'watch the results in a browser' },
];
