import { join } from 'node:path';
import type { VideoStreamInfo } from '../probe.js';
import { safeInputPath } from './input-path.js';

/**
 * ffmpeg argument builders for still images: poster candidates and poster, storyboard
 * sprites, audio covers. Every image-related ffmpeg command line is assembled here and only
 * here; the stages in src/core/stages decide *what* to build, these functions decide *how*.
 * runFfmpeg adds the common flags (-hide_banner, -y, -progress …) itself.
 */

/** Metadata key that tags each poster candidate frame with its index in `times`. */
export const CANDIDATE_INDEX_KEY = 'vidpipe.candidate';

/** JPEG quality (mjpeg -q:v, 2 = best … 31 = worst). */
const POSTER_QUALITY = 2;
const SMALL_POSTER_QUALITY = 3;
/** Sprite sheets are many small thumbnails seen at a glance: size matters more than detail. */
const STORYBOARD_QUALITY = 5;

export interface ImageSize {
  width: number;
  height: number;
}

/** Nearest even integer ≥ 2: yuv420p (and therefore most encoders) needs even dimensions. */
function even(value: number): number {
  return Math.max(2, Math.round(value / 2) * 2);
}

/** The largest side a baseline JPEG can state (its header holds 16-bit sizes). */
export const JPEG_MAX_SIDE = 65535;

/**
 * The upright, square-pixel size of a video scaled to `width` (its own display width if
 * omitted), both dimensions even, made smaller still when the height would pass `maxHeight`
 * (a 1x1000 strip at 160 wide would be 160000 tall). The probe's display size already has
 * rotation and sample aspect ratio applied, so it matches what ffmpeg's autorotate followed by
 * our scale produce.
 */
export function displaySizeAtWidth(video: VideoStreamInfo, width?: number, maxHeight = JPEG_MAX_SIDE): ImageSize {
  const targetWidth = Math.min(width ?? video.displayWidth, JPEG_MAX_SIDE);
  const scale = Math.min(targetWidth / video.displayWidth, maxHeight / video.displayHeight);
  return {
    width: even(video.displayWidth * scale),
    height: even(video.displayHeight * scale),
  };
}

/** Seconds as ffmpeg's -ss wants them; millisecond precision is finer than any frame. */
function seconds(value: number): string {
  return Math.max(0, value).toFixed(3);
}

/**
 * Escapes a value for use as a filter option inside a filtergraph string. Two levels are
 * parsed: the option list (quote the value so ':' and '\' stay literal) and the graph
 * (backslash-escape what would end or split the filter description).
 */
export function escapeFilterValue(value: string): string {
  const quoted = `'${value.replace(/'/g, `'\\''`)}'`;
  return quoted.replace(/[\\'[\],;]/g, '\\$&');
}

/**
 * Scale to an exact display size and mark pixels square. The decoder output has already been
 * rotated by ffmpeg's autorotate (on by default), so only the sample aspect ratio remains to
 * undo, which an explicit target size does.
 */
function toDisplaySize(size: ImageSize): string {
  return `scale=${size.width}:${size.height},setsar=1`;
}

export interface PosterCandidateArgsInput {
  input: string;
  /** Absolute index of the video stream to sample. */
  streamIndex: number;
  /** Where to sample, in seconds from the start of the file. */
  times: number[];
  /** Analysis resolution: small enough to be fast, large enough for meaningful statistics. */
  size: ImageSize;
  /** File the per-frame statistics are printed to. */
  metadataFile: string;
}

/**
 * One run that measures one frame at each of `times`. Each time is a separate input with
 * input seeking (-ss before -i), so ffmpeg jumps to the nearest keyframe instead of decoding
 * the whole file; `trim` keeps the first frame at or after the time. The frames are tagged
 * with their candidate index (a seek past the last frame yields nothing, so position in the
 * output is not a reliable index), joined with concat, measured with signalstats (brightness,
 * spread) and entropy (detail), and the statistics printed to `metadataFile`.
 */
export function buildPosterCandidateArgs(options: PosterCandidateArgsInput): string[] {
  const input = safeInputPath(options.input);
  const args: string[] = [];
  const branches: string[] = [];
  const labels: string[] = [];
  options.times.forEach((time, index) => {
    args.push('-ss', seconds(time), '-i', input);
    branches.push(
      `[${index}:${options.streamIndex}]trim=end_frame=1,${toDisplaySize(options.size)},format=yuv420p,` +
        `metadata=mode=add:key=${CANDIDATE_INDEX_KEY}:value=${index}[c${index}]`,
    );
    labels.push(`[c${index}]`);
  });
  const measure =
    `${labels.join('')}concat=n=${options.times.length}:v=1:a=0,signalstats,entropy,` +
    `metadata=mode=print:file=${escapeFilterValue(safeInputPath(options.metadataFile))}[out]`;
  args.push('-filter_complex', [...branches, measure].join(';'), '-map', '[out]', '-f', 'null', '-');
  return args;
}

export interface PosterArgsInput {
  input: string;
  streamIndex: number;
  timeSeconds: number;
  full: { path: string; size: ImageSize };
  small: { path: string; size: ImageSize };
}

/**
 * Decodes the frame at `timeSeconds` once and writes it twice: at display size and as a
 * small preview. Input seeking is frame-accurate when transcoding, so this is the same frame
 * the candidate run measured.
 */
export function buildPosterArgs(options: PosterArgsInput): string[] {
  const graph =
    `[0:${options.streamIndex}]${toDisplaySize(options.full.size)},split=2[full][rest];` +
    `[rest]${toDisplaySize(options.small.size)}[small]`;
  return [
    '-ss', seconds(options.timeSeconds),
    '-i', safeInputPath(options.input),
    '-filter_complex', graph,
    ...singleJpeg('[full]', options.full.path, POSTER_QUALITY),
    ...singleJpeg('[small]', options.small.path, SMALL_POSTER_QUALITY),
  ];
}

/** Output options for exactly one JPEG. `-update 1` writes the name as given (a '%' in it is not a pattern). */
function singleJpeg(map: string, path: string, quality: number): string[] {
  return ['-map', map, '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', String(quality), '-f', 'image2', '-update', '1', safeInputPath(path)];
}

export interface StoryboardArgsInput {
  input: string;
  streamIndex: number;
  intervalSeconds: number;
  /** Exactly this many thumbnails are produced. */
  count: number;
  thumb: ImageSize;
  columns: number;
  rows: number;
  /** Folder the sprites are written to, as `sprite_001.jpg`, `sprite_002.jpg` … */
  outDir: string;
  /**
   * The input has a key frame at every multiple of the interval (a vidpipe rendition whose GOPs
   * divide it): decode only the key frames, which are exactly the frames picked.
   */
  keyFramesOnly?: boolean;
}

/** How the image2 muxer names the sheets; spriteFileName must agree with it. */
const SPRITE_FILE_PATTERN = 'sprite_%03d.jpg';

/** Name of the n-th sprite sheet (1-based), as buildStoryboardArgs writes it. */
export function spriteFileName(n: number): string {
  return `sprite_${String(n).padStart(3, '0')}.jpg`;
}

/**
 * One decoding pass producing all sprite sheets. `fps` with start_time=0 and round=up picks the
 * frame at each multiple of the interval (the start of its cue; with the default rounding it
 * would be the last frame before half the interval), counted from the start of the file (so a video
 * stream that starts late is padded with its first frame rather than shifting every
 * thumbnail). The last frame is cloned without end so fps always reaches `count` thumbnails
 * even when the video stream ends before the container (audio running longer); trim then
 * cuts exactly `count` and ends the stream, which stops the cloning. `tile` emits its last,
 * partial sheet at end of stream, padded black.
 *
 * A second output receives every thumbnail and discards it: a sprite sheet is written only
 * every columns×rows intervals, and without it ffmpeg's progress time would stand still long
 * enough on a long video to look like a stall.
 */
export function buildStoryboardArgs(options: StoryboardArgsInput): string[] {
  const interval = options.intervalSeconds;
  const graph =
    `[0:${options.streamIndex}]tpad=stop_mode=clone:stop=-1,` +
    `fps=fps=1/${interval}:start_time=0:round=up,trim=end_frame=${options.count},` +
    `${toDisplaySize(options.thumb)},split=2[thumbs][tick];` +
    `[thumbs]tile=${options.columns}x${options.rows}[sheets]`;
  // The image2 muxer expands %d in the whole path; a literal '%' in the folder must be doubled.
  const pattern = join(options.outDir.replace(/%/g, '%%'), SPRITE_FILE_PATTERN);
  return [
    ...(options.keyFramesOnly ? ['-skip_frame', 'nokey'] : []),
    '-i', safeInputPath(options.input),
    '-filter_complex', graph,
    '-map', '[sheets]', '-c:v', 'mjpeg', '-q:v', String(STORYBOARD_QUALITY), '-f', 'image2', '-start_number', '1', safeInputPath(pattern),
    '-map', '[tick]', '-f', 'null', '-',
  ];
}

export interface WaveformArgsInput {
  input: string;
  /** Absolute index of the audio stream to draw. */
  streamIndex: number;
  size: ImageSize;
  output: string;
  /** Waveform and background colours, as ffmpeg colour strings. */
  waveColor?: string;
  backgroundColor?: string;
}

/**
 * A picture of the whole audio track's waveform. showwavespic keeps every sample until the
 * end, so the audio is first reduced to 8 kHz mono: a few tens of MB for an hour instead of
 * hundreds, and no visible difference at picture resolution. The square-root scale makes
 * quiet passages visible. showwavespic draws on a transparent canvas and JPEG has no alpha,
 * so the waveform is laid over an explicit background colour.
 */
export function buildWaveformArgs(options: WaveformArgsInput): string[] {
  const { width, height } = options.size;
  const graph =
    `[0:${options.streamIndex}]aformat=sample_rates=8000:channel_layouts=mono,` +
    `showwavespic=s=${width}x${height}:scale=sqrt:colors=${options.waveColor ?? '0x4fc3f7'}[wave];` +
    `color=c=${options.backgroundColor ?? '0x101418'}:s=${width}x${height}[bg];` +
    `[bg][wave]overlay=format=auto:shortest=1[out]`;
  return ['-i', safeInputPath(options.input), '-filter_complex', graph, ...singleJpeg('[out]', options.output, POSTER_QUALITY)];
}

export interface CoverExtractArgsInput {
  input: string;
  /** Absolute index of the attached-picture stream. */
  streamIndex: number;
  /** Its codec as probed: a JPEG is copied byte for byte, anything else (PNG, BMP …) re-encoded. */
  codec: string;
  output: string;
}

/**
 * Writes an embedded cover (ID3 APIC, FLAC PICTURE, MP4 covr: all demuxed as a one-packet
 * video stream with the attached_pic disposition) out as a JPEG file.
 */
export function buildCoverExtractArgs(options: CoverExtractArgsInput): string[] {
  const codec = options.codec === 'mjpeg' ? ['-c:v', 'copy'] : ['-c:v', 'mjpeg', '-q:v', String(POSTER_QUALITY)];
  return [
    '-i', safeInputPath(options.input),
    '-map', `0:${options.streamIndex}`,
    '-frames:v', '1',
    ...codec,
    '-f', 'image2', '-update', '1', safeInputPath(options.output),
  ];
}
