/**
 * The metadata layer's one interface: everything the pipeline, `watch` and the CLI record or read
 * (videos, jobs, tasks, renditions, written files, ladders, quality, watched uploads). An engine
 * (SQLite today; see ./engines.ts for how one is chosen by the target's scheme) implements it;
 * callers hold a MetadataStore and never learn which engine, nor see SQL.
 *
 * Every method is asynchronous (a networked engine answers later) and is one unit of work: a
 * method that writes several rows writes them all or none, inside the engine. Methods throw
 * VidpipeError: NOT_FOUND for a missing job, video or task, DB_FAILED (with what vidpipe was doing)
 * when the engine fails.
 */
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
} from './records.js';

export interface MetadataStore {
  // ---- a job's records, as it runs ----------------------------------------------------------

  /** Records a new job: upserts its video as 'processing', inserts the job and its pending tasks. */
  startJob(input: StartJobInput): Promise<void>;
  /** Adds pending tasks to a started job (DAG nodes known only after probing or planning). */
  addTasks(jobId: string, tasks: TaskSpec[]): Promise<void>;
  /**
   * Changes the given fields of one task. Moving to 'running' stamps startedAt (and clears
   * finishedAt, for a retry); a finished status stamps finishedAt; 'succeeded' sets progress to 1:
   * each unless the patch says otherwise.
   */
  updateTask(jobId: string, taskId: string, patch: TaskPatch): Promise<void>;
  /** Publishes a finished job: job, video, renditions, written files and ladder, all or nothing; again replaces. */
  completeJob(jobId: string, input: CompleteJobInput): Promise<void>;
  /**
   * Ends a running job as failed or interrupted: its unfinished tasks become 'cancelled', and its
   * video takes the job's status unless an earlier job published it. A finished job is left alone.
   */
  failJob(jobId: string, input: FailJobInput): Promise<void>;
  /** Tags a job with the identity of its work, so a re-run after a crash finds it (see job/resume.ts). */
  setResumeKey(jobId: string, resumeKey: string): Promise<void>;
  /**
   * The jobs with this resume key since (and including) its last succeeded one, newest first, and
   * the tasks of the unfinished ones that recorded an output, newest job first; null if no job has the key.
   */
  jobsByResumeKey(resumeKey: string): Promise<{ jobs: JobRecord[]; tasks: TaskRecord[] } | null>;
  /** The ids of the jobs recorded as running, oldest first (a worker looks for detached ones that ended unrecorded). */
  runningJobIds(): Promise<string[]>;
  /**
   * Merges measured quality into the named renditions of a job (`properties.quality`), leaving
   * their other properties as they are; returns the names of the renditions it updated.
   */
  saveRenditionQuality(jobId: string, qualityByRendition: Record<string, unknown>): Promise<string[]>;

  // ---- reading back ---------------------------------------------------------------------------

  /** The stored videos, most recently updated first. */
  listVideos(options?: ListVideosOptions): Promise<VideoSummary[]>;
  /** A video by id or unique id prefix, with its latest job, that job's tasks and the published renditions (one snapshot). */
  getVideo(idOrPrefix: string): Promise<VideoDetails>;
  /** One job with its tasks, renditions, written files and ladder (one snapshot). */
  getJob(jobId: string): Promise<JobDetails>;

  // ---- uploads seen by `vidpipe watch`, claimed with a lease --------------------------------

  /** An upload's row, or undefined when it was never seen. */
  getUpload(bucket: string, key: string): Promise<UploadRecord | undefined>;
  /**
   * Records the upload (a changed ETag starts it over) and tries to take it, atomically: of two
   * watchers racing for one upload exactly one gets `claimed: true`. Claimable: pending, or claimed
   * by someone whose lease ran out (a killed watcher) while attempts remain; a lease run out with
   * no attempts left marks it failed ('gave-up').
   */
  claimUpload(upload: UploadRef, lease: UploadLease): Promise<UploadClaim>;
  /** Extends the holder's lease while its job runs; false when the claim is no longer its own. */
  renewUpload(upload: UploadRef, lease: Omit<UploadLease, 'maxAttempts'>): Promise<boolean>;
  /** Final states ('done', 'failed') of this ETag; the lease ends. */
  finishUpload(upload: UploadRef, finish: UploadFinish): Promise<void>;
  /** Gives a claim back (pending again), refunding the attempt unless `countAttempt`. Only the holder's claim. */
  releaseUpload(upload: UploadRef, release: UploadRelease): Promise<void>;

  // ---- the webhook outbox (src/events/webhook-delivery.ts delivers from it) ------------------
  // startJob, completeJob and failJob write their input's `events` in their own transaction.

  /**
   * Up to `limit` undelivered deliveries whose next attempt is due (every pending one with
   * `all`; the given-up ones too with `includeFailed`) and that no one else holds a live lease
   * on, leased to `holder`: two processes never take the same delivery at once.
   */
  takeDueDeliveries(request: DeliveryLeaseRequest): Promise<DueDelivery[]>;
  /** One attempt's outcome: delivered, pending until its next attempt, or failed; the lease ends. A delivered one stays delivered. */
  recordDeliveryAttempt(messageId: string, url: string, attempt: DeliveryAttemptRecord): Promise<void>;
  /** The deliveries, newest event first. */
  listDeliveries(options?: ListDeliveriesOptions): Promise<DeliveryRecord[]>;

  // ---- the engine itself --------------------------------------------------------------------

  /** What `vidpipe doctor` reports: the engine, its server or library version and the driver. */
  describe(): Promise<MetadataEngineInfo>;
  /** Releases the connection(s); the store is unusable afterwards. Closing twice is harmless. */
  close(): Promise<void>;
}

export interface MetadataEngineInfo {
  /** The engine's name, e.g. "sqlite". */
  engine: string;
  /** The database's own version, e.g. SQLite's "3.46.1". */
  version: string;
  /** The client library and its version, e.g. "better-sqlite3 13.2.0". */
  driver: string;
}

export interface MetadataStoreOptions {
  /** Clock for the timestamps the store writes itself; tests inject a fixed one. */
  now?: () => Date;
  /** Recorded on jobs this store starts when the input names none; defaults to "host:pid". */
  worker?: string;
}

/**
 * An engine module: the store for one kind of target. Registered by scheme in ./engines.ts and
 * loaded only when a target of its scheme is opened (its driver is imported with it).
 */
export interface MetadataEngine {
  /** Opens (creating and migrating where the engine does) the database `target` names. */
  open(target: MetadataTarget, options?: MetadataStoreOptions): Promise<MetadataStore>;
}

/** What `--db` / VIDPIPE_DB named, resolved once: the engine's scheme and what the engine opens. */
export interface MetadataTarget {
  /** The registry key: "sqlite" for a path, sqlite: or file: target. */
  scheme: string;
  /** For sqlite, the database file's path; for a URL engine, the URL as given (never print it whole: it may hold a password). */
  location: string;
}
