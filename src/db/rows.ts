import type { LadderProbe, LadderReport, LadderRung, RungQuality } from '../core/result.js';
import type {
  DeliveryAttemptRecord,
  DeliveryRecord,
  DeliveryStatus,
  JobRecord,
  JobStatus,
  MediaKind,
  OutputFileRecord,
  StoredRendition,
  RenditionRecord,
  TaskPatch,
  TaskRecord,
  TaskStatus,
  Timestamp,
  UploadRecord,
  UploadStatus,
  VideoRecord,
  VideoStatus,
  VideoSummary,
} from './records.js';

/**
 * Rows exactly as the engines return them (snake_case, JSON as text: better-sqlite3 as is, pg
 * through the type parsers of ./postgres/connection.ts) and their mapping to the records of
 * ./records.ts, both ways: row → record, record → column values. Engine-neutral (no SQL, no
 * driver), so each mapping is written once for every engine and whichever query produced the row.
 */

export interface VideoRow {
  id: string;
  source: string;
  name: string;
  sha256: string | null;
  size_bytes: number | null;
  duration_seconds: number | null;
  kind: MediaKind;
  probe: string | null;
  tags: string;
  properties: string;
  status: VideoStatus;
  created_at: string;
  updated_at: string;
}

export interface JobRow {
  id: string;
  video_id: string;
  input: string;
  output: string;
  options: string;
  status: JobStatus;
  error_code: string | null;
  error_message: string | null;
  attempt: number;
  outputs: string;
  timings: string;
  started_at: string;
  finished_at: string | null;
  worker: string | null;
}

export interface TaskRow {
  job_id: string;
  id: string;
  kind: string;
  label: string;
  depends_on: string;
  status: TaskStatus;
  attempts: number;
  progress: number;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  output: string | null;
  worker: string | null;
}

export interface RenditionRow {
  id: number;
  job_id: string;
  video_id: string;
  name: string;
  kind: MediaKind;
  codec: string;
  codecs: string;
  width: number | null;
  height: number | null;
  frame_rate: number | null;
  channels: number | null;
  sample_rate: number | null;
  language: string | null;
  average_bitrate: number | null;
  peak_bitrate: number | null;
  target_bitrate: number | null;
  size_bytes: number | null;
  segment_count: number | null;
  playlist: string | null;
  init: string | null;
  properties: string;
}

export interface OutputFileRow extends OutputFileRecord {
  job_id: string;
}

export interface VideoSummaryRow {
  id: string;
  name: string;
  source: string;
  kind: MediaKind;
  status: VideoStatus;
  duration_seconds: number | null;
  tags: string | null;
  rendition_count: number;
  created_at: string;
  updated_at: string;
  latest_job_id: string | null;
  latest_job_status: JobStatus | null;
}

/** The schema's json_valid() checks guarantee the text parses; NULL stays null. */
function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** Inverse of parseJson: undefined (not given) is stored as NULL. */
export function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

export function toVideoRecord(row: VideoRow): VideoRecord {
  return {
    id: row.id,
    source: row.source,
    name: row.name,
    sha256: row.sha256,
    sizeBytes: row.size_bytes,
    durationSeconds: row.duration_seconds,
    kind: row.kind,
    probe: parseJson(row.probe),
    tags: parseJson<Record<string, string>>(row.tags) ?? {},
    properties: parseJson<Record<string, unknown>>(row.properties) ?? {},
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toJobRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    videoId: row.video_id,
    input: row.input,
    output: row.output,
    options: parseJson<Record<string, unknown>>(row.options) ?? {},
    status: row.status,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    attempt: row.attempt,
    outputs: parseJson<Record<string, string>>(row.outputs) ?? {},
    timings: parseJson<Record<string, number>>(row.timings) ?? {},
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    worker: row.worker,
  };
}

export function toTaskRecord(row: TaskRow): TaskRecord {
  return {
    jobId: row.job_id,
    id: row.id,
    kind: row.kind,
    label: row.label,
    dependsOn: parseJson<string[]>(row.depends_on) ?? [],
    status: row.status,
    attempts: row.attempts,
    progress: row.progress,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error,
    output: parseJson(row.output),
    worker: row.worker,
  };
}

export function toStoredRendition(row: RenditionRow): StoredRendition {
  return {
    id: row.id,
    jobId: row.job_id,
    videoId: row.video_id,
    name: row.name,
    kind: row.kind,
    codec: row.codec,
    codecs: row.codecs,
    width: row.width,
    height: row.height,
    frameRate: row.frame_rate,
    channels: row.channels,
    sampleRate: row.sample_rate,
    language: row.language,
    averageBitrate: row.average_bitrate,
    peakBitrate: row.peak_bitrate,
    targetBitrate: row.target_bitrate,
    sizeBytes: row.size_bytes,
    segmentCount: row.segment_count,
    playlist: row.playlist,
    init: row.init,
    properties: parseJson<Record<string, unknown>>(row.properties) ?? {},
  };
}

export function toOutputFileRecord(row: OutputFileRow): OutputFileRecord {
  return { key: row.key, bytes: row.bytes, sha256: row.sha256 };
}

export function toVideoSummary(row: VideoSummaryRow): VideoSummary {
  return {
    id: row.id,
    name: row.name,
    source: row.source,
    kind: row.kind,
    status: row.status,
    durationSeconds: row.duration_seconds,
    tags: parseJson<Record<string, string>>(row.tags) ?? {},
    renditionCount: row.rendition_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    latestJobId: row.latest_job_id,
    latestJobStatus: row.latest_job_status,
  };
}

// ---- uploads (table watch_objects) -----------------------------------------------------------

export interface UploadRow {
  bucket: string;
  key: string;
  etag: string;
  size_bytes: number;
  status: UploadStatus;
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  job_id: string | null;
  video_id: string | null;
  outputs: string | null;
  error: string | null;
}

export function toUploadRecord(row: UploadRow): UploadRecord {
  return {
    bucket: row.bucket,
    key: row.key,
    etag: row.etag,
    sizeBytes: row.size_bytes,
    status: row.status,
    attempts: row.attempts,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    jobId: row.job_id,
    videoId: row.video_id,
    outputs: row.outputs === null ? null : (JSON.parse(row.outputs) as Record<string, string>),
    error: row.error,
  };
}

// ---- ladders (tables ladders and ladder_rungs) -----------------------------------------------

export interface LadderRow {
  method: 'fixed' | 'auto';
  metric: 'psnr' | 'vmaf' | null;
  target: number | null;
  analysis_seconds: number | null;
  sampled_fraction: number | null;
  probes: string | null;
}

export interface RungRow {
  name: string;
  codec: string;
  size: number;
  status: LadderRung['status'];
  mode: LadderRung['mode'];
  crf: number | null;
  target_kbps: number;
  predicted_kbps: number | null;
  predicted_psnr: number | null;
  predicted_ssim: number | null;
  predicted_vmaf: number | null;
  measured_peak_kbps: number | null;
  measured_average_kbps: number | null;
  measured_psnr: number | null;
  measured_ssim: number | null;
  measured_vmaf: number | null;
  reason: string | null;
}

const orNull = <T>(value: T | undefined): T | null => (value === undefined ? null : value);

/** The `ladders` row's values after job_id, in column order: method, metric, target, analysis_seconds, sampled_fraction, probes. */
export function ladderValues(ladder: LadderReport): (string | number | null)[] {
  return [ladder.method, orNull(ladder.metric), orNull(ladder.target), orNull(ladder.analysisSeconds), orNull(ladder.sampledFraction), ladder.probes ? JSON.stringify(ladder.probes) : null];
}

/**
 * A `ladder_rungs` row's values after job_id, in column order: name, codec, size, status, mode, crf,
 * target_kbps, predicted_kbps, predicted_psnr, predicted_ssim, predicted_vmaf, measured_peak_kbps,
 * measured_average_kbps, measured_psnr, measured_ssim, measured_vmaf, reason.
 */
export function rungValues(r: LadderRung): (string | number | null)[] {
  return [
    r.name, r.codec, r.size, r.status, r.mode, orNull(r.crf), r.targetKbps,
    orNull(r.predicted?.kbps), orNull(r.predicted?.psnr), orNull(r.predicted?.ssim), orNull(r.predicted?.vmaf),
    orNull(r.measured?.peakKbps), orNull(r.measured?.averageKbps),
    orNull(r.measured?.quality?.psnr), orNull(r.measured?.quality?.ssim), orNull(r.measured?.quality?.vmaf),
    orNull(r.reason),
  ];
}

function qualityOf(psnr: number | null, ssim: number | null, vmaf: number | null): RungQuality | undefined {
  if (psnr === null) return undefined;
  return { psnr, ...(ssim === null ? {} : { ssim }), ...(vmaf === null ? {} : { vmaf }) };
}

function rungOf(row: RungRow): LadderRung {
  const predicted = qualityOf(row.predicted_psnr, row.predicted_ssim, row.predicted_vmaf);
  const measuredQuality = qualityOf(row.measured_psnr, row.measured_ssim, row.measured_vmaf);
  return {
    name: row.name,
    codec: row.codec,
    size: row.size,
    status: row.status,
    mode: row.mode,
    ...(row.crf === null ? {} : { crf: row.crf }),
    targetKbps: row.target_kbps,
    ...(predicted && row.predicted_kbps !== null ? { predicted: { kbps: row.predicted_kbps, ...predicted } } : {}),
    ...(row.measured_peak_kbps !== null && row.measured_average_kbps !== null
      ? { measured: { peakKbps: row.measured_peak_kbps, averageKbps: row.measured_average_kbps, ...(measuredQuality ? { quality: measuredQuality } : {}) } }
      : {}),
    ...(row.reason === null ? {} : { reason: row.reason }),
  };
}

/** A job's ladder from its `ladders` row and its `ladder_rungs` rows (in the order shown). */
export function toLadderReport(row: LadderRow, rungRows: RungRow[]): LadderReport {
  return {
    method: row.method,
    ...(row.metric === null ? {} : { metric: row.metric }),
    ...(row.target === null ? {} : { target: row.target }),
    ...(row.analysis_seconds === null ? {} : { analysisSeconds: row.analysis_seconds }),
    ...(row.sampled_fraction === null ? {} : { sampledFraction: row.sampled_fraction }),
    rungs: rungRows.map(rungOf),
    ...(row.probes === null ? {} : { probes: JSON.parse(row.probes) as LadderProbe[] }),
  };
}

// ---- record → column values ------------------------------------------------------------------

/** The task columns a patch may change, by TaskPatch key (an UPDATE is built from this constant, never from input). */
export const TASK_PATCH_COLUMNS = {
  status: 'status',
  progress: 'progress',
  attempts: 'attempts',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  error: 'error',
  output: 'output',
  worker: 'worker',
} as const;

const FINISHED_TASK_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);

/** The patch with what its status implies: a running task's start (and no end yet), a finished one's end, a success's full progress. */
export function withStatusDefaults(patch: TaskPatch, now: string): TaskPatch {
  const filled: TaskPatch = { ...patch };
  if (patch.status === 'running') {
    filled.startedAt ??= now;
    if (patch.finishedAt === undefined) filled.finishedAt = null;
  }
  if (patch.status !== undefined && FINISHED_TASK_STATUSES.has(patch.status)) filled.finishedAt ??= now;
  if (patch.status === 'succeeded') filled.progress ??= 1;
  return filled;
}

/** A patched field's column value (output as JSON text; undefined, not given, as NULL). */
export function taskColumnValue(key: keyof TaskPatch, value: TaskPatch[keyof TaskPatch]): string | number | null {
  if (value === undefined || value === null) return null;
  if (key === 'output') return JSON.stringify(value);
  if (key === 'attempts') return toInteger(value as number);
  if (key === 'progress') return clampProgress(value as number);
  if (value instanceof Date) return toIso(value);
  return value as string | number;
}

/** A rendition's column values (all but job_id and video_id), by column. */
export function renditionValues(rendition: RenditionRecord) {
  return {
    name: rendition.name,
    kind: rendition.kind,
    codec: rendition.codec,
    codecs: rendition.codecs,
    width: toInteger(rendition.width),
    height: toInteger(rendition.height),
    frameRate: rendition.frameRate ?? null,
    channels: toInteger(rendition.channels),
    sampleRate: toInteger(rendition.sampleRate),
    language: rendition.language ?? null,
    averageBitrate: toInteger(rendition.averageBitrate),
    peakBitrate: toInteger(rendition.peakBitrate),
    targetBitrate: toInteger(rendition.targetBitrate),
    sizeBytes: toInteger(rendition.sizeBytes),
    segmentCount: toInteger(rendition.segmentCount),
    playlist: rendition.playlist ?? null,
    init: rendition.init ?? null,
    properties: JSON.stringify(rendition.properties ?? {}),
  };
}

/**
 * Progress is computed from ffmpeg's out_time over the probed duration, which can overshoot
 * 1 or be NaN for a zero duration; the column's CHECK would turn that into a failed job.
 */
function clampProgress(fraction: number): number {
  return Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
}

/**
 * Integer columns reject 1.5; measured values such as bit rates (bytes·8/seconds)
 * are fractional, and a whole bit per second is all the precision anyone needs.
 */
export function toInteger(value: number | null | undefined): number | null {
  return value === undefined || value === null ? null : Math.round(value);
}

function toIso(time: Timestamp): string {
  return typeof time === 'string' ? time : time.toISOString();
}

// ---- the webhook outbox -----------------------------------------------------------------------

/** One delivery joined with its message, as both engines' `listDeliveries` select it. */
export interface DeliveryRow {
  message_id: string;
  type: string;
  job_id: string | null;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
}

export function toDeliveryRecord(row: DeliveryRow): DeliveryRecord {
  return {
    messageId: row.message_id,
    type: row.type,
    jobId: row.job_id,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    lastAttemptAt: row.last_attempt_at,
    // Only a pending delivery has a next attempt.
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
    deliveredAt: row.delivered_at,
    createdAt: row.created_at,
  };
}

/**
 * The column values an attempt writes, in this order: status, last_attempt_at, last_status,
 * last_error, next_attempt_at (null: unchanged). A retry stays pending; a delivered or
 * given-up one is final.
 */
export function deliveryAttemptValues(attempt: DeliveryAttemptRecord): [DeliveryStatus, string, number | null, string | null, string | null] {
  const { outcome } = attempt;
  const status: DeliveryStatus = outcome.result === 'delivered' ? 'delivered' : outcome.result === 'retry' ? 'pending' : 'failed';
  return [status, attempt.at.toISOString(), outcome.status ?? null, 'error' in outcome ? outcome.error : null, attempt.nextAttemptAt?.toISOString() ?? null];
}
