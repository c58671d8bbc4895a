/**
 * Everything that shapes a job's output, in one place: the JobSettings type, its defaults
 * (written once, here) and the option table of `vidpipe transcode` (and `watch`), one entry per
 * setting. The table is typed against JobSettings: a setting without an entry, or without an
 * explicit "not on the command line" marker, does not compile.
 *
 * Adding an option: a field in JobSettings (or TranscodeFlags), its default in DEFAULT_SETTINGS,
 * its entry in TRANSCODE_TABLE (where the help lists it), then `npm run docs`. The plan
 * (src/core/plan.ts) or the graph (src/job/graph.ts) reads the value.
 */
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { VidpipeError } from '../errors.js';
import { join } from 'node:path';
import {
  flag,
  invalid,
  kbpsList,
  listOf,
  numberOf,
  oneOf,
  optionSpecs,
  parseOptions,
  onlyFields,
  parseUploadOptions,
  secretsFromEnvironment,
  secretsOf,
  shareableCopy,
  tagsOf,
  text,
  wrongType,
  type Complete,
  type FlagEntry,
  type Field,
  type OptionSpec,
  type OptionTable,
} from './option.js';
import { parseRungs, type RungSpec } from './rungs.js';
import { DEFAULT_QUALITY_TARGET } from './quality-target.js';
import { decodeKey, decodeKeyId } from './key-values.js';

export type VideoCodec = 'h264' | 'hevc' | 'av1';
export const VIDEO_CODECS: readonly VideoCodec[] = ['h264', 'hevc', 'av1'];
const CODEC_ALIASES: Record<string, VideoCodec> = { avc: 'h264', x264: 'h264', h265: 'hevc', x265: 'hevc' };

/** x264/x265 preset names; the AV1 encoders get them mapped (src/ffmpeg/args/encoders.ts). */
export const PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;
export type Preset = (typeof PRESETS)[number];

export type HlsSegments = 'fmp4' | 'ts' | 'both';

/**
 * `--encrypt`: CMAF 'cbcs' (HLS SAMPLE-AES, DASH, FairPlay/Widevine/PlayReady), CMAF 'cenc'
 * (AES-CTR, older DASH devices), or HLS whole-segment AES-128 (docs/content-protection.md).
 */
export type EncryptionScheme = 'cbcs' | 'cenc' | 'aes-128';
export const ENCRYPTION_SCHEMES: readonly EncryptionScheme[] = ['cbcs', 'cenc', 'aes-128'];

/**
 * What a user may say a track is for; how each is signalled is src/manifest/roles.ts (a layer
 * beside this one, so the lists are written in both; a unit test holds them equal).
 */
export const AUDIO_ROLES = ['main', 'dub', 'description', 'commentary'] as const;
export type AudioRole = (typeof AUDIO_ROLES)[number];
export const SUBTITLE_ROLES = ['forced', 'sdh'] as const;
/** Codecs of the 6-channel renditions `--surround` adds: AAC-LC 5.1, Dolby Digital Plus (ffmpeg's own `eac3` encoder). */
export const SURROUND_CODECS = ['aac', 'eac3'] as const;
export type SurroundCodec = (typeof SURROUND_CODECS)[number];
export type SubtitleRole = (typeof SUBTITLE_ROLES)[number];

/** `--subtitles file.srt:lang:role`: a subtitle file beside the video. */
export interface SidecarSubtitle {
  path: string;
  language: string;
  /** forced or sdh; absent: plain subtitles. */
  role?: SubtitleRole;
}

/** `--audio-track dub.m4a:lang:role@offset`: an audio file beside the video, on its timeline from `offsetSeconds`. */
export interface SidecarAudio {
  path: string;
  language: string;
  /** main, dub, description or commentary; absent: dub (another language's track beside the source's). */
  role?: AudioRole;
  /** Where the file's first sample plays on the video's timeline, seconds (a track that starts late). */
  offsetSeconds?: number;
}

/** Everything a user can choose about one job's output, after parsing and defaults. */
export interface JobSettings {
  /**
   * Video rungs (`--ladder`); undefined: Apple's table (DEFAULT_H264_RUNGS), never taller than the
   * source; 'auto': a per-title ladder chosen from the content (src/ladder, docs/per-title.md).
   */
  rungs?: RungSpec[] | 'auto';
  /**
   * `--ladder auto`: the quality every rung must reach, VMAF (0–100) when the ffmpeg has libvmaf,
   * else PSNR in dB; undefined: the metric's default (DEFAULT_QUALITY_TARGET in src/ladder/quality-target.ts).
   */
  qualityTarget?: number;
  /** `--ladder auto`: no rung's rate above this (kb/s); undefined: the table's rate for each size is the only cap. */
  maxBitrateKbps?: number;
  codecs: VideoCodec[];
  preset: Preset;
  /** Tasks run at once; also sizes the chunks and each encoder's threads. */
  concurrency: number;
  /** Nominal media segment duration, seconds. */
  segmentDurationSeconds: number;
  /** Nominal GOP duration, seconds (the key frame grid). */
  gopSeconds: number;
  /** Chunk length for parallel encoding, seconds; 0 = choose from duration and concurrency. */
  chunkSeconds: number;
  /** AAC bit rate of each source audio stream of a video job. */
  audioBitrateKbps: number;
  /** Drop the picture and run the audio pipeline. */
  audioOnly: boolean;
  /** AAC-LC stereo ladder of audio-only jobs, kb/s. */
  audioLadderKbps: number[];
  /** Output sample rate; undefined: the source's 44.1 or 48 kHz for audio-only jobs, 48 kHz for video. */
  audioSampleRate?: number;
  /** Keep each input of 6 or more channels as extra 5.1 renditions in these codecs beside the stereo one; empty: none. */
  surround: SurroundCodec[];
  /** Opus renditions beside AAC, for DASH only. */
  opus: boolean;
  /** Their bit rates, kb/s; undefined: 64,96,160 for audio-only jobs, 96 per source stream for video. */
  opusKbps?: number[];
  /** Integrated loudness target in LUFS, 'off', or undefined for the default (-14 audio-only, off for video). */
  loudness?: number | 'off';
  /** Poster and storyboard (video) or cover art (audio). */
  thumbnails: boolean;
  /** Package a video whose decoder reports more corrupt frames than DECODE_ERROR_ALLOWANCE. */
  allowDecodeErrors: boolean;
  /** HLS segment format: fMP4, MPEG-TS for legacy players, or both. */
  hlsSegments: HlsSegments;
  /** `--subtitles file:lang:role` sidecar files, added after the source's own text subtitles. */
  subtitles: SidecarSubtitle[];
  /** `--audio-track file:lang:role` sidecar audio files, renditions of the audio group after the source's own streams. */
  audioTracks: SidecarAudio[];
  /** Measure PSNR/SSIM of each video rendition against the source (a `metrics` node). */
  metrics: boolean;
  /** Write download.mp4: the top H.264 rung with the default audio, remuxed progressive (video jobs). */
  download: boolean;
  /** Kill an ffmpeg that reports no progress for this long; 0: never. */
  stallTimeoutSeconds: number;
  /**
   * A local source modified less than this before publishing is watched until it has been
   * unchanged this long, so a writer that pauses (a recorder) shows itself; 0: no wait.
   */
  sourceQuietSeconds: number;
  /** Encrypt the package with this scheme; undefined: clear. */
  encrypt?: EncryptionScheme;
  /** `--key-id`: the content key's ID, 32 lower-case hex digits (public: written into the package). */
  keyId?: string;
  /** `--key`: the content key, 32 lower-case hex digits. Secret: never stored or sent. */
  key?: string;
  /** `--key-file`: a file of key IDs and keys (src/protection/key-file.ts), read by every machine that encrypts. */
  keyFile?: string;
  /** `--cpix`: a CPIX document (a local file or an https:// URL), read by every machine that encrypts. */
  cpix?: string;
  /** `--key-uri`: the URI HLS playlists give for the key (AES-128, or KEYFORMAT "identity"). */
  keyUri?: string;
  /** Where the job's events are POSTed, signed (Standard Webhooks; docs/events.md); they change nothing in the output. */
  webhooks: string[];
  /** The `whsec_…` secret the webhooks are signed with (secret: never stored or sent). */
  webhookSecret?: string;
}

/** What `vidpipe transcode` is asked besides the settings: where things go and how it runs. */
export interface TranscodeFlags {
  /** Parent destination (local folder or s3:// prefix); each package goes to <out>/<name>/. */
  out: string;
  /** Package name given on purpose (see docs/publishing.md). */
  name?: string;
  /** User tags stored with the video. */
  tags: Record<string, string>;
  /** Print the task graph without running it. */
  plan: boolean;
  workDir?: string;
  force: boolean;
  s3Endpoint?: string;
  s3Region?: string;
  s3TimeoutSeconds: number;
  queue?: string;
  detach: boolean;
}

/** Every default of a job, written once. */
export const DEFAULT_SETTINGS: Complete<JobSettings> = {
  rungs: undefined,
  qualityTarget: undefined,
  maxBitrateKbps: undefined,
  codecs: ['h264'],
  preset: 'medium',
  concurrency: availableParallelism(),
  segmentDurationSeconds: 6,
  gopSeconds: 2,
  chunkSeconds: 0,
  audioBitrateKbps: 128,
  audioOnly: false,
  audioLadderKbps: [64, 128, 256],
  audioSampleRate: undefined,
  surround: [],
  opus: false,
  opusKbps: undefined,
  loudness: undefined,
  thumbnails: true,
  allowDecodeErrors: false,
  hlsSegments: 'fmp4',
  subtitles: [],
  audioTracks: [],
  metrics: false,
  download: false,
  stallTimeoutSeconds: 300,
  sourceQuietSeconds: 2,
  encrypt: undefined,
  keyId: undefined,
  key: undefined,
  keyFile: undefined,
  cpix: undefined,
  keyUri: undefined,
  webhooks: [],
  webhookSecret: undefined,
};

export const DEFAULT_TRANSCODE_FLAGS: Complete<TranscodeFlags> = {
  out: 'vidpipe-out',
  name: undefined,
  tags: {},
  plan: false,
  workDir: undefined,
  force: false,
  s3Endpoint: undefined,
  s3Region: undefined,
  s3TimeoutSeconds: 60,
  queue: undefined,
  detach: false,
};

/** Where intermediate files go when --work-dir and VIDPIPE_WORK_DIR are not given: the user's cache folder. */
export function defaultWorkRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VIDPIPE_WORK_DIR) return env.VIDPIPE_WORK_DIR;
  const cache = env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : tmpdir());
  return join(cache, 'vidpipe', 'work');
}

const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

/**
 * `FILE[:LANG[:ROLE]]` read from the right, so a file name may hold colons: a last part naming a
 * role is the role (a role wins over a look-alike language code: "sdh", "dub"), then a language tag.
 */
function parseTrackSpec<R extends string>(value: string, roles: readonly R[], flagName: string, example: string): { path: string; language: string; role?: R } {
  if (!value.trim()) throw invalid({ flag: flagName, from: 'cli' }, `give a file, e.g. ${flagName} ${example}`);
  let rest = value;
  let role: R | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > 0 && (roles as readonly string[]).includes(rest.slice(lastColon + 1))) {
    role = rest.slice(lastColon + 1) as R;
    rest = rest.slice(0, lastColon);
  }
  const colon = rest.lastIndexOf(':');
  const tail = colon > 0 ? rest.slice(colon + 1) : '';
  const [path, language] = colon > 0 && LANGUAGE_TAG.test(tail) ? [rest.slice(0, colon), tail] : [rest, 'und'];
  return { path, language, ...(role ? { role } : {}) };
}

/** One `--subtitles` value: `file.srt:lang:role`, `file.srt:lang`, or just `file.srt` (language "und"); role forced or sdh. */
export function parseSidecarSubtitle(value: string): SidecarSubtitle {
  return parseTrackSpec(value, SUBTITLE_ROLES, '--subtitles', 'captions.srt:en');
}

/** One `--audio-track` value: `file:lang:role`, optionally `@seconds` after it for a track that starts late. */
export function parseSidecarAudio(value: string): SidecarAudio {
  const offset = /@(\d+(?:\.\d+)?)s?$/.exec(value);
  const spec = parseTrackSpec(offset ? value.slice(0, offset.index) : value, AUDIO_ROLES, '--audio-track', 'dub.m4a:fr:dub');
  return { ...spec, ...(offset && Number(offset[1]) > 0 ? { offsetSeconds: Number(offset[1]) } : {}) };
}

function subtitles(value: unknown, field: Field): SidecarSubtitle[] {
  // Local files: only the command line may name them.
  if (!Array.isArray(value) || field.from !== 'cli') throw wrongType(field, 'files given on the command line');
  return value.map((item) => parseSidecarSubtitle(String(item)));
}

/**
 * `--audio-track` files. On the command line, local paths. From an upload (a `watch` sidecar or
 * metadata), objects beside the upload: `"dub.m4a:fr:dub"`, a list of those, or
 * `{"file": "dub.m4a", "language": "fr", "role": "dub", "offset": 2}`; each name is relative to the
 * upload's folder and stays below it (no `/` at the start, no `..`, no scheme), since an upload
 * must never make the watcher read its local files. The watcher resolves and downloads them.
 */
function audioTracks(value: unknown, field: Field): SidecarAudio[] {
  if (field.from === 'cli') {
    if (!Array.isArray(value)) throw wrongType(field, 'files given on the command line');
    return value.map((item) => parseSidecarAudio(String(item)));
  }
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) throw invalid(field, 'give at least one audio file beside the upload');
  return items.map((item) => {
    const track = typeof item === 'string' ? parseSidecarAudio(item) : uploadAudioTrack(item, field);
    return { ...track, path: objectBesideUpload(track.path, field) };
  });
}

/** `{"file": …, "language": …, "role": …, "offset": …}` of an upload's sidecar. */
function uploadAudioTrack(item: unknown, field: Field): SidecarAudio {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) throw wrongType(field, 'audio files as "dub.m4a:fr:dub" or {"file": "dub.m4a", "language": "fr", "role": "dub"}');
  const { file, language, role, offset, ...rest } = item as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw invalid(field, `unknown field "${unknown[0]}" (an audio track has file, language, role and offset)`);
  const path = text(file, { ...field, key: `${field.key ?? 'audioTracks'}.file` });
  const tag = language === undefined ? 'und' : text(language, field);
  if (!LANGUAGE_TAG.test(tag)) throw invalid(field, `"${tag}" is not a language tag such as fr or pt-BR`);
  const said = role === undefined ? undefined : oneOf(AUDIO_ROLES)(role, field);
  const seconds = offset === undefined ? 0 : numberOf({ above: 0, inclusive: true, max: 86_400, unit: 'seconds' })(offset, field);
  return { path, language: tag, ...(said ? { role: said } : {}), ...(seconds > 0 ? { offsetSeconds: seconds } : {}) };
}

/** An object name relative to the upload's folder that stays below it: `dub.m4a`, `tracks/dub.m4a`. */
function objectBesideUpload(name: string, field: Field): string {
  const parts = name.split('/');
  if (name.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(name) || name.includes('\\') || parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw invalid(field, `"${name}" is not the name of an object beside the upload (a relative name such as dub.m4a or tracks/dub.m4a, without .. or a scheme)`);
  }
  return name;
}

function loudness(value: unknown, field: Field): number | 'off' {
  if (typeof value === 'string' && value.trim().toLowerCase() === 'off') return 'off';
  const lufs = typeof value === 'number' ? value : Number(value);
  // loudnorm accepts -70…-5 LUFS; anything louder than -5 cannot keep a -1 dBTP ceiling anyway.
  if (!Number.isFinite(lufs) || lufs < -70 || lufs > -5) throw invalid(field, `"${String(value)}" is not "off" or a target between -70 and -5 LUFS`);
  return lufs;
}

function sampleRate(value: unknown, field: Field): number {
  const rate = Number(value);
  if (rate !== 44100 && rate !== 48000) throw invalid(field, `"${String(value)}" is not 44100 or 48000`);
  return rate;
}

/** `--key-id`: hex, base64 or UUID form, stored as hex (a key ID is public: it is in every init segment). */
function keyIdValue(value: unknown, field: Field): string {
  const kid = decodeKeyId(text(value, field));
  if (!kid) throw invalid(field, `"${String(value)}" is not a 16-byte key ID: give 32 hex digits, base64, or the UUID form (01234567-89ab-cdef-0123-456789abcdef)`);
  return kid.toString('hex');
}

/** `--key`: hex or base64, stored as hex. The message never repeats the value (and `secret` redacts it anyway). */
function keyValue(value: unknown, field: Field): string {
  const key = typeof value === 'string' ? decodeKey(value) : undefined;
  if (!key) throw invalid(field, 'not a 16-byte AES-128 key: give 32 hex digits or base64 (24 characters)');
  return key.toString('hex');
}

/** A local file: only the command line (or this machine's environment) may name one. */
function localFile(value: unknown, field: Field): string {
  if (field.from !== 'cli') throw wrongType(field, 'a file given on the command line');
  return text(value, field);
}

/** `--cpix`: a local file, or an https:// URL (keys never travel over plain http, except to this machine for tests). */
function cpixSource(value: unknown, field: Field): string {
  const source = localFile(value, field);
  if (/^http:\/\//i.test(source) && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/i.test(source)) {
    throw invalid(field, 'a CPIX document holds content keys: fetch it over https://, not http://');
  }
  return source;
}

/**
 * `--webhook` (repeated), VIDPIPE_WEBHOOK (URLs separated by spaces) or an upload's URL or array:
 * http(s) URLs without credentials (a token goes in the path or query; the requests are signed).
 */
function webhookUrls(value: unknown, field: Field): string[] {
  const items = Array.isArray(value) ? value : [value];
  const urls = items.flatMap((item) => text(item, field).split(/\s+/).filter(Boolean));
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid(field, `"${url}" is not a URL`, 'give an http:// or https:// URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalid(field, `"${parsed.protocol}" URLs cannot receive webhooks`, 'give an http:// or https:// URL');
    if (parsed.username || parsed.password) throw invalid(field, `${parsed.host}: a webhook URL cannot hold a user name or password`, 'put a token in the path or query instead; requests are signed with VIDPIPE_WEBHOOK_SECRET');
  }
  return [...new Set(urls)];
}

const codecList = (value: unknown, field: Field): VideoCodec[] => [...new Set(listOf(oneOf(VIDEO_CODECS, CODEC_ALIASES), { empty: 'give at least one of h264, hevc, av1' })(value, field))];
const optionalText = (value: unknown, field: Field): string | undefined => text(value, field);

/** `--surround` alone: AAC 5.1; `--surround eac3` or `aac,eac3`: those codecs; false: none. */
function surroundCodecs(value: unknown, field: Field): SurroundCodec[] {
  if (value === true || value === 'true') return ['aac'];
  if (value === false || value === 'false') return [];
  const codecs = listOf(oneOf(SURROUND_CODECS, { 'e-ac-3': 'eac3', 'ec-3': 'eac3' }), { empty: 'give aac, eac3 or both' })(value, field);
  return [...new Set(codecs)];
}

/**
 * The options of `vidpipe transcode`, in the order --help lists them. The settings part is
 * complete by type; TranscodeFlags are the per-run flags beside it.
 */
export const TRANSCODE_TABLE: OptionTable<JobSettings> & OptionTable<TranscodeFlags> = {
  out: { flags: '-o, --out <dir|s3://bucket/prefix>', description: 'where packages go; each input gets <out>/<name>/', showDefault: true, parse: text },
  name: { flags: '--name <name>', description: 'package folder name (default: from the input file name; single input only)', parse: optionalText, sidecar: true },
  rungs: {
    flags: '--ladder <rungs|auto|profile.json>', description: 'rungs to encode, e.g. 1080p,720p,360p or 480p:1500, a JSON profile, or auto (per-title: rates chosen from the content)',
    parse: parseRungs, sidecar: true,
  },
  qualityTarget: {
    flags: '--quality-target <n>',
    description: `--ladder auto: quality every rung must reach, VMAF when ffmpeg has libvmaf (default ${DEFAULT_QUALITY_TARGET.vmaf}), else PSNR in dB (default ${DEFAULT_QUALITY_TARGET.psnr})`,
    parse: numberOf({ above: 0, max: 100 }), sidecar: true,
  },
  maxBitrateKbps: {
    flags: '--max-bitrate <kbps>', description: '--ladder auto: no rung above this rate (default: the ladder table\'s rate for each size)',
    parse: numberOf({ above: 63, max: 1_000_000, integer: true }), sidecar: true,
  },
  codecs: { flags: '--codecs <list>', description: 'video codecs: h264, hevc, av1 (comma-separated)', showDefault: true, parse: codecList, sidecar: true },
  preset: { flags: '--preset <name>', description: 'encoder speed/quality preset (x264 names; mapped for AV1)', showDefault: true, parse: oneOf(PRESETS), sidecar: true },
  concurrency: {
    flags: '--concurrency <n>', description: 'tasks run in parallel', showDefault: true, defaultDescription: 'the number of cores',
    parse: numberOf({ above: 0, integer: true }),
  },
  segmentDurationSeconds: {
    flags: '--segment-duration <seconds>', description: 'CMAF segment duration', showDefault: true,
    parse: numberOf({ above: 0.5, max: 30, unit: 'seconds' }), sidecar: true,
  },
  gopSeconds: { notOnCommandLine: 'key frames every 2 s: segments are a whole number of GOPs, players switch renditions at any of them' },
  chunkSeconds: { flags: '--chunk-duration <seconds>', description: 'length of parallel encode chunks (default: from duration and concurrency)', parse: numberOf({ above: 0 }), sidecar: true },
  audioBitrateKbps: { flags: '--audio-bitrate <kbps>', description: 'AAC bit rate per audio rendition', showDefault: true, parse: numberOf({ above: 7, integer: true }), sidecar: true },
  audioOnly: { flags: '--audio-only', description: 'drop the picture and package the audio only', parse: flag, sidecar: true },
  audioLadderKbps: { flags: '--audio-ladder <kbps,…>', description: 'AAC-LC stereo bit rates of audio-only jobs', showDefault: true, parse: kbpsList(8, 512) },
  audioSampleRate: { flags: '--sample-rate <hz>', description: 'audio sample rate, 44100 or 48000 (default: the source\'s for audio-only jobs, else 48000)', parse: sampleRate },
  surround: {
    flags: '--surround [aac|eac3,…]',
    description: 'keep every 5.1 (or wider) audio input as 6-channel renditions beside the stereo default: AAC 5.1 384k, or eac3 (Dolby Digital Plus 192k), or both',
    parse: surroundCodecs, sidecar: true,
  },
  opus: { flags: '--opus [kbps,…]', description: 'add Opus renditions for DASH (default 64,96,160; 96 per stream for video)', parse: (value) => value !== false },
  opusKbps: { sameFlagAs: 'opus', parse: (value, field) => (typeof value === 'string' || Array.isArray(value) ? kbpsList(6, 510)(value, field) : undefined) },
  loudness: { flags: '--loudness <LUFS|off>', description: 'EBU R128 loudness target, true peak ≤ -1 dBTP (default: -14 for audio-only, off for video)', parse: loudness },
  thumbnails: { flags: '--no-thumbnails', description: 'skip poster and storyboard', parse: flag, sidecar: true },
  allowDecodeErrors: { flags: '--allow-decode-errors', description: 'package a video whose video or audio decoder reports many corrupt frames (refused by default)', parse: flag },
  hlsSegments: {
    flags: '--hls-segments <fmp4|ts|both>', description: 'HLS segment format; ts/both add MPEG-TS variants (H.264 + AAC) for legacy players', showDefault: true,
    parse: oneOf(['fmp4', 'ts', 'both'] as const),
  },
  subtitles: {
    flags: '--subtitles <file[:lang[:role]]>', description: 'add a sidecar subtitle file (.srt, .vtt, .ass) as a WebVTT rendition; role forced or sdh (repeatable)',
    repeatable: true, parse: subtitles,
  },
  audioTracks: {
    flags: '--audio-track <file[:lang[:role]][@seconds]>',
    description: 'add an audio file as renditions of the audio group, aligned to the video from 0 (or @seconds); role main, dub, description or commentary (repeatable)',
    repeatable: true, parse: audioTracks, sidecar: true, aliases: ['audioTracks'],
  },
  metrics: { flags: '--metrics', description: 'measure PSNR and SSIM of every video rendition against the source', parse: flag },
  download: { flags: '--download', description: 'also write download.mp4: the top H.264 rung with the default audio, remuxed (no encode), moov first (video jobs with h264)', parse: flag, sidecar: true },
  tags: { flags: '--tag <key=value>', description: 'tag stored with the video (repeatable)', repeatable: true, parse: tagsOf, sidecar: true, aliases: ['tags'] },
  plan: { flags: '--plan', description: 'print the task graph without running it', parse: flag },
  stallTimeoutSeconds: {
    flags: '--stall-timeout <seconds>', description: 'kill an ffmpeg that makes no progress for this long (0: never)', showDefault: true,
    parse: numberOf({ above: 0, inclusive: true }),
  },
  sourceQuietSeconds: {
    flags: '--source-quiet <seconds>', description: 'a local source changed less than this before publishing must stay unchanged this long (0: no wait)', showDefault: true,
    env: 'VIDPIPE_SOURCE_QUIET', parse: numberOf({ above: 0, inclusive: true }),
  },
  encrypt: {
    flags: '--encrypt <cbcs|cenc|aes-128>', description: 'encrypt the package: cbcs (HLS SAMPLE-AES and DASH, FairPlay/Widevine/PlayReady), cenc (AES-CTR, DASH), aes-128 (HLS whole segments, fMP4 and MPEG-TS)',
    parse: oneOf(ENCRYPTION_SCHEMES), sidecar: true,
  },
  keyId: { flags: '--key-id <kid>', description: 'the content key\'s ID: 32 hex digits, base64 or UUID form (public: written into the package)', parse: keyIdValue },
  key: {
    flags: '--key <key>', description: 'the content key: 32 hex digits or base64; secret: never stored or sent to workers, who read their own VIDPIPE_KEY',
    env: 'VIDPIPE_KEY', secret: true, parse: keyValue,
  },
  keyFile: { flags: '--key-file <file>', description: 'a file of KID:KEY lines, optionally per track type (video KID:KEY, audio KID:KEY); every encrypting machine reads it', parse: localFile },
  cpix: { flags: '--cpix <file|https-url>', description: 'a CPIX 2.3 document with the content keys and DRM signalling (Widevine, PlayReady, FairPlay, Clear Key); every encrypting machine reads it', parse: cpixSource },
  keyUri: { flags: '--key-uri <uri>', description: 'the key URI HLS playlists give players (needed by aes-128; the key itself is never put in the package)', parse: optionalText },
  webhooks: {
    flags: '--webhook <url>', description: 'POST the job\'s events (job.started, job.succeeded, job.failed) to this URL, signed with VIDPIPE_WEBHOOK_SECRET (repeatable; docs/events.md)',
    env: 'VIDPIPE_WEBHOOK', repeatable: true, parse: webhookUrls, sidecar: true, aliases: ['webhooks'],
  },
  webhookSecret: {
    flags: '--webhook-secret <whsec_…>', description: 'the receivers\' Standard Webhooks secret the events are signed with; secret: never stored or sent (prefer the variable: a flag shows in the process list)',
    // An empty variable is no secret (its format is checked where it signs: src/events/standard-webhooks.ts).
    env: 'VIDPIPE_WEBHOOK_SECRET', secret: true, parse: (value, field) => (typeof value === 'string' && value.trim() === '' ? undefined : text(value, field)),
  },
  workDir: { flags: '--work-dir <dir>', description: 'folder for intermediate files (default: user cache folder)', env: 'VIDPIPE_WORK_DIR', parse: optionalText },
  force: { flags: '--force', description: 'start over: discard the work kept from an unfinished earlier run of the same job', parse: flag },
  s3Endpoint: {
    flags: '--s3-endpoint <url>', description: 'S3-compatible endpoint (MinIO, Ceph, R2…); path-style addressing (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)',
    env: 'VIDPIPE_S3_ENDPOINT', parse: optionalText,
  },
  s3Region: { flags: '--s3-region <region>', description: 'S3 region (default: AWS_REGION or the AWS profile\'s, else us-east-1)', parse: optionalText },
  s3TimeoutSeconds: s3TimeoutEntry(),
  queue: { flags: '--queue <redis-url>', description: 'run the tasks on `vidpipe worker` processes through this Redis (input and --out on S3)', parse: optionalText },
  detach: { flags: '--detach', description: 'with --queue: print the job id and exit; follow it with `vidpipe status <job>`', parse: flag },
};

/** Every S3 wait is bounded: see docs/publishing.md for how the other timeouts derive from this one. */
export function s3TimeoutEntry(): FlagEntry<number> {
  return {
    flags: '--s3-timeout <seconds>',
    description: 'give up on an S3 request (retries included) that has not completed after this long',
    showDefault: true,
    env: 'VIDPIPE_S3_TIMEOUT',
    parse: numberOf({ above: 0 }),
  };
}

const TRANSCODE_DEFAULTS: Complete<JobSettings & TranscodeFlags> = { ...DEFAULT_SETTINGS, ...DEFAULT_TRANSCODE_FLAGS };

/** `vidpipe transcode`'s options as commander and the docs see them. */
export const TRANSCODE_OPTIONS: OptionSpec[] = optionSpecs(TRANSCODE_TABLE, TRANSCODE_DEFAULTS);

/**
 * The settings and flags of `vidpipe transcode` (and `watch`) from commander's values. A watcher
 * may hold a key source without `--encrypt` (`keysWithoutScheme`): the uploads whose sidecar or
 * metadata ask for `encrypt` take their keys from it (src/watch/overrides.ts).
 */
export function parseTranscodeOptions(record: Readonly<Record<string, unknown>>, options: { keysWithoutScheme?: boolean } = {}): { settings: JobSettings; flags: TranscodeFlags } {
  const settings = parseOptions(TRANSCODE_TABLE, DEFAULT_SETTINGS, record);
  assertProtectionSettings(options.keysWithoutScheme && !settings.encrypt ? withoutKeySource(settings) : settings);
  return { settings, flags: parseOptions(TRANSCODE_TABLE, DEFAULT_TRANSCODE_FLAGS, record) };
}

/** The settings that name a key source (and what the keys' signalling needs): meaningful with `encrypt` only. */
const KEY_SOURCE_FIELDS = ['keyId', 'key', 'keyFile', 'cpix', 'keyUri'] as const;

/** The settings without their key source: a clear job of a watcher that holds keys for uploads asking for `encrypt`. */
export function withoutKeySource(settings: JobSettings): JobSettings {
  const clear: JobSettings = { ...settings };
  for (const field of KEY_SOURCE_FIELDS) delete clear[field];
  return clear;
}

/**
 * The encryption settings taken together (each was checked alone by its entry): one key source,
 * complete, for a scheme the segments can carry. Exit 2 with what to give instead.
 */
export function assertProtectionSettings(settings: JobSettings): void {
  const usage = (message: string, hint?: string) => new VidpipeError('USAGE', message, hint ? { hint } : {});
  const given = KEY_SOURCE_FIELDS.filter((field) => settings[field] !== undefined);
  const flagOf = { keyId: '--key-id', key: '--key (or VIDPIPE_KEY)', keyFile: '--key-file', cpix: '--cpix', keyUri: '--key-uri' } as const;
  const scheme = settings.encrypt;
  if (!scheme) {
    if (given.length > 0) throw usage(`${given.map((field) => flagOf[field]).join(', ')} given without --encrypt`, 'add --encrypt cbcs, cenc or aes-128 (docs/content-protection.md), or drop the key options');
    return;
  }
  const sources = [settings.key !== undefined || settings.keyId !== undefined ? '--key-id/--key' : undefined, settings.keyFile ? '--key-file' : undefined, settings.cpix ? '--cpix' : undefined].filter(Boolean);
  if (sources.length === 0) throw usage(`--encrypt ${scheme} needs a key: --key-id and --key (or VIDPIPE_KEY), --key-file, or --cpix`, 'see "Key sources" in docs/content-protection.md');
  if (sources.length > 1) throw usage(`give one key source, not ${sources.join(' and ')}`);
  if (settings.keyId !== undefined && settings.key === undefined) throw usage('--key-id needs --key (or the VIDPIPE_KEY environment variable)');
  if (settings.key !== undefined && settings.keyId === undefined && scheme !== 'aes-128') {
    throw usage(`--encrypt ${scheme} needs --key-id with --key: the key ID is written into the init segments and manifests`);
  }
  if (scheme === 'aes-128' && settings.keyUri === undefined) {
    throw usage('--encrypt aes-128 needs --key-uri: the URI the playlists give players to fetch the key', 'vidpipe never writes the key into the package; serve it from your key server');
  }
  // Before any encode: the package node would refuse an AV1 track only after the ladder is encoded.
  if (scheme !== 'aes-128' && settings.codecs.includes('av1') && !settings.audioOnly) {
    throw usage(`--encrypt ${scheme} covers H.264 and HEVC video; vidpipe does not encrypt AV1 with Common Encryption`, 'drop av1 from --codecs, or use --encrypt aes-128 (whole segments, any codec)');
  }
  if (scheme !== 'aes-128' && settings.hlsSegments !== 'fmp4') {
    throw usage(`--encrypt ${scheme} applies to fMP4 (CMAF) segments only; MPEG-TS variants (--hls-segments ${settings.hlsSegments}) can only be encrypted with aes-128`, 'use --hls-segments fmp4, or --encrypt aes-128');
  }
}

/** What one upload asks for (its sidecar, its object metadata): settings, and the package name and tags. */
export interface UploadOverrides {
  settings: Partial<JobSettings>;
  name?: string;
  tags?: Record<string, string>;
}

/** An upload's record (JSON values or metadata text) through the same entries; only `sidecar` ones are accepted. */
export function parseUploadOverrides(record: Readonly<Record<string, unknown>>, where: string): UploadOverrides {
  const parsed = parseUploadOptions(TRANSCODE_TABLE, record, where);
  const { name, tags } = onlyFields(parsed, DEFAULT_TRANSCODE_FLAGS);
  return { settings: onlyFields(parsed, DEFAULT_SETTINGS), ...(name === undefined ? {} : { name }), ...(tags === undefined ? {} : { tags }) };
}

/**
 * The copy of a job's settings that may be stored or sent: every `secret: true` setting left out.
 * Every path that writes or sends settings goes through it: the job's `options` in SQLite
 * (JobRecorder), queue specs (src/queue/submit.ts), the resume key (src/job/resume.ts), and so
 * on; test/integration/secret-settings.test.ts fails for a path that does not.
 */
export function shareableSettings(settings: JobSettings): JobSettings {
  return shareableCopy(TRANSCODE_TABLE as OptionTable<JobSettings>, settings);
}

/** The secret settings that are set (for a fingerprint: never stored or sent as they are). */
export function secretSettings(settings: JobSettings): Partial<JobSettings> {
  return secretsOf(TRANSCODE_TABLE as OptionTable<JobSettings>, settings);
}

/**
 * Shared settings (a queue spec's) with this machine's own secrets: a worker never gets a secret
 * from the queue; it reads each from its own environment (the entry's `env` variable).
 */
export function withOwnSecrets(shared: JobSettings, env: NodeJS.ProcessEnv = process.env): JobSettings {
  return { ...shareableSettings(shared), ...secretsFromEnvironment(TRANSCODE_TABLE as OptionTable<JobSettings>, env) };
}

/** This machine's own webhook secret (VIDPIPE_WEBHOOK_SECRET): what a process that sends the outbox's events signs with (watch, worker, `vidpipe events retry`). */
export function ownWebhookSecret(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return secretsFromEnvironment(TRANSCODE_TABLE as OptionTable<JobSettings>, env).webhookSecret;
}

/**
 * Settings stored by this or an earlier version (a job's `options` column): fields it did not
 * have yet take today's defaults.
 */
export function storedSettings(stored: Partial<JobSettings>): JobSettings {
  return { ...DEFAULT_SETTINGS, ...stored };
}
