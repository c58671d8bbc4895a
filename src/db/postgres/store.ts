/**
 * The PostgreSQL engine's MetadataStore (opened by ./engine.ts): the same records as the SQLite
 * engine in relational tables, the flexible properties (probe, tags, options, quality, outputs)
 * as JSONB. Every method is one transaction on a pooled connection. Concurrent writers from many
 * machines never lose an update: every change is one UPDATE of the row itself (a read-modify-
 * write would lose one), the JSONB merges are done by the server (`jsonb_set`, `||`), and the
 * claims of watched uploads are conditional UPDATEs whose losers re-check the row the winner
 * committed (PostgreSQL's READ COMMITTED re-evaluates the WHERE), so exactly one watcher gets it.
 */
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { LadderReport } from '../../core/result.js';
import { VidpipeError, isVidpipeError } from '../../errors.js';
import type { MetadataEngineInfo, MetadataStore, MetadataStoreOptions } from '../metadata-store.js';
import {
  claimRefusal,
  giveUpMessage,
  type CompleteJobInput,
  type DeliveryAttemptRecord,
  type DeliveryLeaseRequest,
  type DeliveryRecord,
  type DueDelivery,
  type FailJobInput,
  type JobDetails,
  type JobRecord,
  type ListDeliveriesOptions,
  type ListVideosOptions,
  type RenditionRecord,
  type StartJobInput,
  type TaskPatch,
  type TaskRecord,
  type TaskSpec,
  type UploadClaim,
  type UploadFinish,
  type UploadLease,
  type UploadRecord,
  type UploadRef,
  type UploadRelease,
  type VideoDetails,
  type VideoSummary,
} from '../records.js';
import {
  TASK_PATCH_COLUMNS,
  ladderValues,
  renditionValues,
  rungValues,
  taskColumnValue,
  toInteger,
  toJobRecord,
  toJson,
  toLadderReport,
  toOutputFileRecord,
  toStoredRendition,
  toTaskRecord,
  toUploadRecord,
  toVideoRecord,
  toVideoSummary,
  withStatusDefaults,
  type JobRow,
  type LadderRow,
  type OutputFileRow,
  type RenditionRow,
  type RungRow,
  type TaskRow,
  type UploadRow,
  type VideoRow,
  type VideoSummaryRow,
} from '../rows.js';
import { redactMessage } from '../redact.js';
import { postgresOutbox as outbox } from './outbox.js';

type Client = pg.PoolClient;
type SqlValue = string | number | null;

const AMBIGUOUS_SHOWN = 5;
/** "Latest" means most recently started; the insertion sequence breaks ties within a millisecond. */
const LATEST_FIRST = 'ORDER BY started_at DESC, seq DESC';

export class PostgresMetadataStore implements MetadataStore {
  private readonly clock: () => Date;
  private readonly worker: string;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    /** The URL as given: only for taking its password out of messages. */
    private readonly url: string,
    options: MetadataStoreOptions = {},
  ) {
    this.clock = options.now ?? (() => new Date());
    this.worker = options.worker ?? `${hostname()}:${process.pid}`;
  }

  async startJob(input: StartJobInput): Promise<void> {
    await this.transaction(`start job ${input.jobId}`, async (db) => {
      const now = this.now();
      const { video } = input;
      // The video row's lock orders two jobs of one video starting together: each counts the other.
      await db.query(
        `INSERT INTO videos (id, source, name, sha256, size_bytes, duration_seconds, kind, probe, tags, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, 'processing', $10, $10)
         ON CONFLICT (id) DO UPDATE SET
           source = excluded.source, name = excluded.name, sha256 = excluded.sha256,
           size_bytes = excluded.size_bytes, duration_seconds = excluded.duration_seconds,
           kind = excluded.kind, probe = excluded.probe, tags = excluded.tags,
           status = 'processing', updated_at = excluded.updated_at`,
        [video.id, video.source, video.name, video.sha256 ?? null, toInteger(video.sizeBytes), video.durationSeconds ?? null, video.kind, toJson(video.probe), JSON.stringify(video.tags ?? {}), now],
      );
      const attempt = input.attempt ?? (await scalar<number>(db, 'SELECT count(*) FROM jobs WHERE video_id = $1', [video.id]))! + 1;
      await db.query(
        `INSERT INTO jobs (id, video_id, input, output, options, status, attempt, started_at, worker)
         VALUES ($1, $2, $3, $4, $5::jsonb, 'running', $6, $7, $8)`,
        [input.jobId, video.id, input.input, input.output, JSON.stringify(input.options), attempt, now, input.worker ?? this.worker],
      );
      await insertTasks(db, input.jobId, input.tasks);
      await outbox.write(db, input.events ?? []);
    });
  }

  async addTasks(jobId: string, tasks: TaskSpec[]): Promise<void> {
    await this.transaction(`add tasks to job ${jobId}`, async (db) => {
      await requireJobVideoId(db, jobId);
      await insertTasks(db, jobId, tasks);
    });
  }

  async updateTask(jobId: string, taskId: string, patch: TaskPatch): Promise<void> {
    await this.transaction(`update task ${taskId} of job ${jobId}`, async (db) => {
      const filled = withStatusDefaults(patch, this.now());
      const sets: string[] = [];
      const values: SqlValue[] = [];
      for (const [key, column] of Object.entries(TASK_PATCH_COLUMNS) as [keyof TaskPatch, string][]) {
        if (filled[key] === undefined) continue;
        values.push(taskColumnValue(key, filled[key]));
        sets.push(`${column} = $${values.length}${key === 'output' ? '::jsonb' : ''}`);
      }
      if (sets.length === 0) {
        if ((await scalar(db, 'SELECT 1 FROM tasks WHERE job_id = $1 AND id = $2', [jobId, taskId])) === undefined) throw noTask(jobId, taskId);
        return;
      }
      const { rowCount } = await db.query(`UPDATE tasks SET ${sets.join(', ')} WHERE job_id = $${values.length + 1} AND id = $${values.length + 2}`, [...values, jobId, taskId]);
      if (rowCount === 0) throw noTask(jobId, taskId);
    });
  }

  async completeJob(jobId: string, input: CompleteJobInput): Promise<void> {
    await this.transaction(`complete job ${jobId}`, async (db) => {
      const now = this.now();
      const owner = await requireJobVideoId(db, jobId);
      if (owner !== input.video.id) throw new VidpipeError('INTERNAL', `job ${jobId} belongs to video ${owner}, not ${input.video.id}`);
      await db.query(
        `UPDATE jobs SET status = 'succeeded', outputs = $2::jsonb, timings = $3::jsonb, finished_at = $4, error_code = NULL, error_message = NULL WHERE id = $1`,
        [jobId, JSON.stringify(input.outputs), JSON.stringify(input.timings), now],
      );
      await db.query(
        `UPDATE videos SET status = $2, duration_seconds = $3, tags = coalesce($4::jsonb, tags), properties = coalesce($5::jsonb, properties), updated_at = $6 WHERE id = $1`,
        [input.video.id, input.video.status, input.video.durationSeconds, toJson(input.video.tags), toJson(input.video.properties), now],
      );
      // Completing twice (a re-run of the final stage) replaces the renditions instead of doubling them.
      await db.query('DELETE FROM renditions WHERE job_id = $1', [jobId]);
      for (const rendition of input.renditions) await insertRendition(db, jobId, input.video.id, rendition);
      if (input.ladder) await writeLadder(db, jobId, input.ladder);
      for (const file of input.files ?? []) {
        await db.query(
          `INSERT INTO outputs (job_id, key, bytes, sha256) VALUES ($1, $2, $3, $4)
           ON CONFLICT (job_id, key) DO UPDATE SET bytes = excluded.bytes, sha256 = excluded.sha256`,
          [jobId, file.key, toInteger(file.bytes), file.sha256],
        );
      }
      await outbox.write(db, input.events ?? []);
    });
  }

  async failJob(jobId: string, input: FailJobInput): Promise<void> {
    await this.transaction(`record the failure of job ${jobId}`, async (db) => {
      const now = this.now();
      // Only a running job can fail: a late Ctrl-C after completeJob must not un-publish it.
      const { rowCount } = await db.query(
        `UPDATE jobs SET status = $2, error_code = $3, error_message = $4, finished_at = $5 WHERE id = $1 AND status = 'running'`,
        [jobId, input.status, input.code, input.message, now],
      );
      if (rowCount === 0) {
        await requireJobVideoId(db, jobId);
        return;
      }
      await db.query(
        `UPDATE tasks SET finished_at = CASE WHEN status = 'running' THEN $2::timestamptz ELSE finished_at END, status = 'cancelled'
         WHERE job_id = $1 AND status IN ('pending', 'running')`,
        [jobId, now],
      );
      // A video that was published by an earlier job stays 'ready': its package is still there.
      // The video's row is locked first, in a statement of its own: a job of this video completing
      // at this moment holds it until it commits, and the next statement's snapshot then sees it
      // succeeded (an UPDATE that waits for the row re-reads the row, not its subquery's jobs).
      await db.query(`SELECT 1 FROM videos WHERE id = (SELECT video_id FROM jobs WHERE id = $1) FOR UPDATE`, [jobId]);
      await db.query(
        `UPDATE videos SET updated_at = $3, status = CASE
           WHEN EXISTS (SELECT 1 FROM jobs WHERE jobs.video_id = videos.id AND jobs.status = 'succeeded' AND jobs.id <> $1)
           THEN 'ready' ELSE $2 END
         WHERE id = (SELECT video_id FROM jobs WHERE id = $1)`,
        [jobId, input.status, now],
      );
      await outbox.write(db, input.events ?? []);
    });
  }

  async setResumeKey(jobId: string, resumeKey: string): Promise<void> {
    await this.transaction(`set the resume key of job ${jobId}`, async (db) => {
      const { rowCount } = await db.query('UPDATE jobs SET resume_key = $2 WHERE id = $1', [jobId, resumeKey]);
      if (rowCount === 0) throw new VidpipeError('NOT_FOUND', `no job with id ${jobId}`);
    });
  }

  async jobsByResumeKey(resumeKey: string): Promise<{ jobs: JobRecord[]; tasks: TaskRecord[] } | null> {
    return this.transaction(`find the jobs to resume (${resumeKey})`, async (db) => {
      const { rows } = await db.query<JobRow>(
        `SELECT * FROM jobs WHERE resume_key = $1 AND started_at >= coalesce(
           (SELECT max(started_at) FROM jobs WHERE resume_key = $1 AND status = 'succeeded'), '-infinity')
         ${LATEST_FIRST}`,
        [resumeKey],
      );
      if (rows.length === 0) return null;
      const tasks: TaskRecord[] = [];
      for (const row of rows.filter((r) => r.status !== 'succeeded')) {
        tasks.push(...(await tasksOf(db, row.id)).filter((task) => task.output !== null));
      }
      return { jobs: rows.map(toJobRecord), tasks };
    }, 'read');
  }

  async saveRenditionQuality(jobId: string, qualityByRendition: Record<string, unknown>): Promise<string[]> {
    return this.transaction(`store quality metrics of job ${jobId}`, async (db) => {
      const updated: string[] = [];
      for (const [name, quality] of Object.entries(qualityByRendition)) {
        const { rowCount } = await db.query(`UPDATE renditions SET properties = jsonb_set(properties, '{quality}', $3::jsonb) WHERE job_id = $1 AND name = $2`, [jobId, name, JSON.stringify(quality)]);
        if (rowCount! > 0) updated.push(name);
      }
      return updated;
    });
  }

  async listVideos(options: ListVideosOptions = {}): Promise<VideoSummary[]> {
    return this.transaction('list videos', async (db) => {
      const { rows } = await db.query<VideoSummaryRow>(
        `SELECT v.id, v.name, v.source, v.kind, v.status, v.duration_seconds, v.tags, v.created_at, v.updated_at,
           latest.id AS latest_job_id, latest.status AS latest_job_status,
           (SELECT count(*) FROM renditions r WHERE r.job_id = (
             SELECT j.id FROM jobs j WHERE j.video_id = v.id AND j.status = 'succeeded' ${LATEST_FIRST} LIMIT 1
           )) AS rendition_count
         FROM videos v
         LEFT JOIN jobs latest ON latest.id = (SELECT j.id FROM jobs j WHERE j.video_id = v.id ${LATEST_FIRST} LIMIT 1)
         WHERE $1::text IS NULL OR v.status = $1
         ORDER BY v.updated_at DESC, v.seq DESC
         LIMIT $2`,
        [options.status ?? null, options.limit ?? null],
      );
      return rows.map(toVideoSummary);
    }, 'read');
  }

  async getVideo(idOrPrefix: string): Promise<VideoDetails> {
    return this.transaction(`read video ${idOrPrefix}`, async (db) => {
      const row = await resolveVideo(db, idOrPrefix);
      const latestJob = await one<JobRow>(db, `SELECT * FROM jobs WHERE video_id = $1 ${LATEST_FIRST} LIMIT 1`, [row.id]);
      const readyJob = await one<JobRow>(db, `SELECT * FROM jobs WHERE video_id = $1 AND status = 'succeeded' ${LATEST_FIRST} LIMIT 1`, [row.id]);
      return {
        video: toVideoRecord(row),
        latestJob: latestJob ? toJobRecord(latestJob) : null,
        tasks: latestJob ? await tasksOf(db, latestJob.id) : [],
        readyJob: readyJob ? toJobRecord(readyJob) : null,
        renditions: readyJob ? await renditionsOf(db, readyJob.id) : [],
        ladder: readyJob ? await readLadder(db, readyJob.id) : null,
      };
    }, 'read');
  }

  async runningJobIds(): Promise<string[]> {
    return this.transaction('list the running jobs', async (db) => {
      const { rows } = await db.query<{ id: string }>("SELECT id FROM jobs WHERE status = 'running' ORDER BY started_at, id");
      return rows.map((row) => row.id);
    }, 'read');
  }

  async getJob(jobId: string): Promise<JobDetails> {
    return this.transaction(`read job ${jobId}`, async (db) => {
      const row = await one<JobRow>(db, 'SELECT * FROM jobs WHERE id = $1', [jobId]);
      if (!row) throw new VidpipeError('NOT_FOUND', `no job with id ${jobId}`);
      const files = await db.query<OutputFileRow>('SELECT * FROM outputs WHERE job_id = $1 ORDER BY key', [jobId]);
      return {
        job: toJobRecord(row),
        tasks: await tasksOf(db, jobId),
        renditions: await renditionsOf(db, jobId),
        files: files.rows.map(toOutputFileRecord),
        ladder: await readLadder(db, jobId),
      };
    }, 'read');
  }

  async getUpload(bucket: string, key: string): Promise<UploadRecord | undefined> {
    return this.transaction(`read upload ${key}`, (db) => readUpload(db, bucket, key), 'read');
  }

  async claimUpload(upload: UploadRef, lease: UploadLease): Promise<UploadClaim> {
    return this.transaction(`claim ${upload.key}`, async (db) => {
      const now = lease.now.toISOString();
      const expires = new Date(lease.now.getTime() + lease.leaseMs).toISOString();
      await db.query(
        `INSERT INTO watch_objects (bucket, key, etag, size_bytes, status, attempts, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)
         ON CONFLICT (bucket, key) DO UPDATE SET
           etag = excluded.etag, size_bytes = excluded.size_bytes, status = 'pending', attempts = 0,
           lease_owner = NULL, lease_expires_at = NULL, job_id = NULL, video_id = NULL, outputs = NULL,
           error = NULL, updated_at = excluded.updated_at
         WHERE watch_objects.etag <> excluded.etag
           AND NOT (watch_objects.status = 'claimed' AND watch_objects.lease_expires_at > excluded.updated_at)`,
        [upload.bucket, upload.key, upload.etag, upload.size, now],
      );
      const { rowCount } = await db.query(
        `UPDATE watch_objects
         SET status = 'claimed', attempts = attempts + 1, lease_owner = $4, lease_expires_at = $5, updated_at = $6
         WHERE bucket = $1 AND key = $2 AND etag = $3 AND attempts < $7
           AND (status = 'pending' OR (status = 'claimed' AND lease_expires_at <= $6))`,
        [upload.bucket, upload.key, upload.etag, lease.owner, expires, now, lease.maxAttempts],
      );
      const row = (await readUpload(db, upload.bucket, upload.key))!;
      if (rowCount === 1) return { claimed: true, attempt: row.attempts };
      const refusal = claimRefusal(row, upload, now);
      if (refusal) return refusal;
      const error = giveUpMessage(row);
      await finishUploadIn(db, upload, { status: 'failed', error, now: lease.now });
      return { claimed: false, reason: 'gave-up', error };
    });
  }

  async renewUpload(upload: UploadRef, lease: Omit<UploadLease, 'maxAttempts'>): Promise<boolean> {
    return this.transaction(`renew lease of ${upload.key}`, async (db) => {
      const { rowCount } = await db.query(
        `UPDATE watch_objects SET lease_expires_at = $5, updated_at = $6
         WHERE bucket = $1 AND key = $2 AND etag = $3 AND status = 'claimed' AND lease_owner = $4`,
        [upload.bucket, upload.key, upload.etag, lease.owner, new Date(lease.now.getTime() + lease.leaseMs).toISOString(), lease.now.toISOString()],
      );
      return rowCount === 1;
    });
  }

  async finishUpload(upload: UploadRef, finish: UploadFinish): Promise<void> {
    await this.transaction(`record ${upload.key} as ${finish.status}`, (db) => finishUploadIn(db, upload, finish));
  }

  async releaseUpload(upload: UploadRef, release: UploadRelease): Promise<void> {
    await this.transaction(`release ${upload.key}`, async (db) => {
      await db.query(
        `UPDATE watch_objects
         SET status = 'pending', attempts = attempts - $5, lease_owner = NULL, lease_expires_at = NULL,
             error = COALESCE($6, error), job_id = COALESCE($7, job_id), updated_at = $8
         WHERE bucket = $1 AND key = $2 AND etag = $3 AND status = 'claimed' AND lease_owner = $4`,
        [upload.bucket, upload.key, upload.etag, release.owner, release.countAttempt ? 0 : 1, release.error ?? null, release.jobId ?? null, release.now.toISOString()],
      );
    });
  }

  async takeDueDeliveries(request: DeliveryLeaseRequest): Promise<DueDelivery[]> {
    return this.transaction('take webhook deliveries', (db) => outbox.takeDue(db, request, this.clock()));
  }

  async recordDeliveryAttempt(messageId: string, url: string, attempt: DeliveryAttemptRecord): Promise<void> {
    await this.transaction(`record a delivery attempt of ${messageId}`, (db) => outbox.recordAttempt(db, messageId, url, attempt));
  }

  async listDeliveries(options: ListDeliveriesOptions = {}): Promise<DeliveryRecord[]> {
    return this.transaction('list webhook deliveries', (db) => outbox.list(db, options), 'read');
  }

  async describe(): Promise<MetadataEngineInfo> {
    const version = await this.transaction('read the PostgreSQL version', (db) => scalar<string>(db, 'SHOW server_version', []), 'read');
    const driver = (createRequire(import.meta.url)('pg/package.json') as { version: string }).version;
    return { engine: 'postgres', version: version ?? 'unknown', driver: `pg ${driver}` };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /**
   * One transaction on a pooled connection: all of `body` or none of it. A 'read' runs in one
   * REPEATABLE READ snapshot (several SELECTs see one state of the database, as SQLite's
   * deferred read transaction does); writes run in READ COMMITTED with conditional UPDATEs.
   */
  async transaction<T>(action: string, body: (db: Client) => Promise<T>, kind: 'write' | 'read' = 'write'): Promise<T> {
    let client: Client;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.failed(action, error);
    }
    try {
      await client.query(kind === 'read' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw isVidpipeError(error) ? error : this.failed(action, error);
    } finally {
      client.release();
    }
  }

  private failed(action: string, error: unknown): VidpipeError {
    const err = error as Error & { code?: string };
    const message = redactMessage(err?.message ?? String(error), this.url);
    return new VidpipeError('DB_FAILED', `database error while trying to ${action}: ${message}${err?.code ? ` (${err.code})` : ''}`, { cause: error });
  }
}

// ---- statements shared by several methods ------------------------------------------------

async function one<R extends pg.QueryResultRow>(db: Client, sql: string, values: unknown[]): Promise<R | undefined> {
  return (await db.query<R>(sql, values)).rows[0];
}

async function scalar<T>(db: Client, sql: string, values: unknown[]): Promise<T | undefined> {
  const row = (await db.query({ text: sql, values, rowMode: 'array' })).rows[0] as unknown[] | undefined;
  return row === undefined ? undefined : (row[0] as T);
}

async function insertTasks(db: Client, jobId: string, tasks: TaskSpec[]): Promise<void> {
  for (const task of tasks) {
    await db.query(`INSERT INTO tasks (job_id, id, kind, label, depends_on, status) VALUES ($1, $2, $3, $4, $5::jsonb, 'pending')`, [jobId, task.id, task.kind, task.label, JSON.stringify(task.dependsOn)]);
  }
}

async function requireJobVideoId(db: Client, jobId: string): Promise<string> {
  const videoId = await scalar<string>(db, 'SELECT video_id FROM jobs WHERE id = $1', [jobId]);
  if (videoId === undefined) throw new VidpipeError('NOT_FOUND', `no job with id ${jobId}`);
  return videoId;
}

function noTask(jobId: string, taskId: string): VidpipeError {
  return new VidpipeError('NOT_FOUND', `job ${jobId} has no task ${taskId}`);
}

async function tasksOf(db: Client, jobId: string): Promise<TaskRecord[]> {
  return (await db.query<TaskRow>('SELECT * FROM tasks WHERE job_id = $1 ORDER BY seq', [jobId])).rows.map(toTaskRecord);
}

async function renditionsOf(db: Client, jobId: string) {
  return (await db.query<RenditionRow>('SELECT * FROM renditions WHERE job_id = $1 ORDER BY id', [jobId])).rows.map(toStoredRendition);
}

async function insertRendition(db: Client, jobId: string, videoId: string, r: RenditionRecord): Promise<void> {
  await db.query(
    `INSERT INTO renditions (job_id, video_id, name, kind, codec, codecs, width, height, frame_rate, channels,
       sample_rate, language, average_bitrate, peak_bitrate, target_bitrate, size_bytes, segment_count, playlist, init, properties)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20::jsonb)`,
    // renditionValues's keys are in the columns' order.
    [jobId, videoId, ...Object.values(renditionValues(r))],
  );
}

/** Exact id first (an id may be a prefix of another), then a unique prefix. */
async function resolveVideo(db: Client, idOrPrefix: string): Promise<VideoRow> {
  if (idOrPrefix === '') throw new VidpipeError('USAGE', 'a video id (or a prefix of one) is required');
  const exact = await one<VideoRow>(db, 'SELECT * FROM videos WHERE id = $1', [idOrPrefix]);
  if (exact) return exact;
  // left(), not LIKE: LIKE treats % and _ in ids as wildcards.
  const { rows } = await db.query<{ id: string }>('SELECT id FROM videos WHERE left(id, length($1)) = $1 ORDER BY id LIMIT $2', [idOrPrefix, AMBIGUOUS_SHOWN + 1]);
  const matches = rows.map((row) => row.id);
  if (matches.length === 1) return (await one<VideoRow>(db, 'SELECT * FROM videos WHERE id = $1', [matches[0]]))!;
  if (matches.length === 0) {
    throw new VidpipeError('NOT_FOUND', `no video with id or id prefix "${idOrPrefix}"`, { hint: 'run `vidpipe list` to see the stored videos' });
  }
  const shown = matches.slice(0, AMBIGUOUS_SHOWN).join(', ');
  const more = matches.length > AMBIGUOUS_SHOWN ? ', …' : '';
  throw new VidpipeError('NOT_FOUND', `id prefix "${idOrPrefix}" is ambiguous: it matches ${shown}${more}`, { hint: 'give more characters of the id' });
}

// ---- uploads ---------------------------------------------------------------------------------

async function readUpload(db: Client, bucket: string, key: string): Promise<UploadRecord | undefined> {
  const row = await one<UploadRow>(db, 'SELECT * FROM watch_objects WHERE bucket = $1 AND key = $2', [bucket, key]);
  return row === undefined ? undefined : toUploadRecord(row);
}

async function finishUploadIn(db: Client, upload: UploadRef, finish: UploadFinish): Promise<void> {
  await db.query(
    `UPDATE watch_objects
     SET status = $4, job_id = COALESCE($5, job_id), video_id = COALESCE($6, video_id),
         outputs = COALESCE($7::jsonb, outputs), error = $8, lease_owner = NULL, lease_expires_at = NULL, updated_at = $9
     WHERE bucket = $1 AND key = $2 AND etag = $3`,
    [upload.bucket, upload.key, upload.etag, finish.status, finish.jobId ?? null, finish.videoId ?? null, finish.outputs === undefined ? null : JSON.stringify(finish.outputs), finish.error ?? null, finish.now.toISOString()],
  );
}

// ---- ladders ---------------------------------------------------------------------------------

async function writeLadder(db: Client, jobId: string, ladder: LadderReport): Promise<void> {
  await db.query('DELETE FROM ladder_rungs WHERE job_id = $1', [jobId]);
  await db.query(
    `INSERT INTO ladders (job_id, method, metric, target, analysis_seconds, sampled_fraction, probes) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
     ON CONFLICT (job_id) DO UPDATE SET method = excluded.method, metric = excluded.metric, target = excluded.target,
       analysis_seconds = excluded.analysis_seconds, sampled_fraction = excluded.sampled_fraction, probes = excluded.probes`,
    [jobId, ...ladderValues(ladder)],
  );
  for (const r of ladder.rungs) {
    await db.query(
      `INSERT INTO ladder_rungs (job_id, name, codec, size, status, mode, crf, target_kbps, predicted_kbps, predicted_psnr, predicted_ssim,
         predicted_vmaf, measured_peak_kbps, measured_average_kbps, measured_psnr, measured_ssim, measured_vmaf, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
      [jobId, ...rungValues(r)],
    );
  }
}

async function readLadder(db: Client, jobId: string): Promise<LadderReport | null> {
  const row = await one<LadderRow>(db, 'SELECT * FROM ladders WHERE job_id = $1', [jobId]);
  if (!row) return null;
  const rungs = (await db.query<RungRow>('SELECT * FROM ladder_rungs WHERE job_id = $1 ORDER BY codec, size DESC, target_kbps DESC', [jobId])).rows;
  return toLadderReport(row, rungs);
}
