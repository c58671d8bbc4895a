/**
 * The shapes the pipeline writes into and the CLI reads out of the vidpipe database.
 * Inputs use optional fields; records read back have every field, with null for "not
 * recorded". Timestamps are ISO-8601 UTC strings; JSON columns come back parsed.
 */
import type { TaskStatus } from '../core/dag.js';
import type { LadderReport } from '../core/result.js';
import type { AttemptOutcome, DeliveryAttempt, PendingDelivery } from '../events/webhook-delivery.js';

export type MediaKind = 'video' | 'audio';
export type VideoStatus = 'processing' | 'ready' | 'failed' | 'interrupted';
export type JobStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';
/** A task row's status: the graph's own (src/core/dag.ts). */
export type { TaskStatus };
/** Accepted wherever a time is written; always stored as ISO-8601 UTC text. */
export type Timestamp = Date | string;

/** Every optional field of T present, null when it was not given. */
type Stored<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };

// ---- inputs ---------------------------------------------------------------------------

export interface VideoInput {
  /** Stable id chosen by the pipeline (e.g. derived from the content hash). */
  id: string;
  /** Where the input came from: local path or s3:// URI. */
  source: string;
  /** Display name, usually the input's file name. */
  name: string;
  sha256?: string | null;
  sizeBytes?: number | null;
  durationSeconds?: number | null;
  kind: MediaKind;
  /** The ffprobe result (any JSON value). */
  probe?: unknown;
  tags?: Record<string, string>;
}

/** One node of the job's task DAG. */
export interface TaskSpec {
  /** Unique within the job, e.g. "encode-chunk-3". */
  id: string;
  kind: string;
  label: string;
  dependsOn: string[];
}

export interface StartJobInput {
  jobId: string;
  video: VideoInput;
  input: string;
  output: string;
  /** The job's settings, stored as JSON (any object, e.g. the resolved CLI/config options). */
  options: object;
  /** Pending tasks known up front; more can be added with addTasks. */
  tasks: TaskSpec[];
  /** Defaults to 1 + the number of earlier jobs of this video. */
  attempt?: number;
  /** Who runs the job; defaults to the VidpipeDb's worker ("host:pid"). */
  worker?: string;
  /** Events for the job's webhooks (job.started), written in the same transaction (the outbox). */
  events?: OutboxEntry[];
}

/** Fields to change on a task: undefined leaves a column as it is, null clears it. */
export interface TaskPatch {
  status?: TaskStatus;
  /** 0..1 */
  progress?: number;
  attempts?: number;
  startedAt?: Timestamp | null;
  finishedAt?: Timestamp | null;
  error?: string | null;
  /** Any JSON value the stage produced. */
  output?: unknown;
  worker?: string | null;
}

/** One rendition of a finished package, as measured from the files written. */
export interface RenditionRecord {
  /** e.g. "h264-720p", "aac-128k". */
  name: string;
  kind: MediaKind;
  /** Codec family: "h264", "hevc", "av1", "aac", "opus". */
  codec: string;
  /** RFC 6381 codecs string, e.g. "avc1.64001f". */
  codecs: string;
  width?: number | null;
  height?: number | null;
  frameRate?: number | null;
  channels?: number | null;
  sampleRate?: number | null;
  language?: string | null;
  /** bits/s */
  averageBitrate?: number | null;
  /** bits/s */
  peakBitrate?: number | null;
  /** bits/s the encoder was asked for. */
  targetBitrate?: number | null;
  sizeBytes?: number | null;
  segmentCount?: number | null;
  /** Media playlist URI relative to the package root. */
  playlist?: string | null;
  /** Init segment URI relative to the package root. */
  init?: string | null;
  properties?: Record<string, unknown>;
}

/** A file the job wrote, for resume and verification. */
export interface OutputFileRecord {
  /** Storage key relative to the job's output root. */
  key: string;
  bytes: number;
  sha256: string;
}

export interface CompleteJobInput {
  video: {
    id: string;
    status: 'ready';
    durationSeconds: number;
    /** Replaces the stored tags when given. */
    tags?: Record<string, string>;
    /** Replaces the stored properties when given. */
    properties?: Record<string, unknown>;
  };
  /** Published URIs by name: hls, dash, poster … */
  outputs: Record<string, string>;
  /** Seconds per stage. */
  timings: Record<string, number>;
  renditions: RenditionRecord[];
  files?: OutputFileRecord[];
  /** How the video ladder was chosen (video jobs). */
  ladder?: LadderReport;
  /** Events for the job's webhooks (job.succeeded), written in the same transaction (the outbox). */
  events?: OutboxEntry[];
}

export interface FailJobInput {
  status: 'failed' | 'interrupted';
  /** A VidpipeError code. */
  code: string;
  message: string;
  /** Events for the job's webhooks (job.failed), written in the same transaction, only when the job was still running. */
  events?: OutboxEntry[];
}

// ---- records read back ------------------------------------------------------------------

export interface VideoRecord extends Stored<Omit<VideoInput, 'probe' | 'tags'>> {
  probe: unknown;
  tags: Record<string, string>;
  properties: Record<string, unknown>;
  status: VideoStatus;
  createdAt: string;
  updatedAt: string;
}

export interface JobRecord {
  id: string;
  videoId: string;
  input: string;
  output: string;
  options: Record<string, unknown>;
  status: JobStatus;
  errorCode: string | null;
  errorMessage: string | null;
  attempt: number;
  outputs: Record<string, string>;
  timings: Record<string, number>;
  startedAt: string;
  finishedAt: string | null;
  worker: string | null;
}

export interface TaskRecord extends TaskSpec {
  jobId: string;
  status: TaskStatus;
  attempts: number;
  progress: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  output: unknown;
  worker: string | null;
}

export interface StoredRendition extends Stored<Omit<RenditionRecord, 'properties'>> {
  id: number;
  jobId: string;
  videoId: string;
  properties: Record<string, unknown>;
}

/** One line of `vidpipe list`. */
export interface VideoSummary {
  id: string;
  name: string;
  source: string;
  kind: MediaKind;
  status: VideoStatus;
  durationSeconds: number | null;
  /** The recording's tags (title, artist, album, … and --tag values). */
  tags: Record<string, string>;
  /** Renditions of the latest succeeded job (what is published now). */
  renditionCount: number;
  createdAt: string;
  updatedAt: string;
  latestJobId: string | null;
  latestJobStatus: JobStatus | null;
}

/** Everything `vidpipe show` prints about one video. */
export interface VideoDetails {
  video: VideoRecord;
  /** The most recent job, whatever its outcome. */
  latestJob: JobRecord | null;
  /** Tasks of latestJob, in DAG insertion order. */
  tasks: TaskRecord[];
  /** The most recent succeeded job: the package that is published now. */
  readyJob: JobRecord | null;
  /** Renditions of readyJob. */
  renditions: StoredRendition[];
  /** readyJob's ladder: how it was chosen, predicted and measured per rung (null: none recorded). */
  ladder: LadderReport | null;
}

export interface JobDetails {
  job: JobRecord;
  tasks: TaskRecord[];
  renditions: StoredRendition[];
  files: OutputFileRecord[];
  ladder: LadderReport | null;
}

export interface ListVideosOptions {
  /** At most this many videos, most recently updated first; all when omitted. */
  limit?: number;
  status?: VideoStatus;
}

// ---- uploads seen by `vidpipe watch` ----------------------------------------------------------

export type UploadStatus = 'pending' | 'claimed' | 'done' | 'failed';

/** One version of an uploaded object: a new ETag under the same key is new work. */
export interface UploadRef {
  bucket: string;
  key: string;
  etag: string;
  size: number;
}

/** Who claims an upload and for how long. */
export interface UploadLease {
  /** The watcher's id (host, pid, random). */
  owner: string;
  leaseMs: number;
  /** Claims of one ETag allowed before it is given up. */
  maxAttempts: number;
  /** The claiming watcher's clock. */
  now: Date;
}

export type UploadClaim =
  | { claimed: true; attempt: number }
  /** Already done/failed for this ETag, or another watcher holds a live lease. */
  | { claimed: false; reason: 'finished' | 'busy' }
  /** The lease of the last attempt expired and no attempts are left: now marked failed. */
  | { claimed: false; reason: 'gave-up'; error: string };

export interface UploadFinish {
  status: 'done' | 'failed';
  jobId?: string;
  videoId?: string;
  outputs?: Record<string, string>;
  error?: string;
  now: Date;
}

export interface UploadRelease {
  owner: string;
  /** false for a clean stop (SIGTERM), so it costs nothing; true after a transient failure. */
  countAttempt: boolean;
  error?: string;
  jobId?: string;
  now: Date;
}

export interface UploadRecord {
  bucket: string;
  key: string;
  etag: string;
  sizeBytes: number;
  status: UploadStatus;
  attempts: number;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  jobId: string | null;
  videoId: string | null;
  outputs: Record<string, string> | null;
  error: string | null;
}

/**
 * Why a claim was not granted, from the upload's row read after the conditional claim (in the
 * same transaction), as every engine decides it. Undefined: the row is pending or its lease has
 * expired, with no attempts left: the engine marks it failed with `giveUpMessage(row)`.
 */
export function claimRefusal(row: UploadRecord, upload: UploadRef, now: string): UploadClaim | undefined {
  // A new version while another watcher still works on the previous one waits for that job
  // (which stands down when it sees the change), rather than counting as finished.
  if (row.status === 'claimed' && row.leaseExpiresAt !== null && row.leaseExpiresAt > now) return { claimed: false, reason: 'busy' };
  if (row.etag !== upload.etag || row.status === 'done' || row.status === 'failed') return { claimed: false, reason: 'finished' };
  return undefined;
}

/** The error recorded on an upload whose attempts ran out with its last lease expired. */
export function giveUpMessage(row: UploadRecord): string {
  return `gave up after ${row.attempts} attempt(s): ${row.error ?? 'the watcher processing it stopped (lease expired)'}`;
}

// ---- the webhook outbox (src/events/webhook-delivery.ts delivers from it) ---------------------

/**
 * One event for the job's webhooks, written with the record it reports (startJob, completeJob,
 * failJob): the message and one pending delivery per URL.
 */
export interface OutboxEntry {
  /** The `webhook-id` of every attempt (`msg_…`). */
  messageId: string;
  /** job.started, job.succeeded, job.failed. */
  type: string;
  jobId: string;
  /** The request body, exactly as it is sent (the signature covers these bytes). */
  body: string;
  urls: string[];
  /** ISO-8601 UTC: when the event happened, and its first attempt is due. */
  createdAt: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** Which deliveries a sending process takes, leased to it (see WebhookOutbox). */
export interface DeliveryLeaseRequest {
  /** Who takes them (host:pid). */
  holder: string;
  limit: number;
  leaseMs: number;
  /** Every pending one, due or not (`vidpipe events retry`). */
  all?: boolean;
  /** The given-up ones too (`vidpipe events retry`). */
  includeFailed?: boolean;
}

/** A delivery taken for an attempt. */
export type DueDelivery = PendingDelivery;

/** What one attempt gave; ends the lease. */
export type DeliveryAttemptRecord = DeliveryAttempt;
export type { AttemptOutcome };

/** One delivery as `vidpipe events` lists it. */
export interface DeliveryRecord {
  messageId: string;
  type: string;
  jobId: string | null;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  /** The HTTP status of the last answer, if any. */
  lastStatus: number | null;
  /** Why the last attempt did not deliver (a refused connection, a timeout, HTTP 500 …). */
  lastError: string | null;
  lastAttemptAt: string | null;
  /** When the next attempt is due (pending deliveries only). */
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

export interface ListDeliveriesOptions {
  /** At most this many, newest event first; all when omitted. */
  limit?: number;
  status?: DeliveryStatus;
}
