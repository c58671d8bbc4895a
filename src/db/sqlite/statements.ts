import type Database from 'better-sqlite3';
import { TASK_PATCH_COLUMNS, type JobRow, type OutputFileRow, type RenditionRow, type TaskRow, type VideoRow, type VideoSummaryRow } from '../rows.js';

/** A value better-sqlite3 can bind (it rejects undefined and booleans). */
export type SqlValue = string | number | bigint | Buffer | null;
type Params = Record<string, SqlValue>;

/**
 * The UPDATE for updateTask is generated from TASK_PATCH_COLUMNS (never from input): each column
 * gets a `set_<column>` flag, so one prepared statement serves every combination of patched fields.
 */
const updateTaskSql = `UPDATE tasks SET ${Object.values(TASK_PATCH_COLUMNS)
  .map((column) => `${column} = CASE WHEN @set_${column} THEN @${column} ELSE ${column} END`)
  .join(', ')} WHERE job_id = @jobId AND id = @taskId`;

/** "Latest" means most recently started; rowid breaks ties between jobs started in the same millisecond. */
const LATEST_FIRST = 'ORDER BY started_at DESC, rowid DESC';

/**
 * The part of a better-sqlite3 statement the SQLite store uses. Declared here because the
 * library's own Statement type lives in a namespace its typings do not export, so it
 * cannot appear in this module's emitted declarations.
 */
export interface Query<P extends unknown[], R> {
  run(...params: P): Database.RunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

function query<P extends unknown[], R = unknown>(db: Database.Database, sql: string): Query<P, R> {
  return db.prepare<P, R>(sql);
}

/** A query returning the first column of each row instead of row objects. */
function scalarQuery<P extends unknown[], R>(db: Database.Database, sql: string): Query<P, R> {
  return db.prepare<P, R>(sql).pluck();
}

/** Every statement the SQLite store runs, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  return {
    upsertVideo: query<[Params]>(db, `
      INSERT INTO videos (id, source, name, sha256, size_bytes, duration_seconds, kind, probe, tags, status, created_at, updated_at)
      VALUES (@id, @source, @name, @sha256, @sizeBytes, @durationSeconds, @kind, @probe, @tags, 'processing', @now, @now)
      ON CONFLICT (id) DO UPDATE SET
        source = excluded.source, name = excluded.name, sha256 = excluded.sha256,
        size_bytes = excluded.size_bytes, duration_seconds = excluded.duration_seconds,
        kind = excluded.kind, probe = excluded.probe, tags = excluded.tags,
        status = 'processing', updated_at = excluded.updated_at`),
    countJobsOfVideo: scalarQuery<[string], number>(db, 'SELECT count(*) FROM jobs WHERE video_id = ?'),
    insertJob: query<[Params]>(db, `
      INSERT INTO jobs (id, video_id, input, output, options, status, attempt, started_at, worker)
      VALUES (@id, @videoId, @input, @output, @options, 'running', @attempt, @now, @worker)`),
    insertTask: query<[Params]>(db, `
      INSERT INTO tasks (job_id, id, kind, label, depends_on, status)
      VALUES (@jobId, @id, @kind, @label, @dependsOn, 'pending')`),
    updateTask: query<[Params]>(db, updateTaskSql),
    jobVideoId: scalarQuery<[string], string>(db, 'SELECT video_id FROM jobs WHERE id = ?'),
    markJobSucceeded: query<[Params]>(db, `
      UPDATE jobs SET status = 'succeeded', outputs = @outputs, timings = @timings, finished_at = @now,
        error_code = NULL, error_message = NULL
      WHERE id = @id`),
    markVideoDone: query<[Params]>(db, `
      UPDATE videos SET status = @status, duration_seconds = @durationSeconds,
        tags = coalesce(@tags, tags), properties = coalesce(@properties, properties), updated_at = @now
      WHERE id = @id`),
    deleteRenditionsOfJob: query<[string]>(db, 'DELETE FROM renditions WHERE job_id = ?'),
    insertRendition: query<[Params]>(db, `
      INSERT INTO renditions (job_id, video_id, name, kind, codec, codecs, width, height, frame_rate, channels,
        sample_rate, language, average_bitrate, peak_bitrate, target_bitrate, size_bytes, segment_count,
        playlist, init, properties)
      VALUES (@jobId, @videoId, @name, @kind, @codec, @codecs, @width, @height, @frameRate, @channels,
        @sampleRate, @language, @averageBitrate, @peakBitrate, @targetBitrate, @sizeBytes, @segmentCount,
        @playlist, @init, @properties)`),
    upsertOutputFile: query<[Params]>(db, `
      INSERT INTO outputs (job_id, key, bytes, sha256) VALUES (@jobId, @key, @bytes, @sha256)
      ON CONFLICT (job_id, key) DO UPDATE SET bytes = excluded.bytes, sha256 = excluded.sha256`),
    // Only a running job can fail: a late Ctrl-C after completeJob must not un-publish it.
    markJobFailed: query<[Params]>(db, `
      UPDATE jobs SET status = @status, error_code = @code, error_message = @message, finished_at = @now
      WHERE id = @id AND status = 'running'`),
    cancelOpenTasks: query<[Params]>(db, `
      UPDATE tasks SET finished_at = CASE WHEN status = 'running' THEN @now ELSE finished_at END, status = 'cancelled'
      WHERE job_id = @jobId AND status IN ('pending', 'running')`),
    // A video that was published by an earlier job stays 'ready': its package is still there.
    settleVideoAfterFailure: query<[Params]>(db, `
      UPDATE videos SET updated_at = @now, status = CASE
        WHEN EXISTS (SELECT 1 FROM jobs WHERE jobs.video_id = videos.id AND jobs.status = 'succeeded' AND jobs.id <> @jobId)
        THEN 'ready' ELSE @status END
      WHERE id = (SELECT video_id FROM jobs WHERE id = @jobId)`),

    // Measured after the job (`vidpipe metrics`): merged under "quality", the other properties kept.
    setRenditionQuality: query<[string, string, string]>(
      db,
      "UPDATE renditions SET properties = json_set(properties, '$.quality', json(?)) WHERE job_id = ? AND name = ?",
    ),

    videoById: query<[string], VideoRow>(db, 'SELECT * FROM videos WHERE id = ?'),
    // substr, not LIKE: LIKE is case-insensitive and treats % and _ in ids as wildcards.
    videoIdsByPrefix: scalarQuery<[Params], string>(db, `
      SELECT id FROM videos WHERE substr(id, 1, length(@prefix)) = @prefix ORDER BY id LIMIT @limit`),
    jobById: query<[string], JobRow>(db, 'SELECT * FROM jobs WHERE id = ?'),
    latestJobOfVideo: query<[string], JobRow>(db, `SELECT * FROM jobs WHERE video_id = ? ${LATEST_FIRST} LIMIT 1`),
    latestSucceededJobOfVideo: query<[string], JobRow>(
      db,
      `SELECT * FROM jobs WHERE video_id = ? AND status = 'succeeded' ${LATEST_FIRST} LIMIT 1`,
    ),
    setJobResumeKey: query<[Params]>(db, 'UPDATE jobs SET resume_key = @resumeKey WHERE id = @id'),
    // The jobs a re-run continues: every one with the key since its last success (a run killed
    // before it recorded anything must not hide what the runs before it recorded).
    unfinishedJobsByResumeKey: query<[Params], JobRow>(db, `
      SELECT * FROM jobs WHERE resume_key = @key AND started_at >= coalesce(
        (SELECT max(started_at) FROM jobs WHERE resume_key = @key AND status = 'succeeded'), '')
      ${LATEST_FIRST}`),
    tasksOfJob: query<[string], TaskRow>(db, 'SELECT * FROM tasks WHERE job_id = ? ORDER BY rowid'),
    runningJobIds: query<[], { id: string }>(db, "SELECT id FROM jobs WHERE status = 'running' ORDER BY started_at, id"),
    renditionsOfJob: query<[string], RenditionRow>(db, 'SELECT * FROM renditions WHERE job_id = ? ORDER BY id'),
    filesOfJob: query<[string], OutputFileRow>(db, 'SELECT * FROM outputs WHERE job_id = ? ORDER BY key'),
    // limit -1 means "no limit" to SQLite.
    listVideos: query<[Params], VideoSummaryRow>(db, `
      SELECT v.id, v.name, v.source, v.kind, v.status, v.duration_seconds, v.tags, v.created_at, v.updated_at,
        latest.id AS latest_job_id, latest.status AS latest_job_status,
        (SELECT count(*) FROM renditions r WHERE r.job_id = (
          SELECT j.id FROM jobs j WHERE j.video_id = v.id AND j.status = 'succeeded' ${LATEST_FIRST} LIMIT 1
        )) AS rendition_count
      FROM videos v
      LEFT JOIN jobs latest ON latest.id = (SELECT j.id FROM jobs j WHERE j.video_id = v.id ${LATEST_FIRST} LIMIT 1)
      WHERE @status IS NULL OR v.status = @status
      ORDER BY v.updated_at DESC, v.rowid DESC
      LIMIT @limit`),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
