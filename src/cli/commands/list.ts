import { VidpipeError } from '../../errors.js';
import type { VideoSummary } from '../../db/records.js';
import { printableMetadataTarget, withMetadata } from '../../db/engines.js';
import { printable } from '../io.js';

/** What `vidpipe list` is asked for, its global and own options together. */
export interface ListRequest {
  /** The metadata database (--db: a file, or an engine's URL). */
  db: string;
  json: boolean;
  /** At most this many videos, most recently updated first. */
  limit?: number;
}

/** Where a command writes its results; stdout carries results only (progress goes elsewhere). */
export interface CommandIo {
  stdout: (text: string) => void;
}

/** `vidpipe list`: the stored videos, newest first, as a table or as `{ "videos": [...] }`. */
export async function runList(options: ListRequest, io: CommandIo): Promise<void> {
  assertLimit(options.limit);
  const videos = await withMetadata(options.db, (db) => db.listVideos({ limit: options.limit }));
  io.stdout(options.json ? formatJson({ videos }) : formatVideoList(videos, options.db));
}

function assertLimit(limit: number | undefined): void {
  if (limit === undefined || (Number.isInteger(limit) && limit > 0)) return;
  throw new VidpipeError('USAGE', `--limit must be a positive whole number, got ${limit}`);
}

function formatVideoList(videos: VideoSummary[], target: string): string {
  if (videos.length === 0) return `No videos recorded in ${printableMetadataTarget(target)}.\n`;
  return formatTable(
    [
      { header: 'ID' },
      { header: 'STATUS' },
      { header: 'DURATION', align: 'right' },
      { header: 'RENDITIONS', align: 'right' },
      { header: 'NAME' },
      { header: 'UPDATED' },
    ],
    videos.map((video) => [
      video.id,
      video.status,
      formatClock(video.durationSeconds),
      String(video.renditionCount),
      video.name,
      formatTimestamp(video.updatedAt),
    ]),
  );
}

// ---- text formatting shared with `show` ---------------------------------------------------

/** One JSON document, so scripts can pipe stdout straight into a JSON parser. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/** A plain-text table: columns two spaces apart, no trailing spaces, one line per row. */
export function formatTable(columns: Column[], rows: string[][]): string {
  const lines = [columns.map((column) => column.header), ...rows.map((row) => row.map(printable))];
  const widths = columns.map((_, index) => Math.max(...lines.map((line) => line[index].length)));
  return lines
    .map((line) =>
      line
        .map((cell, index) => (columns[index].align === 'right' ? cell.padStart(widths[index]) : cell.padEnd(widths[index])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

/** Media duration as H:MM:SS or M:SS; '-' when unknown. */
export function formatClock(seconds: number | null): string {
  if (seconds === null) return '-';
  const total = Math.round(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

/** "2024-05-01 12:00:00Z" from an ISO timestamp: readable, still unambiguous UTC. */
export function formatTimestamp(iso: string | null): string {
  if (iso === null) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
