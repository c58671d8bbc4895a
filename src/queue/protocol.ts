/**
 * What the submitting CLI and the workers exchange through Redis: the data of each task job, the
 * value a finished task returns, and the progress messages in between. Everything is JSON.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { VidpipeError } from '../errors.js';
import type { JobPlan } from '../core/plan.js';
import type { InspectedSource, SourceFile } from '../ffmpeg/source-file.js';
import type { JobOptions, SentGraphState } from '../job/job-options.js';
import type { StorageConfig } from '../storage/backend.js';

/** One queue for every task of every job: any worker can run any task. */
export const TASK_QUEUE = 'vidpipe-tasks';

/** Per task: attempts including the first, and the first retry's delay (doubling after). */
export const TASK_ATTEMPTS = 3;
export const RETRY_DELAY_MS = 2000;

/**
 * Everything a worker needs to rebuild the job's graph with src/job/graph.ts: the job's options
 * and what the builder knew when the flow was sent (the results of probe, prepare-source,
 * plan, and the ladder analysis that grows the graph further). The same in every task of a
 * flow. Paths in `state` are the submitter's or another worker's: a worker reads the files from
 * `files` instead.
 */
export interface QueuedJobSpec {
  options: JobOptions;
  state: SentGraphState;
  /** s3:// URIs of the files tasks read: the input, and the Matroska copy a prepare-source task made of it. */
  files: { input: string; source?: string };
  /** Package name the submitter's preflight chose (what `vidpipe status` shows). */
  name: string;
  /** The submitter's storage settings that may travel (S3 endpoint and region, no credentials); a worker's own win. */
  storage: StorageConfig;
  /** s3:// prefix for intermediate files: `<out>/.vidpipe-work/<jobId>/`. */
  workPrefix: string;
}

export interface TaskJobData {
  spec: QueuedJobSpec;
  /** Tree node id (also the BullMQ job name). */
  taskId: string;
  /** DAG nodes this job runs. */
  nodes: string[];
}

/** A file a task wrote, by its path below the task's folder (`package/…` or `work/…`). */
export interface TaskFile {
  rel: string;
  /** s3:// URI of the uploaded copy (unique to the attempt that wrote it). */
  uri: string;
  bytes: number;
}

/** The return value of a task job: BullMQ keeps only the value of the attempt that completed it. */
export interface TaskOutput {
  taskId: string;
  worker: string;
  attempt: number;
  /** Local folder the task ran in; paths in `results` start with it. */
  root: string;
  /** DAG node results, this task's and its descendants'. */
  results: Record<string, unknown>;
  /** Package files of this task and its descendants. */
  packageFiles: TaskFile[];
  /** Intermediate files this task's results point at (chunks, encoded audio). */
  workFiles: TaskFile[];
  startedAt: string;
  finishedAt: string;
}

/** Sent with job.updateProgress. */
export interface TaskProgress {
  worker: string;
  attempt: number;
  /** 0..1 over the task's DAG nodes. */
  fraction: number;
  etaSeconds?: number;
}

/** How a failed task's error travels: BullMQ keeps only a message, so the rest goes in the job log. */
export const ERROR_LOG_PREFIX = 'vidpipe-error ';

export interface TaskError {
  code: string;
  message: string;
  hint?: string;
  stderrTail?: string;
}

export function taskJobId(jobId: string, taskId: string): string {
  return `${jobId}-${taskId}`;
}

export function toTaskError(error: VidpipeError): TaskError {
  return { code: error.code, message: error.message, hint: error.hint, stderrTail: error.stderrTail };
}

export function fromTaskError(error: TaskError): VidpipeError {
  return new VidpipeError(error.code as VidpipeError['code'], error.message, { hint: error.hint, stderrTail: error.stderrTail });
}

/** Rewrites every path below `from` in a JSON value to the same path below `to`. */
export function rebasePaths<T>(value: T, from: string, to: string): T {
  return JSON.parse(JSON.stringify(value ?? null), (_key, v: unknown) => {
    if (typeof v !== 'string' || !isAbsolute(v)) return v;
    const rel = relative(from, v);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return v;
    return [to, ...rel.split(sep)].join(sep);
  }) as T;
}

/** Paths below `root` that a JSON value mentions. */
export function pathsBelow(value: unknown, root: string): string[] {
  const found = new Set<string>();
  JSON.stringify(value ?? null, (_key, v: unknown) => {
    if (typeof v === 'string' && isAbsolute(v)) {
      const rel = relative(root, v);
      if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) found.add(rel.split(sep).join('/'));
    }
    return v;
  });
  return [...found];
}
