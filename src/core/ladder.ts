import { VidpipeError } from '../errors.js';
import type { Rational, VideoStreamInfo } from '../ffmpeg/probe.js';
import { DEFAULT_H264_MAX_SIZE, DEFAULT_H264_RUNGS, interpolateKbps, type RungSpec } from '../settings/rungs.js';
import type { Preset, VideoCodec } from '../settings/job-settings.js';
import { videoEncoderFor, type Av1Encoder, type VideoEncoder } from '../ffmpeg/args/encoders.js';

/** HEVC and AV1 reach H.264's quality at roughly these fractions of its bit rate (Apple's HEVC table vs H.264 table). */
const CODEC_EFFICIENCY: Record<VideoCodec, number> = { h264: 1, hevc: 0.65, av1: 0.55 };

/** A rendition of the ladder, ready to hand to the encoder. */
export interface Rendition {
  /** e.g. "h264-720p"; also the folder name and the DASH Representation id. */
  id: string;
  codec: VideoCodec;
  /** Short-side size class, e.g. 720. */
  size: number;
  /** Coded picture size, what the encoder gets (even, at least MIN_CODED_SIDE[codec]). */
  width: number;
  height: number;
  /**
   * The scaled source inside it, centred, when it is smaller: a source narrower than an encoder
   * accepts (1x1000) is padded with black rather than stretched or enlarged.
   */
  picture?: { width: number; height: number };
  /** Average target, maxrate (~1.1x) and VBV buffer (~2x), kb/s. */
  bitrateKbps: number;
  /**
   * Capped constant quality instead of VBR: the encoder's CRF (x264/x265 0–51, AV1 0–63), with
   * maxrate/bufsize as the cap; bitrateKbps is then the predicted average. Set by the per-title
   * ladder (src/ladder), which found the CRF that meets the quality target.
   */
  crf?: number;
  maxrateKbps: number;
  bufsizeKbps: number;
  /** H.264 profile and level (e.g. "high", "4.1"); empty for other codecs. */
  profile: string;
  level: string;
  /** The ffmpeg encoder that makes it, with the preset in its terms and its threads policy. */
  encoder: VideoEncoder;
}

export interface LadderOptions {
  codecs: VideoCodec[];
  /** Rungs to use (default: DEFAULT_H264_RUNGS). */
  rungs?: RungSpec[];
  /** Output frame rate. */
  frameRate: Rational;
  /** The speed/quality preset, and which AV1 encoder this ffmpeg has. */
  preset: Preset;
  av1Encoder: Av1Encoder;
}

function even(value: number): number {
  return Math.max(2, Math.round(value / 2) * 2);
}

/**
 * The smallest picture side each encoder accepts (measured with the encoders vidpipe uses):
 * x264 needs even sides, x265 refuses "Image size is too small" below 16, SVT-AV1 below 64.
 */
export const MIN_CODED_SIDE: Record<VideoCodec, number> = { h264: 2, hevc: 16, av1: 64 };

/**
 * One side of the scaled picture: even, and never past the source's own side (rounded down to
 * even), so no rendition is enlarged; a 1-pixel side stays 1 and is padded to the coded size.
 */
function pictureSide(exact: number, source: number): number {
  const limit = Math.floor(source / 2) * 2;
  if (limit === 0) return Math.max(1, Math.round(source));
  return Math.min(even(exact), limit);
}

/**
 * Output picture for a size class: the display aspect ratio with even dimensions, no side larger
 * than the source's, and each side at least `minSide` (padding, when the picture is smaller).
 */
export function renditionSize(
  video: Pick<VideoStreamInfo, 'displayWidth' | 'displayHeight'>,
  size: number,
  minSide = MIN_CODED_SIDE.h264,
): { width: number; height: number; picture?: { width: number; height: number } } {
  const { displayWidth: w, displayHeight: h } = video;
  const [exactWidth, exactHeight] = w >= h ? [(size * w) / h, size] : [size, (size * h) / w];
  const picture = { width: pictureSide(exactWidth, w), height: pictureSide(exactHeight, h) };
  const coded = (side: number) => Math.max(minSide, Math.ceil(side / 2) * 2);
  const width = coded(picture.width);
  const height = coded(picture.height);
  return width === picture.width && height === picture.height ? { width, height } : { width, height, picture };
}

/**
 * The ladder for a source: the requested rungs no taller than the source (short side),
 * per codec, with bit rates scaled for aspect ratio, frame rate and codec efficiency.
 * A source smaller than every rung gets one rung at its own size.
 */
export function buildLadder(video: VideoStreamInfo, options: LadderOptions): Rendition[] {
  const rungs = [...(options.rungs ?? DEFAULT_H264_RUNGS)].sort((a, b) => b.size - a.size);
  const sourceShort = Math.min(video.displayWidth, video.displayHeight);
  let chosen = rungs.filter((r) => r.size <= sourceShort);
  if (chosen.length === 0) {
    const size = even(sourceShort);
    chosen = [{ size, kbps: rungs.length ? scaleKbps(rungs[rungs.length - 1]!, size) : interpolateKbps(size) }];
  }
  const unique = chosen.filter((r, i) => chosen.findIndex((o) => o.size === r.size && o.kbps === r.kbps) === i);
  const fps = options.frameRate.num / options.frameRate.den;
  const renditions: Rendition[] = [];
  for (const codec of options.codecs) {
    // The default table's 1440p and 2160p are HEVC/AV1 rungs; asked for by name, any codec gets them.
    const sizes = !options.rungs && codec === 'h264' ? unique.filter((r) => r.size <= DEFAULT_H264_MAX_SIZE) : unique;
    for (const rung of sizes) {
      const { width, height, picture } = renditionSize(video, rung.size, MIN_CODED_SIDE[codec]);
      // The table assumes 16:9 at ≤30 fps: scale by picture area and, sub-linearly, by frame rate.
      const shown = picture ?? { width, height };
      const area = (shown.width * shown.height) / (Math.round((rung.size * 16) / 9) * rung.size);
      const motion = fps > 31 ? Math.pow(fps / 30, 0.6) : 1;
      const kbps = Math.max(64, Math.round(rung.kbps * area * motion * CODEC_EFFICIENCY[codec]));
      const maxrate = Math.round(kbps * 1.1);
      const sameSize = unique.filter((r) => r.size === rung.size).length > 1;
      renditions.push({
        id: `${codec}-${rung.size}p${sameSize ? `-${rung.kbps}k` : ''}`,
        codec,
        size: rung.size,
        width,
        height,
        ...(picture ? { picture } : {}),
        bitrateKbps: kbps,
        maxrateKbps: maxrate,
        bufsizeKbps: kbps * 2,
        profile: codec === 'h264' ? 'high' : codec === 'hevc' ? 'main' : 'main',
        level: codec === 'h264' ? h264Level(width, height, fps, maxrate) : '',
        encoder: videoEncoderFor(codec, options.preset, options.av1Encoder),
      });
    }
  }
  return renditions;
}

function scaleKbps(rung: RungSpec, size: number): number {
  return Math.max(64, Math.round(rung.kbps * Math.pow((size * size) / (rung.size * rung.size), 0.75)));
}

/** H.264 Table A-1 limits: max macroblocks/s, max frame size (MBs), max bit rate (kb/s, Baseline/Main). */
const H264_LEVELS: readonly { level: string; mbps: number; fs: number; br: number }[] = [
  { level: '1.0', mbps: 1485, fs: 99, br: 64 },
  { level: '1.1', mbps: 3000, fs: 396, br: 192 },
  { level: '1.2', mbps: 6000, fs: 396, br: 384 },
  { level: '1.3', mbps: 11880, fs: 396, br: 768 },
  { level: '2.0', mbps: 11880, fs: 396, br: 2000 },
  { level: '2.1', mbps: 19800, fs: 792, br: 4000 },
  { level: '2.2', mbps: 20250, fs: 1620, br: 4000 },
  { level: '3.0', mbps: 40500, fs: 1620, br: 10000 },
  { level: '3.1', mbps: 108000, fs: 3600, br: 14000 },
  { level: '3.2', mbps: 216000, fs: 5120, br: 20000 },
  { level: '4.0', mbps: 245760, fs: 8192, br: 20000 },
  { level: '4.1', mbps: 245760, fs: 8192, br: 50000 },
  { level: '4.2', mbps: 522240, fs: 8704, br: 50000 },
  { level: '5.0', mbps: 589824, fs: 22080, br: 135000 },
  { level: '5.1', mbps: 983040, fs: 36864, br: 240000 },
  { level: '5.2', mbps: 2073600, fs: 36864, br: 240000 },
];

/**
 * The lowest H.264 level whose limits hold for this picture size, frame rate and maxrate
 * (High profile: the bit-rate limit is 1.25x the table). Players decide what they can
 * decode from the level, so declaring the lowest true one widens compatibility.
 */
export function h264Level(width: number, height: number, fps: number, maxrateKbps: number): string {
  const frameMbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const mbps = frameMbs * fps;
  const fit = H264_LEVELS.find((l) => frameMbs <= l.fs && mbps <= l.mbps && maxrateKbps <= l.br * 1.25);
  if (!fit) throw new VidpipeError('USAGE', `${width}x${height} at ${fps.toFixed(2)} fps is beyond H.264 level 5.2`);
  return fit.level;
}

/** Frame rates sources commonly mean when their average is slightly off (variable frame rate phones). */
const STANDARD_RATES: readonly Rational[] = [
  { num: 24000, den: 1001 }, { num: 24, den: 1 }, { num: 25, den: 1 }, { num: 30000, den: 1001 }, { num: 30, den: 1 },
  { num: 48, den: 1 }, { num: 50, den: 1 }, { num: 60000, den: 1001 }, { num: 60, den: 1 },
];

const VFR_TARGETS: readonly number[] = [24, 25, 30, 48, 50, 60];

/** ffprobe's average rate and its base-rate guess disagree when frame durations vary. */
function isVariableRate(video: Pick<VideoStreamInfo, 'avgFrameRate' | 'realFrameRate'>): boolean {
  const { avgFrameRate: avg, realFrameRate: real } = video;
  if (!avg || !real) return false;
  const a = avg.num / avg.den;
  const r = real.num / real.den;
  return Math.abs(a - r) / r > 0.01;
}

/**
 * The output frame rate: the source's own rate (snapped to a standard one when within 1 %,
 * since variable-rate phone video averages to e.g. 29.87), halved while above 60 fps; a variable
 * rate source whose average is no standard rate goes up to the next one (24, 25, 30, 48, 50, 60).
 */
export function chooseFrameRate(video: Pick<VideoStreamInfo, 'avgFrameRate' | 'realFrameRate'>): Rational {
  const candidates = [video.avgFrameRate, video.realFrameRate].filter((r): r is Rational => !!r && r.num / r.den >= 1 && r.num / r.den <= 1000);
  let rate: Rational = candidates[0] ?? { num: 25, den: 1 };
  let fps = rate.num / rate.den;
  while (fps > 60.5) {
    rate = rate.num % 2 === 0 ? { num: rate.num / 2, den: rate.den } : { num: rate.num, den: rate.den * 2 };
    fps = rate.num / rate.den;
  }
  const distance = (s: Rational) => Math.abs(s.num / s.den - fps) / fps;
  const standard = [...STANDARD_RATES].sort((a, b) => distance(a) - distance(b)).find((s) => distance(s) < 0.01);
  if (standard) return standard;
  if (isVariableRate(video) && fps >= 23 && fps <= 60.5) {
    // An average like 27.8 (a 25 fps part then a 30 fps part) is no rate a player expects; rounding
    // up to the next common one only repeats frames where the source was slower, never drops any.
    const up = VFR_TARGETS.find((target) => target >= fps * 0.99);
    if (up) return { num: up, den: 1 };
  }
  if (rate.den > 1001) return { num: Math.round(fps * 1000), den: 1000 };
  return rate;
}
