/**
 * `--ladder`: which rungs to encode. Given as text (`1080p,720p,360p`, `480p:1500`), as a JSON
 * profile file on the command line, or as JSON values by an upload (`["720p", {"size": 360,
 * "kbps": 700}]` or `{"rungs": […]}`). An upload must never make vidpipe read local files, so
 * only the command line may name a profile.
 */
import { readFileSync } from 'node:fs';
import { VidpipeError } from '../errors.js';
import { invalid, text, wrongType, type Field } from './option.js';

/** One rung as a user or profile describes it: a size class and a target bit rate. */
export interface RungSpec {
  /** Short side of the picture in pixels (720 for 1280x720 or for a 720x1280 portrait video). */
  size: number;
  /** Target average video bit rate, kb/s, for a 16:9 picture at up to 30 fps. */
  kbps: number;
}

/**
 * Apple's HLS authoring table (H.264, 16:9), one rung per size class. The rates are H.264's;
 * HEVC and AV1 rungs scale them by their efficiency (src/core/ladder.ts). 2160p and 1440p are in
 * Apple's HEVC table (11600 and 8100 kb/s SDR), not its H.264 one, so the default ladder gives
 * them to HEVC and AV1 only (DEFAULT_H264_MAX_SIZE); here as the H.264 rates that scale to those.
 */
export const DEFAULT_H264_RUNGS: readonly RungSpec[] = [
  { size: 2160, kbps: 17800 },
  { size: 1440, kbps: 12500 },
  { size: 1080, kbps: 6000 },
  { size: 720, kbps: 3000 },
  { size: 540, kbps: 2000 },
  { size: 432, kbps: 1100 },
  { size: 360, kbps: 730 },
  { size: 234, kbps: 145 },
];

/** The default ladder's tallest H.264 rung: Apple's H.264 table stops at 1080p. */
export const DEFAULT_H264_MAX_SIZE = 1080;

const MIN_SIZE = 64;
const MAX_SIZE = 4320;

/** Bit rate for a size not in the table: scale the nearest rung by pixel count (bits grow ~ pixels^0.75). */
export function interpolateKbps(size: number): number {
  const nearest = [...DEFAULT_H264_RUNGS].sort((a, b) => Math.abs(a.size - size) - Math.abs(b.size - size))[0]!;
  return Math.round(nearest.kbps * Math.pow((size * size) / (nearest.size * nearest.size), 0.75));
}

/** `720p`, `720`, `720p:3000` or `720p:3000k`: the table's rate when none is given. */
function rungFromText(part: string, field: Field): RungSpec {
  const match = /^\s*(\d+)p?(?::(\d+)k?)?\s*$/i.exec(part);
  if (!match) throw invalid(field, `"${part}" is not a rung (use e.g. 720p or 720p:3000)`);
  const size = Number(match[1]);
  const known = DEFAULT_H264_RUNGS.find((r) => r.size === size);
  const kbps = match[2] ? Number(match[2]) : known?.kbps ?? interpolateKbps(size);
  if (size < MIN_SIZE || size > MAX_SIZE) throw invalid(field, `${size}p is outside ${MIN_SIZE}p–${MAX_SIZE}p`);
  return { size, kbps };
}

/** One rung of a JSON list: a string like "720p", or {"size": 720, "kbps": 3000} (also "height", "bitrate"). */
function rungFromJson(item: unknown, field: Field, where: string): RungSpec {
  if (typeof item === 'string') return rungFromText(item, field);
  const rung = (item ?? {}) as Partial<RungSpec> & { height?: unknown; bitrate?: unknown };
  const size = Number(rung.size ?? rung.height);
  const kbps = Number(rung.kbps ?? rung.bitrate ?? interpolateKbps(size));
  if (!Number.isInteger(size) || size < MIN_SIZE || !(kbps > 0)) {
    if (field.from === 'upload') throw wrongType(field, 'rungs like "720p" or {"size": 720, "kbps": 3000}');
    throw invalid(field, `${where} needs "size" (pixels) and "kbps"`);
  }
  return { size, kbps };
}

/** `auto` (any case): the per-title ladder. */
function isAuto(value: unknown): value is string {
  return typeof value === 'string' && value.trim().toLowerCase() === 'auto';
}

function rungsFromJson(data: unknown, field: Field, where: string): RungSpec[] | 'auto' {
  const list = Array.isArray(data) ? data : (data as { rungs?: unknown } | null)?.rungs;
  if (isAuto(list)) return 'auto';
  if (!Array.isArray(list) || list.length === 0) {
    if (field.from === 'upload') throw wrongType(field, 'rungs like "720p" or {"size": 720, "kbps": 3000}');
    throw invalid(field, `${where} has no "rungs" array`);
  }
  return list.map((item, i) => rungFromJson(item, field, `rung ${i + 1} in ${where}`));
}

/** A JSON profile: `{ "rungs": [ { "size": 720, "kbps": 3000 }, … ] }`, a bare array, or `{ "rungs": "auto" }`. */
export function readLadderProfile(path: string, field: Field): RungSpec[] | 'auto' {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw invalid(field, `cannot read JSON profile ${path}: ${(error as Error).message}`);
  }
  return rungsFromJson(data, field, path);
}

/** The `--ladder` value, from text, a profile file (command line only) or an upload's JSON; `auto` for a per-title ladder. */
export function parseRungs(value: unknown, field: Field): RungSpec[] | 'auto' {
  if (isAuto(value)) return 'auto';
  if (typeof value !== 'string') {
    if (field.from !== 'upload') throw new VidpipeError('INTERNAL', `--ladder given as ${typeof value} on the command line`);
    return rungsFromJson(value, field, 'the ladder');
  }
  const spec = text(value, field);
  const isPath = /\.json$/i.test(spec) || (field.from === 'upload' && spec.includes('/'));
  if (isPath) {
    if (field.from === 'upload') throw wrongType(field, 'rungs, not a file path');
    return readLadderProfile(spec, field);
  }
  return spec.split(',').map((part) => rungFromText(part, field));
}
