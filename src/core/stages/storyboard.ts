import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VidpipeError } from '../../errors.js';
import type { StageContext } from '../stage.js';
import type { MediaProbe } from '../../ffmpeg/probe.js';
import { buildStoryboardArgs, displaySizeAtWidth, JPEG_MAX_SIDE, spriteFileName, type ImageSize } from '../../ffmpeg/args/images.js';

export interface StoryboardInput {
  source: string;
  probe: MediaProbe;
  outDir: string;
  /** Seconds per thumbnail, at least 1. Default: 2 s, longer for long videos (see defaultStoryboardInterval). */
  intervalSeconds?: number;
  /** Default 160; the height follows the display aspect ratio. */
  thumbWidth?: number;
  /**
   * Seconds between the source's key frames when they fall on a fixed grid from 0 (a vidpipe
   * rendition's GOP): with an interval that is a whole number of them, only key frames are decoded.
   */
  keyFrameSeconds?: number;
  /** Thumbnails per sprite sheet row and column. Default 10 × 10. */
  columns?: number;
  rows?: number;
}

export interface StoryboardResult {
  /** storyboard/storyboard.vtt; its cues reference the sprites relative to itself. */
  vttPath: string;
  sprites: string[];
  intervalSeconds: number;
  thumbWidth: number;
  thumbHeight: number;
  /** Number of thumbnails, which is also the number of cues. */
  count: number;
  /** The tile grid of the sheets (the DASH thumbnail track declares it). */
  columns: number;
  rows: number;
}

/** Scrubbing previews need no more than this many thumbnails however long the video. */
const MAX_DEFAULT_THUMBNAILS = 150;
const MIN_DEFAULT_INTERVAL = 2;
const MIN_INTERVAL = 1;
/**
 * A remainder shorter than this after the last full interval gets no cue of its own: it would
 * print as a zero-length cue at millisecond precision.
 */
const DURATION_EPSILON = 0.0005;

/** Whole seconds, at least 2, so that a video gets at most 150 thumbnails. */
export function defaultStoryboardInterval(durationSeconds: number): number {
  return Math.max(MIN_DEFAULT_INTERVAL, Math.ceil(durationSeconds / MAX_DEFAULT_THUMBNAILS));
}

export function thumbnailCount(durationSeconds: number, intervalSeconds: number): number {
  return Math.max(1, Math.ceil((durationSeconds - DURATION_EPSILON) / intervalSeconds));
}

export interface SpriteLayout {
  columns: number;
  rows: number;
  /** Number of sprite sheets. */
  sheets: number;
}

/**
 * The grid actually used: when everything fits on one sheet, the sheet shrinks to the rows
 * (and columns) needed instead of carrying black padding. Sheets after the first keep the
 * full grid; the last may be partly black.
 */
export function spriteLayout(count: number, columns: number, rows: number): SpriteLayout {
  const usedColumns = Math.min(columns, count);
  const usedRows = Math.min(rows, Math.ceil(count / usedColumns));
  return { columns: usedColumns, rows: usedRows, sheets: Math.ceil(count / (usedColumns * usedRows)) };
}

/**
 * Writes storyboard/sprite_NNN.jpg sheets of thumbnails, one per interval, and a WebVTT file
 * mapping each interval to its tile (`sprite_001.jpg#xywh=x,y,w,h`), for scrubbing previews.
 */
export async function createStoryboard(input: StoryboardInput, ctx: StageContext): Promise<StoryboardResult> {
  const video = input.probe.video;
  if (!video) {
    throw new VidpipeError('INPUT_INVALID', `${input.source} has no video stream to make a storyboard from`);
  }
  const duration = input.probe.durationSeconds;
  const intervalSeconds = input.intervalSeconds ?? defaultStoryboardInterval(duration);
  const thumbWidth = input.thumbWidth ?? 160;
  const columns = input.columns ?? 10;
  const rows = input.rows ?? 10;
  if (!(intervalSeconds >= MIN_INTERVAL)) {
    throw new VidpipeError('USAGE', `storyboard interval must be at least ${MIN_INTERVAL} s (got ${intervalSeconds})`);
  }
  for (const [name, value] of Object.entries({ thumbWidth, columns, rows })) {
    if (!Number.isInteger(value) || value < 1) throw new VidpipeError('USAGE', `storyboard ${name} must be a positive integer (got ${value})`);
  }

  const count = thumbnailCount(duration, intervalSeconds);
  const layout = spriteLayout(count, columns, rows);
  // Tall pictures are limited to twice the width (a 9:16 phone video keeps 160x284), so a sheet
  // of rows of them stays inside JPEG's size limit whatever the aspect ratio.
  const thumb = displaySizeAtWidth(video, Math.min(thumbWidth, Math.floor(JPEG_MAX_SIDE / columns)), Math.min(2 * thumbWidth, Math.floor(JPEG_MAX_SIDE / rows)));
  const dir = join(input.outDir, 'storyboard');
  // Sheets left over from an earlier, longer run would otherwise sit next to the new ones.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });

  await ctx.ffmpeg.run(
    buildStoryboardArgs({
      input: input.source,
      streamIndex: video.index,
      intervalSeconds,
      count,
      thumb,
      columns: layout.columns,
      rows: layout.rows,
      outDir: dir,
      keyFramesOnly: isWholeMultiple(intervalSeconds, input.keyFrameSeconds),
    }),
    { label: 'storyboard', durationSeconds: duration },
  );

  const sprites = Array.from({ length: layout.sheets }, (_, i) => join(dir, spriteFileName(i + 1)));
  for (const sprite of sprites) {
    const written = await stat(sprite).catch(() => undefined);
    if (!written?.size) throw new VidpipeError('FFMPEG_FAILED', `storyboard: ffmpeg did not write ${sprite}`);
  }
  const vttPath = join(dir, 'storyboard.vtt');
  await writeFile(vttPath, storyboardVtt(duration, intervalSeconds, count, thumb, layout));
  ctx.onProgress(1);
  return { vttPath, sprites, intervalSeconds, thumbWidth: thumb.width, thumbHeight: thumb.height, count, columns: layout.columns, rows: layout.rows };
}

/** Whether `interval` is a whole number (≥ 1) of `unit` seconds, to a microsecond. */
export function isWholeMultiple(interval: number, unit: number | undefined): boolean {
  if (!unit || !(unit > 0)) return false;
  const ratio = interval / unit;
  return ratio >= 1 - 1e-9 && Math.abs(ratio - Math.round(ratio)) * unit < 1e-6;
}

/** The WebVTT text: cue k covers [k·interval, (k+1)·interval), the last one ending at the duration. */
export function storyboardVtt(durationSeconds: number, intervalSeconds: number, count: number, thumb: ImageSize, layout: SpriteLayout): string {
  const perSheet = layout.columns * layout.rows;
  const cues: string[] = [];
  for (let k = 0; k < count; k++) {
    const start = k * intervalSeconds;
    const end = k === count - 1 ? durationSeconds : (k + 1) * intervalSeconds;
    const position = k % perSheet;
    const x = (position % layout.columns) * thumb.width;
    const y = Math.floor(position / layout.columns) * thumb.height;
    const sprite = spriteFileName(Math.floor(k / perSheet) + 1);
    cues.push(`${vttTimestamp(start)} --> ${vttTimestamp(end)}\n${sprite}#xywh=${x},${y},${thumb.width},${thumb.height}`);
  }
  return `WEBVTT\n\n${cues.join('\n\n')}\n`;
}

/** hh:mm:ss.mmm; WebVTT allows omitting hours, but players are most consistent with them present. */
export function vttTimestamp(seconds: number): string {
  const totalMs = Math.round(seconds * 1000);
  const ms = totalMs % 1000;
  const totalSeconds = Math.floor(totalMs / 1000);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${pad(Math.floor(totalSeconds / 3600))}:${pad(Math.floor(totalSeconds / 60) % 60)}:${pad(totalSeconds % 60)}.${pad(ms, 3)}`;
}
