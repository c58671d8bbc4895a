import { constants, type Stats } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { VidpipeError, isVidpipeError, tailLines } from '../errors.js';
import { sourceLanguage } from '../manifest/language.js';
import { buildFieldOrderArgs, buildProbeArgs } from './args/inspect.js';
import type { AudioTrackRole, SubtitleTrackRole } from '../manifest/roles.js';
import { runCapture } from './run.js';

/** A rational number as ffprobe reports it ("30000/1001"). */
export interface Rational {
  num: number;
  den: number;
}

export interface VideoStreamInfo {
  index: number;
  codec: string;
  profile?: string;
  /** Coded width and height, before rotation. */
  width: number;
  height: number;
  /** Width and height as displayed: rotation and sample aspect ratio applied. */
  displayWidth: number;
  displayHeight: number;
  /** Clockwise rotation to apply for display: 0, 90, 180 or 270. */
  rotation: number;
  sampleAspectRatio: Rational;
  displayAspectRatio: Rational;
  avgFrameRate?: Rational;
  realFrameRate?: Rational;
  pixelFormat?: string;
  bitDepth: number;
  colorSpace?: string;
  colorTransfer?: string;
  colorPrimaries?: string;
  colorRange?: string;
  fieldOrder?: string;
  frameCount?: number;
  startSeconds: number;
  durationSeconds?: number;
  bitrate?: number;
  language?: string;
  /** A still picture (cover art) rather than moving video. */
  isAttachedPicture: boolean;
  /**
   * Where seeks land: key frame times in seconds from the container's start, ascending, as the
   * packet scan found them (src/ffmpeg/timeline.ts); absent when not scanned or every frame is one.
   */
  keyFrameSeconds?: number[];
}

export interface AudioStreamInfo {
  index: number;
  codec: string;
  profile?: string;
  channels: number;
  channelLayout?: string;
  sampleRate: number;
  bitrate?: number;
  language?: string;
  title?: string;
  isDefault: boolean;
  /** From the stream's disposition (visual_impaired, comment, dub); absent: none said. */
  role?: AudioTrackRole;
  startSeconds: number;
  durationSeconds?: number;
}

/** One program of a multi-program container (MPEG-TS): what ffprobe lists under "programs". */
export interface ProgramInfo {
  /** The program number (DVB service id). */
  number: number;
  /** service_name, when the stream carries one. */
  name?: string;
  streamIndexes: number[];
}

export interface SubtitleStreamInfo {
  index: number;
  codec: string;
  language?: string;
  title?: string;
  isDefault: boolean;
  /** From the stream's disposition (forced, hearing_impaired); absent: plain subtitles. */
  role?: SubtitleTrackRole;
}

export interface MediaProbe {
  path: string;
  sizeBytes: number;
  /** Container names as ffprobe lists them, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  container: string;
  containerLongName?: string;
  durationSeconds: number;
  startSeconds: number;
  bitrate?: number;
  tags: Record<string, string>;
  /** The main video stream (first non-picture video), if any. */
  video?: VideoStreamInfo;
  videoStreams: VideoStreamInfo[];
  audioStreams: AudioStreamInfo[];
  subtitleStreams: SubtitleStreamInfo[];
  /**
   * The program the streams above were taken from, when the file holds several (MPEG-TS): the one
   * carrying the main video (the first such program), so a second program never adds its audio.
   */
  program?: ProgramInfo;
  /** Every video and audio stream index of the file, whichever program it belongs to. */
  allMediaStreamIndexes?: number[];
  /** The container states no duration: it was measured from the packets (see timeline.ts). */
  durationMeasured?: boolean;
  /** ffprobe's raw JSON, kept for the metadata record. */
  raw: unknown;
}

interface RawStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  display_aspect_ratio?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  pix_fmt?: string;
  bits_per_raw_sample?: string;
  color_space?: string;
  color_transfer?: string;
  color_primaries?: string;
  color_range?: string;
  field_order?: string;
  nb_frames?: string;
  start_time?: string;
  duration?: string;
  bit_rate?: string;
  channels?: number;
  channel_layout?: string;
  sample_rate?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number | string }[];
}

interface RawProgram {
  program_num?: number;
  tags?: Record<string, string>;
  streams?: { index: number }[];
}

interface RawProbe {
  streams?: RawStream[];
  programs?: RawProgram[];
  format?: {
    format_name?: string;
    format_long_name?: string;
    duration?: string;
    start_time?: string;
    bit_rate?: string;
    tags?: Record<string, string>;
  };
}

export function parseRational(text: string | undefined): Rational | undefined {
  if (!text) return undefined;
  const [n, d = 1] = text.split(/[/:]/).map(Number);
  if (!Number.isFinite(n) || !Number.isFinite(d) || n <= 0 || d <= 0) return undefined;
  return { num: n, den: d };
}

function num(text: string | number | undefined): number | undefined {
  if (text === undefined || text === 'N/A') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function lowerKeys(tags: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags ?? {})) out[key.toLowerCase()] = value;
  return out;
}

/** Rotation from the display matrix (ffprobe 5+) or the legacy `rotate` tag (ffprobe 4). Clockwise degrees. */
function rotationOf(stream: RawStream): number {
  let degrees: number | undefined;
  for (const side of stream.side_data_list ?? []) {
    if (side.rotation !== undefined) degrees = -Number(side.rotation); // display matrix rotation is counter-clockwise
  }
  if (degrees === undefined && stream.tags?.rotate !== undefined) degrees = Number(stream.tags.rotate);
  if (degrees === undefined || !Number.isFinite(degrees)) return 0;
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}

function bitDepthOf(stream: RawStream): number {
  const raw = num(stream.bits_per_raw_sample);
  if (raw) return raw;
  const match = /p(\d+)(le|be)?$/.exec(stream.pix_fmt ?? '');
  return match ? Number(match[1]) : 8;
}

function videoInfo(stream: RawStream): VideoStreamInfo {
  const width = stream.width ?? 0;
  const height = stream.height ?? 0;
  const sar = parseRational(stream.sample_aspect_ratio) ?? { num: 1, den: 1 };
  const rotation = rotationOf(stream);
  const squareWidth = Math.round((width * sar.num) / sar.den);
  const [displayWidth, displayHeight] = rotation % 180 === 0 ? [squareWidth, height] : [height, squareWidth];
  const divisor = gcd(displayWidth, displayHeight) || 1;
  return {
    index: stream.index,
    codec: stream.codec_name ?? 'unknown',
    profile: stream.profile,
    width,
    height,
    displayWidth,
    displayHeight,
    rotation,
    sampleAspectRatio: sar,
    displayAspectRatio: { num: displayWidth / divisor, den: displayHeight / divisor },
    avgFrameRate: parseRational(stream.avg_frame_rate),
    realFrameRate: parseRational(stream.r_frame_rate),
    pixelFormat: stream.pix_fmt,
    bitDepth: bitDepthOf(stream),
    colorSpace: stream.color_space,
    colorTransfer: stream.color_transfer,
    colorPrimaries: stream.color_primaries,
    colorRange: stream.color_range,
    fieldOrder: stream.field_order,
    frameCount: num(stream.nb_frames),
    startSeconds: num(stream.start_time) ?? 0,
    durationSeconds: num(stream.duration),
    bitrate: num(stream.bit_rate),
    language: normaliseLanguage(stream.tags?.language),
    isAttachedPicture: stream.disposition?.attached_pic === 1,
  };
}

/** A stream's language tag when it is one (see sourceLanguage); "und" and junk are no language. */
export function normaliseLanguage(language: string | undefined): string | undefined {
  return sourceLanguage(language);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The programs that carry video or audio; several only in multi-program containers. */
function mediaPrograms(json: RawProbe, streams: RawStream[]): ProgramInfo[] {
  const isMedia = (index: number) => streams.some((s) => s.index === index && (s.codec_type === 'video' || s.codec_type === 'audio'));
  return (json.programs ?? [])
    .map((p) => ({ number: p.program_num ?? 0, name: p.tags?.service_name, streamIndexes: (p.streams ?? []).map((s) => s.index).filter(isMedia) }))
    .filter((p) => p.streamIndexes.length > 0);
}

/** Turns ffprobe's JSON into the typed model, or explains in one line why it is unusable. */
export function parseProbe(path: string, sizeBytes: number, json: RawProbe): MediaProbe {
  const allStreams = json.streams ?? [];
  const allVideo = allStreams.filter((s) => s.codec_type === 'video').map(videoInfo);
  const mainVideo = allVideo.find((v) => !v.isAttachedPicture && v.width > 0 && v.height > 0);
  // Several programs (a DVB multiplex, or two recordings joined): keep to the one with the main
  // video, or the first one with audio, so streams of another program never join the package.
  const programs = mediaPrograms(json, allStreams);
  const program = programs.length > 1
    ? (programs.find((p) => mainVideo && p.streamIndexes.includes(mainVideo.index)) ?? programs[0])
    : undefined;
  // A stream may belong to several programs (a shared PID), or to none.
  const programsOf = (index: number) => (json.programs ?? []).filter((p) => p.streams?.some((s) => s.index === index)).map((p) => p.program_num ?? 0);
  const streams = program
    ? allStreams.filter((s) => {
      const of = programsOf(s.index);
      return of.length === 0 || of.includes(program.number);
    })
    : allStreams;
  const videoStreams = streams.filter((s) => s.codec_type === 'video').map(videoInfo);
  const audioStreams: AudioStreamInfo[] = streams
    .filter((s) => s.codec_type === 'audio')
    .map((s) => ({
      index: s.index,
      codec: s.codec_name ?? 'unknown',
      profile: s.profile,
      channels: s.channels ?? 0,
      channelLayout: s.channel_layout,
      sampleRate: num(s.sample_rate) ?? 0,
      bitrate: num(s.bit_rate),
      language: normaliseLanguage(s.tags?.language),
      title: s.tags?.title,
      isDefault: s.disposition?.default === 1,
      ...roleOf<AudioTrackRole>(s.disposition, [['visual_impaired', 'description'], ['comment', 'commentary'], ['dub', 'dub']]),
      startSeconds: num(s.start_time) ?? 0,
      durationSeconds: num(s.duration),
    }));
  const subtitleStreams: SubtitleStreamInfo[] = streams
    .filter((s) => s.codec_type === 'subtitle')
    .map((s) => ({
      index: s.index,
      codec: s.codec_name ?? 'unknown',
      language: normaliseLanguage(s.tags?.language),
      title: s.tags?.title,
      isDefault: s.disposition?.default === 1,
      ...roleOf<SubtitleTrackRole>(s.disposition, [['forced', 'forced'], ['hearing_impaired', 'sdh']]),
    }));
  const format = json.format ?? {};
  const video = videoStreams.find((v) => !v.isAttachedPicture && v.width > 0 && v.height > 0);
  const streamDurations = [...videoStreams, ...audioStreams].map((s) => s.durationSeconds ?? 0);
  const durationSeconds = num(format.duration) ?? Math.max(0, ...streamDurations);
  return {
    path,
    sizeBytes,
    container: format.format_name ?? 'unknown',
    containerLongName: format.format_long_name,
    durationSeconds,
    startSeconds: num(format.start_time) ?? 0,
    bitrate: num(format.bit_rate),
    tags: lowerKeys(format.tags),
    video,
    videoStreams,
    audioStreams,
    subtitleStreams,
    ...(program ? { program } : {}),
    allMediaStreamIndexes: allStreams.filter((s) => s.codec_type === 'video' || s.codec_type === 'audio').map((s) => s.index),
    raw: json,
  };
}

/** "program 2 (ZDF)": how messages and the metadata name the program a package was made from. */
export function programLabel(program: ProgramInfo): string {
  return `program ${program.number}${program.name ? ` (${program.name})` : ''}`;
}

/** Containers ffprobe recognises that are not audio/video media (images, text). */
const NOT_MEDIA_FORMATS = /^(tty|image2|png_pipe|jpeg_pipe|bmp_pipe|gif|svg_pipe|webp_pipe|txt|srt|ass|webvtt)$/;

/**
 * Beyond these a header is lying or the file is not video: decoding one such frame would take
 * gigabytes in every chunk's ffmpeg, so it is refused from the probe, before anything is decoded.
 * 8192x8192 (67 Mpx) is twice 8K UHD.
 */
const MAX_SIDE = 16384;
const MAX_PIXELS = 8192 * 8192;

/**
 * Checks that a probed file is something vidpipe can process; throws INPUT_INVALID with a
 * one-line reason otherwise.
 */
export function assertProcessable(probe: MediaProbe, options: { durationKnown?: boolean } = {}): void {
  const name = probe.path;
  if (NOT_MEDIA_FORMATS.test(probe.container)) {
    throw new VidpipeError('INPUT_INVALID', `${name} is not a video or audio file (ffprobe reads it as ${probe.containerLongName ?? probe.container})`);
  }
  if (!probe.video && probe.audioStreams.length === 0) {
    throw new VidpipeError('INPUT_INVALID', `${name} has no video or audio stream`);
  }
  if (probe.video && (probe.video.width > MAX_SIDE || probe.video.height > MAX_SIDE || probe.video.width * probe.video.height > MAX_PIXELS)) {
    throw new VidpipeError('INPUT_INVALID', `${name} declares an absurd picture size ${probe.video.width}x${probe.video.height} (vidpipe accepts up to ${MAX_SIDE} per side and ${Math.round(MAX_PIXELS / 1e6)} megapixels)`);
  }
  if (options.durationKnown !== false && !(probe.durationSeconds > 0)) {
    throw new VidpipeError('INPUT_INVALID', `${name} has zero or unknown duration`);
  }
}

/** What a path is when it is not a regular file, for messages that say so. */
function specialFileKind(info: Stats): string | undefined {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  return undefined;
}

/**
 * Checks that a local input is a readable regular file and returns its size. A pipe, device or
 * socket is refused by name: vidpipe reads the input several times (probe, packet scan, chunks
 * in parallel), which a stream cannot give.
 */
export async function statInput(path: string): Promise<Stats> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw new VidpipeError('INPUT_NOT_FOUND', `${path} cannot be read (permission denied)`);
    throw new VidpipeError('INPUT_NOT_FOUND', `${path} does not exist or cannot be read`);
  }
  const kind = specialFileKind(info);
  if (kind) {
    throw new VidpipeError('INPUT_INVALID', `${path} is ${kind}, not a media file`, {
      hint: kind === 'a directory' ? 'pass the files inside it (e.g. dir/*.mp4)' : 'vidpipe reads its input more than once: save the stream to a file first',
    });
  }
  try {
    await access(path, constants.R_OK);
  } catch {
    throw new VidpipeError('INPUT_NOT_FOUND', `${path} cannot be read (permission denied)`);
  }
  return info;
}

export interface ProbeOptions {
  /** The caller measures a duration the container does not state (see timeline.ts): do not refuse it here. */
  durationOptional?: boolean;
}

/** Probes of files as they were when probed, shared by the stages that read the same file. */
const probes = new Map<string, Promise<MediaProbe>>();
const KEPT_PROBES = 8;

/**
 * Runs ffprobe on a local file and returns the typed model. A file probed before in this process
 * and unchanged since (same inode, size, modification and change times) is not probed again:
 * poster and storyboard both read the smallest rendition. Each caller gets its own copy.
 */
export async function probeFile(ffprobe: string, path: string, signal?: AbortSignal, options: ProbeOptions = {}): Promise<MediaProbe> {
  const info = await statInput(path);
  const key = [ffprobe, path, info.dev, info.ino, info.size, info.mtimeMs, info.ctimeMs, options.durationOptional === true].join('\0');
  const shared = probes.get(key);
  if (!shared) {
    const pending = runProbe(ffprobe, path, info.size, signal, options);
    probes.set(key, pending);
    pending.catch(() => probes.delete(key));
    if (probes.size > KEPT_PROBES) probes.delete(probes.keys().next().value!);
    return structuredClone(await pending);
  }
  try {
    return structuredClone(await shared);
  } catch (error) {
    // The caller whose probe this was was stopped; this one was not: it probes for itself.
    if (isVidpipeError(error) && error.code === 'INTERRUPTED' && !signal?.aborted) return runProbe(ffprobe, path, info.size, signal, options);
    throw error;
  }
}

async function runProbe(ffprobe: string, path: string, size: number, signal: AbortSignal | undefined, options: ProbeOptions): Promise<MediaProbe> {
  if (size === 0) throw new VidpipeError('INPUT_INVALID', `${path} is empty (0 bytes)`);

  const { stdout, stderr, exitCode } = await runCapture(ffprobe, buildProbeArgs(path), { signal, label: 'probe' });
  if (exitCode !== 0) {
    const reason = probeFailureReason(stderr) || 'ffprobe cannot read it';
    throw new VidpipeError('INPUT_INVALID', `${path} is not a readable media file: ${reason}`, { stderrTail: tailLines(stderr) });
  }
  let json: RawProbe;
  try {
    json = JSON.parse(stdout) as RawProbe;
  } catch {
    throw new VidpipeError('INPUT_INVALID', `${path}: ffprobe returned unreadable output`);
  }
  const probe = parseProbe(path, size, json);
  assertProcessable(probe, { durationKnown: !options.durationOptional });
  if (probe.video && (!probe.video.fieldOrder || probe.video.fieldOrder === 'unknown')) {
    probe.video.fieldOrder = await fieldOrderFromFrames(ffprobe, path, probe.video.index, signal);
  }
  return probe;
}

/**
 * Older ffprobe builds (ffprobe-static ships 4.0) leave field_order out for interlaced H.264 in
 * MP4, so the first decoded frames' own flags decide: interlaced when most of them say so.
 */
async function fieldOrderFromFrames(ffprobe: string, path: string, streamIndex: number, signal?: AbortSignal): Promise<string | undefined> {
  const { stdout, exitCode } = await runCapture(ffprobe, buildFieldOrderArgs(path, streamIndex), { signal, label: 'probe field order' });
  if (exitCode !== 0) return undefined;
  let frames: { interlaced_frame?: number; top_field_first?: number }[];
  try {
    frames = (JSON.parse(stdout) as { frames?: typeof frames }).frames ?? [];
  } catch {
    return undefined;
  }
  const interlaced = frames.filter((f) => f.interlaced_frame === 1);
  if (frames.length === 0) return undefined;
  if (interlaced.length * 2 <= frames.length) return 'progressive';
  return interlaced.filter((f) => f.top_field_first === 1).length * 2 >= interlaced.length ? 'tt' : 'bb';
}

/**
 * The one line of ffprobe's stderr that says why: its last line is often only the errno of the
 * final step ("huge.y4m: Device or resource busy") while the cause came just before
 * ("[IMGUTILS @ 0x…] Picture size 100000x100000 is invalid"). Logger prefixes and the file name
 * are dropped and the last two distinct messages joined.
 */
export function probeFailureReason(stderr: string): string {
  const messages = tailLines(stderr, 4)
    .split('\n')
    .map((line) => line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '').replace(/^.*?:\s+(?=[A-Z])/, '').trim())
    .filter((line, i, all) => line !== '' && all.indexOf(line) === i);
  return messages.slice(-2).join('; ');
}

/** The first disposition flag set, as a role: what a container says a stream is for. */
function roleOf<R extends string>(disposition: Record<string, number> | undefined, flags: [string, R][]): { role?: R } {
  const found = flags.find(([flag]) => disposition?.[flag] === 1);
  return found ? { role: found[1] } : {};
}
