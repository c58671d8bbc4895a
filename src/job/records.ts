/**
 * A job's records in the metadata store, written from its events: the job and video rows once the
 * input is identified and planned, a task row for every node the graph gains, each task's status
 * as the runner reports it, and the final metadata in one unit of work. The graph's runners never
 * touch the store; they emit events, and this turns them into records.
 */
import type { DagEvent, DagNodeSummary } from '../core/dag.js';
import type { JobEvent } from '../core/events.js';
import type { TranscodeResult } from '../core/result.js';
import type { ManifestsOutput } from '../core/stages/manifests.js';
import type { MetadataStore } from '../db/metadata-store.js';
import type { StartJobInput, TaskPatch } from '../db/records.js';
import { isVidpipeError, type ErrorCode } from '../errors.js';
import type { JobPlan } from '../core/plan.js';
import type { SourceFile } from '../ffmpeg/source-file.js';
import { shareableSettings, type JobSettings } from '../settings/job-settings.js';
import type { JobOptions } from './job-options.js';
import { NodeResultsView, node, type PublishOutput } from './nodes.js';
import { resultBase } from './publish.js';
import { round3, spanSeconds, succeededResult } from './summary.js';
import { failedData, outboxEntries, startedData, succeededData } from './webhook-events.js';

/** A task's row after an event, or nothing to write. */
export function taskPatchOf(event: DagEvent, now = new Date()): TaskPatch | undefined {
  const at = now.toISOString();
  switch (event.type) {
    case 'task-start':
      return { status: 'running', startedAt: at, attempts: event.attempt ?? 1, progress: 0 };
    case 'task-succeeded':
      return { status: 'succeeded', finishedAt: at, progress: 1 };
    case 'task-failed':
      return { status: 'failed', finishedAt: at, error: event.error.message };
    case 'task-cancelled':
      return { status: 'cancelled', finishedAt: at };
    default:
      return undefined;
  }
}

/** The final metadata transaction's input, from a succeeded job's result and what it published. */
export function completedJob(result: TranscodeResult, manifests: ManifestsOutput, published: PublishOutput) {
  const initOf = (name: string) => [...manifests.model.videos, ...manifests.model.audios].find((t) => t.id === name)?.initUri;
  return {
    video: {
      id: result.id,
      status: 'ready' as const,
      durationSeconds: manifests.model.durationSeconds,
      // The scheme and the key IDs only (protectionRecord): what `vidpipe show` says of an encrypted package.
      ...(result.loudness || result.source || result.protection
        ? { properties: { ...(result.loudness ? { loudness: result.loudness } : {}), ...(result.source ? { source: result.source } : {}), ...(result.protection ? { protection: result.protection } : {}) } }
        : {}),
    },
    outputs: result.outputs as Record<string, string>,
    timings: result.timings,
    renditions: result.renditions.map((r) => ({
      name: r.name, kind: r.kind, codec: r.codec, codecs: r.codecs, width: r.width, height: r.height,
      frameRate: r.frameRate, channels: r.channels, sampleRate: r.sampleRate, language: r.language,
      averageBitrate: r.averageBitrate, peakBitrate: r.peakBitrate, targetBitrate: r.targetBitrate,
      sizeBytes: r.sizeBytes, segmentCount: r.segments, playlist: r.playlist, init: initOf(r.name),
      properties: r.quality ? { quality: r.quality } : undefined,
    })),
    files: published.files.map((f) => ({ key: f.key, bytes: f.bytes, sha256: published.hashes[f.key] ?? '' })),
    ...(result.ladder ? { ladder: result.ladder } : {}),
  };
}

/**
 * The records of one job. Until the job row exists (the video's id comes from hashing the input,
 * its kind and duration from the plan), task events and patches (a queue worker's name on the
 * Matroska copy, which runs before the plan) are kept and written in order once it does.
 *
 * Events arrive synchronously from the runner while the store answers asynchronously: every
 * write joins one queue, so the store sees them in the order they happened (a task's 'running'
 * before its 'succeeded'). Event writes never reject: a write that fails is kept and thrown by the
 * next write the job waits for (a task's recorded output, its resume key, its final metadata), so
 * a job whose records cannot be written fails with the store's error.
 */
export class JobRecorder {
  private started = false;
  private readonly early: { tasks: DagNodeSummary[]; writes: (() => Promise<void>)[] } = { tasks: [], writes: [] };
  /** The last queued write; each next one starts when it has settled. */
  private queue: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  /** What job.failed says of the job, once its row exists. */
  private identity: { videoId: string; jobId: string; input: string } | undefined;

  constructor(
    private readonly store: MetadataStore,
    readonly jobId: string,
    /** The job's webhooks: its events go to the outbox with its records (webhook-events.ts). */
    private readonly webhooks: readonly string[] = [],
  ) {}

  get isStarted(): boolean {
    return this.started;
  }

  /**
   * Writes the job and video rows with the tasks known so far (and job.started for the job's
   * webhooks), then what happened to them meanwhile. The job's settings are stored without their secrets.
   */
  async start(input: Omit<StartJobInput, 'jobId' | 'tasks' | 'options' | 'events'> & { options: JobSettings }): Promise<void> {
    if (this.started) return this.settled();
    this.started = true;
    const tasks = [...this.early.tasks];
    const writes = this.early.writes.splice(0);
    const { jobId } = this;
    this.identity = { videoId: input.video.id, jobId, input: input.input };
    const events = outboxEntries(this.webhooks, 'job.started', jobId, startedData({ ...input, jobId }));
    await this.enqueue(async () => {
      await this.store.startJob({ ...input, options: shareableSettings(input.options), jobId, tasks, events });
      for (const write of writes) await write();
    });
  }

  /** A job event: new tasks get rows, task events update theirs (queued: see the class comment). */
  observe(event: JobEvent | DagEvent, at = new Date()): void {
    if (event.type === 'job-start' || event.type === 'tasks-added') {
      if (this.started) this.enqueue(() => this.store.addTasks(this.jobId, event.tasks)).catch(() => undefined);
      else this.early.tasks.push(...event.tasks);
      return;
    }
    if (!('id' in event)) return;
    const patch = taskPatchOf(event, at);
    if (patch) void this.updateTask(event.id, patch);
  }

  /** Fields the events do not carry: a skipped task's output, a queue worker's attempts and name. Settles once written (never rejects). */
  updateTask(taskId: string, patch: TaskPatch): Promise<void> {
    const write = () => this.store.updateTask(this.jobId, taskId, patch);
    if (this.started) return this.enqueue(write).catch(() => undefined);
    this.early.writes.push(write);
    return Promise.resolve();
  }

  /**
   * A resumable task's output with its 'succeeded' status (see resume.ts): settles once written,
   * and rejects when this write or an earlier one failed, so the task fails instead of counting as
   * reusable without a record.
   */
  async saveOutput(taskId: string, output: unknown): Promise<void> {
    await this.updateTask(taskId, { status: 'succeeded', output });
    await this.settled();
  }

  async setResumeKey(resumeKey: string): Promise<void> {
    await this.settled();
    await this.enqueue(() => this.store.setResumeKey(this.jobId, resumeKey));
  }

  /** The final metadata: job, video, renditions and published files (and job.succeeded), one unit of work. */
  async complete(result: TranscodeResult, manifests: ManifestsOutput, published: PublishOutput): Promise<void> {
    await this.settled();
    const events = outboxEntries(this.webhooks, 'job.succeeded', this.jobId, succeededData(result));
    await this.enqueue(() => this.store.completeJob(this.jobId, { ...completedJob(result, manifests, published), events }));
  }

  /** A failed or interrupted job (and job.failed); a failure to record it must not hide the failure itself. */
  async fail(result: TranscodeResult): Promise<void> {
    if (!this.started || !result.error) return;
    const { error } = result;
    const status = result.status === 'interrupted' ? 'interrupted' : 'failed';
    const events = outboxEntries(this.webhooks, 'job.failed', this.jobId, failedData(this.identity!, status, error));
    await this.enqueue(() => this.store.failJob(this.jobId, { status, code: error.code, message: error.message, events })).catch(() => {
      // The original failure matters more than a failure to record it.
    });
  }

  /** Every write queued so far has been made; throws the first one that failed. */
  async settled(): Promise<void> {
    await this.queue;
    if (this.failure) throw this.failure.error;
  }

  private enqueue(write: () => Promise<void>): Promise<void> {
    const done = this.queue.then(write);
    this.queue = done.catch((error: unknown) => {
      this.failure ??= { error };
    });
    return done;
  }
}

/** A job whose nodes ran elsewhere (queue workers) and has ended: what the submitting machine records of it. */
export interface EndedElsewhere {
  options: JobOptions;
  plan: JobPlan;
  source: SourceFile;
  /** Every node's result, when the job succeeded. */
  results?: Record<string, unknown>;
  /** Why it failed, when it did: the failing task's error code and message. */
  error?: { code: ErrorCode; message: string };
  /** What each node did, as the queue kept it. */
  nodes: { id: string; status: 'succeeded' | 'failed' | 'cancelled'; worker: string | null; attempts: number; startedAt: string | null; finishedAt: string | null; error: string | null }[];
  submittedAt: string;
  finishedAt: string;
}

/**
 * Records the end of a job that ran on workers while its submitter did not follow it
 * (`--detach`): task rows, and the final metadata or the failure, as the metadata node would
 * have. A job the database does not hold, or no longer holds as running, is left alone: returns
 * whether anything was written.
 */
export async function recordEndedJob(db: MetadataStore, ended: EndedElsewhere): Promise<boolean> {
  const { jobId } = ended.options;
  let details;
  try {
    details = await db.getJob(jobId);
  } catch (error) {
    if (isVidpipeError(error) && error.code === 'NOT_FOUND') return false;
    throw error;
  }
  if (details.job.status !== 'running') return false;
  const known = new Map(details.tasks.map((task) => [task.id, task]));
  const spans: { kind: string; start: number; end: number }[] = [];
  for (const entry of ended.nodes) {
    const task = known.get(entry.id);
    if (!task) continue;
    await db.updateTask(jobId, entry.id, { status: entry.status, worker: entry.worker, attempts: entry.attempts, startedAt: entry.startedAt, finishedAt: entry.finishedAt, error: entry.error });
    if (entry.startedAt && entry.finishedAt) spans.push({ kind: task.kind, start: Date.parse(entry.startedAt), end: Date.parse(entry.finishedAt) });
  }
  // This is the metadata node's work, done here instead of by the submitter that did not wait.
  const metadata = known.has(node.metadata.id) ? node.metadata.id : undefined;
  const now = new Date().toISOString();
  // A spec from a vidpipe without webhooks has none.
  const webhooks = ended.options.settings.webhooks ?? [];
  if (!ended.results) {
    if (metadata) await db.updateTask(jobId, metadata, { status: 'cancelled', finishedAt: now });
    const error = { code: ended.error?.code ?? 'FFMPEG_FAILED', message: ended.error?.message ?? 'failed on the queue' };
    const events = outboxEntries(webhooks, 'job.failed', jobId, failedData({ videoId: details.job.videoId, jobId, input: details.job.input }, 'failed', error));
    await db.failJob(jobId, { status: 'failed', ...error, events });
    return true;
  }
  const results = new NodeResultsView(new Map(Object.entries(ended.results)));
  const published = results.get(node.publish);
  const timings = { ...spanSeconds(spans), total: round3((Date.parse(ended.finishedAt) - Date.parse(ended.submittedAt)) / 1000) };
  const result = succeededResult({ base: resultBase(ended.options, ended.source, ended.plan), options: ended.options, plan: ended.plan, results, chosen: published, files: published.files, timings });
  if (metadata) await db.updateTask(jobId, metadata, { status: 'running', startedAt: now, attempts: 1 });
  await db.completeJob(jobId, { ...completedJob(result, results.get(node.manifests), published), events: outboxEntries(webhooks, 'job.succeeded', jobId, succeededData(result)) });
  if (metadata) await db.updateTask(jobId, metadata, { status: 'succeeded', finishedAt: new Date().toISOString(), progress: 1 });
  return true;
}
