import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { VidpipeError } from '../../errors.js';
import { dbFailed } from '../db-error.js';
import type { MetadataEngineInfo, MetadataStore, MetadataStoreOptions } from '../metadata-store.js';
import { readLadder, writeLadder } from './ladder-records.js';
import { sqliteOutbox as outbox } from './outbox.js';
import { claimUpload, finishUpload, readUpload, releaseUpload, renewUpload } from './uploads.js';
import type {
  CompleteJobInput,
  DeliveryAttemptRecord,
  DeliveryLeaseRequest,
  DeliveryRecord,
  DueDelivery,
  FailJobInput,
  JobDetails,
  JobRecord,
  ListDeliveriesOptions,
  ListVideosOptions,
  StartJobInput,
  TaskPatch,
  TaskRecord,
  TaskSpec,
  UploadClaim,
  UploadFinish,
  UploadLease,
  UploadRecord,
  UploadRef,
  UploadRelease,
  VideoDetails,
  VideoSummary,
} from '../records.js';
import {
  TASK_PATCH_COLUMNS,
  renditionValues,
  taskColumnValue,
  toInteger,
  toJobRecord,
  toJson,
  toOutputFileRecord,
  toStoredRendition,
  toTaskRecord,
  toVideoRecord,
  toVideoSummary,
  withStatusDefaults,
  type VideoRow,
} from '../rows.js';
import { prepareStatements, type SqlValue, type Statements } from './statements.js';

/** How many candidates an ambiguous id prefix error lists. */
const AMBIGUOUS_SHOWN = 5;

/**
 * The SQLite engine's MetadataStore (opened by ./engine.ts). Every write that must be
 * all-or-nothing runs in one IMMEDIATE transaction: it takes the write lock up front, so
 * concurrent vidpipe processes queue on busy_timeout instead of failing with SQLITE_BUSY when a
 * deferred transaction tries to upgrade. better-sqlite3 is synchronous: each method does its
 * whole unit of work at once and hands back a settled promise, so SQLite jobs pay no round trips.
 */
export class SqliteMetadataStore implements MetadataStore {
  /** The underlying connection, for maintenance and SQLite-only tests. */
  readonly sqlite: Database.Database;
  private readonly statements: Statements;
  private readonly clock: () => Date;
  private readonly worker: string;

  constructor(sqlite: Database.Database, options: MetadataStoreOptions = {}) {
    this.sqlite = sqlite;
    this.statements = prepareStatements(sqlite);
    this.clock = options.now ?? (() => new Date());
    this.worker = options.worker ?? `${hostname()}:${process.pid}`;
  }

  /** Records a new job: upserts its video as 'processing', inserts the job and its pending tasks. */
  async startJob(input: StartJobInput): Promise<void> {
    this.write(`start job ${input.jobId}`, () => {
      const now = this.now();
      const { video } = input;
      this.statements.upsertVideo.run({
        id: video.id,
        source: video.source,
        name: video.name,
        sha256: video.sha256 ?? null,
        sizeBytes: toInteger(video.sizeBytes),
        durationSeconds: video.durationSeconds ?? null,
        kind: video.kind,
        probe: toJson(video.probe),
        tags: JSON.stringify(video.tags ?? {}),
        now,
      });
      this.statements.insertJob.run({
        id: input.jobId,
        videoId: video.id,
        input: input.input,
        output: input.output,
        options: JSON.stringify(input.options),
        attempt: input.attempt ?? this.statements.countJobsOfVideo.get(video.id)! + 1,
        now,
        worker: input.worker ?? this.worker,
      });
      this.insertTasks(input.jobId, input.tasks);
      outbox.write(this.sqlite, input.events ?? []);
    });
  }

  /**
   * Adds pending tasks to a started job, for DAG nodes known only after probing (the
   * encode chunks depend on the input's duration and ladder).
   */
  async addTasks(jobId: string, tasks: TaskSpec[]): Promise<void> {
    this.write(`add tasks to job ${jobId}`, () => {
      this.requireJobVideoId(jobId);
      this.insertTasks(jobId, tasks);
    });
  }

  /**
   * Changes the given fields of one task. Moving to 'running' stamps startedAt (and clears
   * finishedAt, for a retry); a finished status stamps finishedAt; 'succeeded' sets progress
   * to 1 — each unless the patch says otherwise.
   */
  async updateTask(jobId: string, taskId: string, patch: TaskPatch): Promise<void> {
    this.write(`update task ${taskId} of job ${jobId}`, () => {
      const params = bindTaskPatch(withStatusDefaults(patch, this.now()));
      const { changes } = this.statements.updateTask.run({ ...params, jobId, taskId });
      if (changes === 0) throw new VidpipeError('NOT_FOUND', `job ${jobId} has no task ${taskId}`);
    });
  }

  /** Publishes a finished job: job, video, renditions and written files, all or nothing. */
  async completeJob(jobId: string, input: CompleteJobInput): Promise<void> {
    this.write(`complete job ${jobId}`, () => {
      const now = this.now();
      this.assertJobOfVideo(jobId, input.video.id);
      this.statements.markJobSucceeded.run({
        id: jobId,
        outputs: JSON.stringify(input.outputs),
        timings: JSON.stringify(input.timings),
        now,
      });
      this.statements.markVideoDone.run({
        id: input.video.id,
        status: input.video.status,
        durationSeconds: input.video.durationSeconds,
        tags: toJson(input.video.tags),
        properties: toJson(input.video.properties),
        now,
      });
      // Completing twice (a re-run of the final stage) replaces the renditions instead of doubling them.
      this.statements.deleteRenditionsOfJob.run(jobId);
      for (const rendition of input.renditions) {
        this.statements.insertRendition.run({ jobId, videoId: input.video.id, ...renditionValues(rendition) });
      }
      if (input.ladder) writeLadder(this.sqlite, jobId, input.ladder);
      for (const file of input.files ?? []) {
        this.statements.upsertOutputFile.run({
          jobId,
          key: file.key,
          bytes: toInteger(file.bytes),
          sha256: file.sha256,
        });
      }
      outbox.write(this.sqlite, input.events ?? []);
    });
  }

  /**
   * Ends a running job as failed or interrupted: its unfinished tasks become 'cancelled',
   * and its video takes the job's status unless an earlier job published it. A job that
   * already finished is left alone.
   */
  async failJob(jobId: string, input: FailJobInput): Promise<void> {
    this.write(`record the failure of job ${jobId}`, () => {
      const now = this.now();
      const { changes } = this.statements.markJobFailed.run({
        id: jobId,
        status: input.status,
        code: input.code,
        message: input.message,
        now,
      });
      if (changes === 0) {
        this.requireJobVideoId(jobId);
        return;
      }
      this.statements.cancelOpenTasks.run({ jobId, now });
      this.statements.settleVideoAfterFailure.run({ jobId, status: input.status, now });
      outbox.write(this.sqlite, input.events ?? []);
    });
  }

  /**
   * Tags a job with the identity of its work (input content + output-affecting settings +
   * destination), so a re-run after a crash can find it and reuse its finished tasks.
   */
  async setResumeKey(jobId: string, resumeKey: string): Promise<void> {
    this.write(`set the resume key of job ${jobId}`, () => {
      const { changes } = this.statements.setJobResumeKey.run({ id: jobId, resumeKey });
      if (changes === 0) throw new VidpipeError('NOT_FOUND', `no job with id ${jobId}`);
    });
  }

  /**
   * The jobs with this resume key since (and including) its last succeeded one, newest first, and
   * the tasks of the unfinished ones that recorded an output, newest job first; null if no job has the key.
   */
  async jobsByResumeKey(resumeKey: string): Promise<{ jobs: JobRecord[]; tasks: TaskRecord[] } | null> {
    return this.read(`find the jobs to resume (${resumeKey})`, () => {
      const rows = this.statements.unfinishedJobsByResumeKey.all({ key: resumeKey });
      if (rows.length === 0) return null;
      // A succeeded job's work folder was removed: its records describe nothing on disk.
      const unfinished = rows.filter((row) => row.status !== 'succeeded');
      const tasks = unfinished.flatMap((row) => this.statements.tasksOfJob.all(row.id).map(toTaskRecord).filter((task) => task.output !== null));
      return { jobs: rows.map(toJobRecord), tasks };
    });
  }

  async runningJobIds(): Promise<string[]> {
    return this.read('list the running jobs', () => this.statements.runningJobIds.all().map((row) => row.id));
  }

  async listVideos(options: ListVideosOptions = {}): Promise<VideoSummary[]> {
    return this.read('list videos', () =>
      this.statements.listVideos
        .all({ status: options.status ?? null, limit: options.limit ?? -1 })
        .map(toVideoSummary),
    );
  }

  /** A video by id or unique id prefix, with its latest job, that job's tasks and the published renditions. */
  async getVideo(idOrPrefix: string): Promise<VideoDetails> {
    return this.read(`read video ${idOrPrefix}`, () => {
      const row = this.resolveVideo(idOrPrefix);
      const latestJob = this.statements.latestJobOfVideo.get(row.id);
      const readyJob = this.statements.latestSucceededJobOfVideo.get(row.id);
      return {
        video: toVideoRecord(row),
        latestJob: latestJob ? toJobRecord(latestJob) : null,
        tasks: latestJob ? this.statements.tasksOfJob.all(latestJob.id).map(toTaskRecord) : [],
        readyJob: readyJob ? toJobRecord(readyJob) : null,
        renditions: readyJob ? this.statements.renditionsOfJob.all(readyJob.id).map(toStoredRendition) : [],
        ladder: readyJob ? readLadder(this.sqlite, readyJob.id) : null,
      };
    });
  }

  /** One job with its tasks, renditions and recorded output files. */
  async getJob(jobId: string): Promise<JobDetails> {
    return this.read(`read job ${jobId}`, () => {
      const row = this.statements.jobById.get(jobId);
      if (!row) throw new VidpipeError('NOT_FOUND', `no job with id ${jobId}`);
      return {
        job: toJobRecord(row),
        tasks: this.statements.tasksOfJob.all(jobId).map(toTaskRecord),
        renditions: this.statements.renditionsOfJob.all(jobId).map(toStoredRendition),
        files: this.statements.filesOfJob.all(jobId).map(toOutputFileRecord),
        ladder: readLadder(this.sqlite, jobId),
      };
    });
  }

  async saveRenditionQuality(jobId: string, qualityByRendition: Record<string, unknown>): Promise<string[]> {
    return this.write(`store quality metrics of job ${jobId}`, () =>
      Object.entries(qualityByRendition)
        .filter(([name, quality]) => this.statements.setRenditionQuality.run(JSON.stringify(quality), jobId, name).changes > 0)
        .map(([name]) => name),
    );
  }

  async getUpload(bucket: string, key: string): Promise<UploadRecord | undefined> {
    return this.read(`read upload ${key}`, () => readUpload(this.sqlite, bucket, key));
  }

  async claimUpload(upload: UploadRef, lease: UploadLease): Promise<UploadClaim> {
    return this.write(`claim ${upload.key}`, () => claimUpload(this.sqlite, upload, lease));
  }

  async renewUpload(upload: UploadRef, lease: Omit<UploadLease, 'maxAttempts'>): Promise<boolean> {
    return this.write(`renew lease of ${upload.key}`, () => renewUpload(this.sqlite, upload, lease));
  }

  async finishUpload(upload: UploadRef, finish: UploadFinish): Promise<void> {
    this.write(`record ${upload.key} as ${finish.status}`, () => finishUpload(this.sqlite, upload, finish));
  }

  async releaseUpload(upload: UploadRef, release: UploadRelease): Promise<void> {
    this.write(`release ${upload.key}`, () => releaseUpload(this.sqlite, upload, release));
  }

  async takeDueDeliveries(request: DeliveryLeaseRequest): Promise<DueDelivery[]> {
    return this.write('take webhook deliveries', () => outbox.takeDue(this.sqlite, request, this.clock()));
  }

  async recordDeliveryAttempt(messageId: string, url: string, attempt: DeliveryAttemptRecord): Promise<void> {
    this.write(`record a delivery attempt of ${messageId}`, () => outbox.recordAttempt(this.sqlite, messageId, url, attempt));
  }

  async listDeliveries(options: ListDeliveriesOptions = {}): Promise<DeliveryRecord[]> {
    return this.read('list webhook deliveries', () => outbox.list(this.sqlite, options));
  }

  async describe(): Promise<MetadataEngineInfo> {
    const version = this.read('read the SQLite version', () => this.sqlite.prepare('SELECT sqlite_version()').pluck().get() as string);
    const driver = (createRequire(import.meta.url)('better-sqlite3/package.json') as { version: string }).version;
    return { engine: 'sqlite', version, driver: `better-sqlite3 ${driver}` };
  }

  async close(): Promise<void> {
    if (this.sqlite.open) this.sqlite.close();
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Writes take the write lock up front (IMMEDIATE): see the class comment. */
  private write<T>(action: string, body: () => T): T {
    return this.transact('immediate', action, body);
  }

  /** Several SELECTs in one (deferred) transaction read one consistent WAL snapshot. */
  private read<T>(action: string, body: () => T): T {
    return this.transact('deferred', action, body);
  }

  private transact<T>(mode: 'immediate' | 'deferred', action: string, body: () => T): T {
    try {
      return this.sqlite.transaction(body)[mode]();
    } catch (error) {
      throw dbFailed(action, error);
    }
  }

  private insertTasks(jobId: string, tasks: TaskSpec[]): void {
    for (const task of tasks) {
      this.statements.insertTask.run({
        jobId,
        id: task.id,
        kind: task.kind,
        label: task.label,
        dependsOn: JSON.stringify(task.dependsOn),
      });
    }
  }

  private requireJobVideoId(jobId: string): string {
    const videoId = this.statements.jobVideoId.get(jobId);
    if (videoId === undefined) throw new VidpipeError('NOT_FOUND', `no job with id ${jobId}`);
    return videoId;
  }

  private assertJobOfVideo(jobId: string, videoId: string): void {
    const owner = this.requireJobVideoId(jobId);
    if (owner !== videoId) {
      throw new VidpipeError('INTERNAL', `job ${jobId} belongs to video ${owner}, not ${videoId}`);
    }
  }

  /** Exact id first (an id may be a prefix of another), then a unique prefix. */
  private resolveVideo(idOrPrefix: string): VideoRow {
    if (idOrPrefix === '') throw new VidpipeError('USAGE', 'a video id (or a prefix of one) is required');
    const exact = this.statements.videoById.get(idOrPrefix);
    if (exact) return exact;
    const matches = this.statements.videoIdsByPrefix.all({ prefix: idOrPrefix, limit: AMBIGUOUS_SHOWN + 1 });
    if (matches.length === 1) return this.statements.videoById.get(matches[0])!;
    if (matches.length === 0) {
      throw new VidpipeError('NOT_FOUND', `no video with id or id prefix "${idOrPrefix}"`, {
        hint: 'run `vidpipe list` to see the stored videos',
      });
    }
    const shown = matches.slice(0, AMBIGUOUS_SHOWN).join(', ');
    const more = matches.length > AMBIGUOUS_SHOWN ? ', …' : '';
    throw new VidpipeError('NOT_FOUND', `id prefix "${idOrPrefix}" is ambiguous: it matches ${shown}${more}`, {
      hint: 'give more characters of the id',
    });
  }
}

/** Parameters for the generated UPDATE: `set_<column>` is 1 when the patch gives that field. */
function bindTaskPatch(patch: TaskPatch): Record<string, SqlValue> {
  const params: Record<string, SqlValue> = {};
  for (const [key, column] of Object.entries(TASK_PATCH_COLUMNS) as [keyof TaskPatch, string][]) {
    const value = patch[key];
    params[`set_${column}`] = value === undefined ? 0 : 1;
    params[column] = taskColumnValue(key, value);
  }
  return params;
}
