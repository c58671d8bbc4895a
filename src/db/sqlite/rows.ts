import type {
  JobRecord,
  JobStatus,
  MediaKind,
  OutputFileRecord,
  StoredRendition,
  TaskRecord,
  TaskStatus,
  VideoRecord,
  VideoStatus,
  VideoSummary,
} from '../records.js';

/**
 * Rows exactly as better-sqlite3 returns them (snake_case, JSON as text) and their
 * mapping to the records of ./records.ts. Kept apart from the SQL so each mapping is
 * written once, whichever query produced the row.
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
