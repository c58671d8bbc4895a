import type { JobRecord, StoredRendition, TaskRecord, VideoDetails, VideoRecord } from '../../db/records.js';
import type { LadderReport, RungQuality } from '../../core/result.js';
import { withMetadata } from '../../db/engines.js';
import { NODE_KINDS } from '../../job/nodes.js';
import { qualityOf } from '../../report/model.js';
import { loudnessSection } from './show-loudness.js';
import {
  formatClock,
  formatJson,
  formatTable,
  formatTimestamp,
  type CommandIo,
} from './list.js';
import { printable } from '../io.js';

export interface ShowOptions {
  /** The metadata database (--db: a file, or an engine's URL). */
  db: string;
  json: boolean;
  /** Video id or a unique prefix of one. */
  id: string;
}

/** `vidpipe show <id>`: one video with its published renditions and its latest job's tasks. */
export async function runShow(options: ShowOptions, io: CommandIo): Promise<void> {
  const details = await withMetadata(options.db, (db) => db.getVideo(options.id));
  io.stdout(options.json ? formatJson(details) : formatVideoDetails(details));
}

function formatVideoDetails(details: VideoDetails): string {
  const sections = [
    formatVideo(details.video),
    formatMap('Tags', details.video.tags),
    formatProperties(details.video.properties),
  ];
  if (details.readyJob) {
    sections.push(
      formatMap(`Outputs (job ${details.readyJob.id})`, details.readyJob.outputs, ['root', 'hls', 'dash']),
      `Renditions\n${indent(formatRenditions(details.renditions))}`,
    );
    if (details.ladder) sections.push(formatLadder(details.ladder));
  }
  if (details.latestJob) {
    sections.push(formatJob(details.latestJob), `Tasks\n${indent(formatTasks(details.tasks))}`);
  }
  return sections.join('\n');
}

/** Loudness gets its own readable section; other properties stay key/value. */
function formatProperties(properties: Record<string, unknown>): string {
  const loudness = loudnessSection(properties);
  if (!loudness) return formatMap('Properties', properties);
  const { loudness: _shown, ...rest } = properties;
  const others = Object.keys(rest).length > 0 ? formatMap('Properties', rest) : '';
  return `${loudness.title}\n${indent(formatFields(loudness.fields))}${others ? `\n${others}` : ''}`;
}

function formatVideo(video: VideoRecord): string {
  return formatFields([
    ['Video', video.id],
    ['Name', video.name],
    ['Source', video.source],
    ['Kind', video.kind],
    ['Status', video.status],
    ['Duration', video.durationSeconds === null ? '-' : `${formatClock(video.durationSeconds)} (${video.durationSeconds.toFixed(3)} s)`],
    ['Size', formatBytes(video.sizeBytes)],
    ['SHA-256', video.sha256 ?? '-'],
    ['Created', formatTimestamp(video.createdAt)],
    ['Updated', formatTimestamp(video.updatedAt)],
  ]);
}

function formatJob(job: JobRecord): string {
  const fields: [string, string][] = [
    ['Latest job', `${job.id} (${job.status}, attempt ${job.attempt})`],
    ['Input', job.input],
    ['Output', job.output],
    ['Started', formatTimestamp(job.startedAt)],
    ['Finished', formatTimestamp(job.finishedAt)],
  ];
  if (job.worker) fields.push(['Worker', job.worker]);
  if (job.errorCode || job.errorMessage) fields.push(['Error', `${job.errorCode ?? 'ERROR'}: ${job.errorMessage ?? ''}`]);
  const timings = inNodeOrder(job.timings).map(([stage, seconds]) => `${stage} ${formatElapsed(seconds)}`);
  if (timings.length > 0) fields.push(['Timings', timings.join(', ')]);
  return formatFields(fields);
}

function formatRenditions(renditions: StoredRendition[]): string {
  if (renditions.length === 0) return '(none)\n';
  return formatTable(
    [
      { header: 'NAME' },
      { header: 'CODEC' },
      { header: 'RESOLUTION' },
      { header: 'CODECS' },
      { header: 'AVG KB/S', align: 'right' },
      { header: 'PEAK KB/S', align: 'right' },
      { header: 'PSNR DB', align: 'right' },
      { header: 'SSIM', align: 'right' },
    ],
    renditions.map((rendition) => [
      rendition.name,
      rendition.codec,
      formatResolution(rendition),
      rendition.codecs,
      formatKbps(rendition.averageBitrate),
      formatKbps(rendition.peakBitrate),
      ...formatQuality(rendition),
    ]),
  );
}

const orDash = (value: number | undefined, digits = 1) => (value === undefined ? '-' : value.toFixed(digits));

/** How the ladder was chosen: each rung's rate control, predicted and measured quality, and why a rung was dropped. */
function formatLadder(ladder: LadderReport): string {
  const title = ladder.method === 'auto'
    ? `Ladder (auto: ${ladder.metric?.toUpperCase()} target ${ladder.target}, analysis ${orDash(ladder.analysisSeconds)} s over ${Math.round((ladder.sampledFraction ?? 0) * 100)} % of the frames)`
    : 'Ladder (fixed table)';
  const metric = ladder.metric ?? 'psnr';
  const q = (quality: RungQuality | undefined) => (quality ? orDash(metric === 'vmaf' ? quality.vmaf : quality.psnr, 2) : '-');
  const table = formatTable(
    [
      { header: 'RUNG' },
      { header: 'STATUS' },
      { header: 'MODE' },
      { header: 'TARGET KB/S', align: 'right' },
      { header: 'MEASURED KB/S', align: 'right' },
      { header: `PREDICTED ${metric.toUpperCase()}`, align: 'right' },
      { header: `MEASURED ${metric.toUpperCase()}`, align: 'right' },
      { header: 'NOTE' },
    ],
    ladder.rungs.map((rung) => [
      rung.name,
      rung.status,
      rung.crf === undefined ? rung.mode : `${rung.mode} ${rung.crf}`,
      orDash(rung.targetKbps, 0),
      orDash(rung.measured?.averageKbps, 0),
      q(rung.predicted),
      q(rung.measured?.quality),
      rung.reason ?? '',
    ]),
  );
  return `${title}\n${indent(table)}`;
}

function formatTasks(tasks: TaskRecord[]): string {
  if (tasks.length === 0) return '(none)\n';
  return formatTable(
    [
      { header: 'ID' },
      { header: 'KIND' },
      { header: 'STATUS' },
      { header: 'ATTEMPTS', align: 'right' },
      { header: 'PROGRESS', align: 'right' },
      { header: 'DURATION', align: 'right' },
      { header: 'ERROR' },
    ],
    tasks.map((task) => [
      task.id,
      task.kind,
      task.status,
      String(task.attempts),
      `${Math.round(task.progress * 100)}%`,
      formatTaskDuration(task),
      task.error ?? '',
    ]),
  );
}

/** Sections' contents sit two spaces in from their titles. */
function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '  ');
}

/** Label/value lines with the values aligned. */
function formatFields(fields: [string, string][]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${printable(label).padEnd(width)}  ${printable(value)}\n`).join('');
}

/**
 * Stage timings in the node table's order, the total last. Not in the stored object's key order:
 * PostgreSQL's JSONB keeps no key order, and both engines must print the same.
 */
function inNodeOrder(timings: Record<string, number>): [string, number][] {
  const kinds = Object.keys(NODE_KINDS);
  const rank = (stage: string) => (stage === 'total' ? kinds.length + 1 : kinds.includes(stage) ? kinds.indexOf(stage) : kinds.length);
  return Object.entries(timings).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A titled block of key/value pairs, "(none)" when empty; non-string values as JSON. The keys in
 * `first` lead in that order, the others follow by name (not in the stored order: JSONB keeps none).
 */
function formatMap(title: string, map: Record<string, unknown>, first: readonly string[] = []): string {
  const rank = (key: string) => (first.includes(key) ? first.indexOf(key) : first.length);
  const byKey = Object.entries(map).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const fields = byKey.map(([key, value]): [string, string] => [
    key,
    typeof value === 'string' ? value : JSON.stringify(value),
  ]);
  return `${title}\n${indent(fields.length === 0 ? '(none)\n' : formatFields(fields))}`;
}

/** Width×height for video, channels and sample rate for audio. */
function formatResolution(rendition: StoredRendition): string {
  if (rendition.width !== null && rendition.height !== null) return `${rendition.width}x${rendition.height}`;
  if (rendition.channels !== null) {
    const rate = rendition.sampleRate === null ? '' : ` ${rendition.sampleRate / 1000} kHz`;
    return `${rendition.channels}ch${rate}`;
  }
  return '-';
}

/** PSNR and SSIM from `--metrics` / `vidpipe metrics` (renditions.properties.quality), '-' when not measured. */
function formatQuality(rendition: StoredRendition): [string, string] {
  const quality = qualityOf(rendition.properties);
  return quality ? [quality.psnr.toFixed(2), quality.ssim.toFixed(4)] : ['-', '-'];
}

function formatKbps(bitsPerSecond: number | null): string {
  return bitsPerSecond === null ? '-' : String(Math.round(bitsPerSecond / 1000));
}

function formatBytes(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]} (${bytes} bytes)`;
}

/** Wall-clock time a task took; '-' until it has both ends. */
function formatTaskDuration(task: TaskRecord): string {
  if (task.startedAt === null || task.finishedAt === null) return '-';
  return formatElapsed((Date.parse(task.finishedAt) - Date.parse(task.startedAt)) / 1000);
}

/** Seconds with one decimal under a minute (stages are often that short), else M:SS. */
function formatElapsed(seconds: number): string {
  return seconds < 60 ? `${seconds.toFixed(1)}s` : formatClock(seconds);
}
