/**
 * Uploads seen by `vidpipe watch` in SQLite (table `watch_objects`, migration 3): which were seen,
 * which one a watcher works on (a claim with a lease), which are done or failed. Several watchers
 * may share one database file; the store runs each of these in one IMMEDIATE transaction, and a
 * claim is a single conditional UPDATE, so exactly one of two racing watchers gets `changes === 1`.
 */
import type Database from 'better-sqlite3';
import {
  claimRefusal,
  giveUpMessage,
  type UploadClaim,
  type UploadFinish,
  type UploadLease,
  type UploadRecord,
  type UploadRef,
  type UploadRelease,
} from '../records.js';
import { toUploadRecord, type UploadRow } from '../rows.js';

export function readUpload(db: Database.Database, bucket: string, key: string): UploadRecord | undefined {
  const row = db.prepare('SELECT * FROM watch_objects WHERE bucket = ? AND key = ?').get(bucket, key) as UploadRow | undefined;
  return row === undefined ? undefined : toUploadRecord(row);
}

export function claimUpload(db: Database.Database, upload: UploadRef, lease: UploadLease): UploadClaim {
  const now = lease.now.toISOString();
  const expires = new Date(lease.now.getTime() + lease.leaseMs).toISOString();
  db.prepare(
    `INSERT INTO watch_objects (bucket, key, etag, size_bytes, status, attempts, created_at, updated_at)
     VALUES (@bucket, @key, @etag, @size, 'pending', 0, @now, @now)
     ON CONFLICT (bucket, key) DO UPDATE SET
       etag = excluded.etag, size_bytes = excluded.size_bytes, status = 'pending', attempts = 0,
       lease_owner = NULL, lease_expires_at = NULL, job_id = NULL, video_id = NULL, outputs = NULL,
       error = NULL, updated_at = excluded.updated_at
     WHERE watch_objects.etag <> excluded.etag
       AND NOT (watch_objects.status = 'claimed' AND watch_objects.lease_expires_at > excluded.updated_at)`,
  ).run({ ...refParams(upload), now });
  const { changes } = db
    .prepare(
      `UPDATE watch_objects
       SET status = 'claimed', attempts = attempts + 1, lease_owner = @owner, lease_expires_at = @expires, updated_at = @now
       WHERE bucket = @bucket AND key = @key AND etag = @etag AND attempts < @maxAttempts
         AND (status = 'pending' OR (status = 'claimed' AND lease_expires_at <= @now))`,
    )
    .run({ ...refParams(upload), owner: lease.owner, expires, now, maxAttempts: lease.maxAttempts });
  const row = readUpload(db, upload.bucket, upload.key)!;
  if (changes === 1) return { claimed: true, attempt: row.attempts };
  const refusal = claimRefusal(row, upload, now);
  if (refusal) return refusal;
  // Expired lease (or a pending row) with no attempts left.
  const error = giveUpMessage(row);
  finishUpload(db, upload, { status: 'failed', error, now: lease.now });
  return { claimed: false, reason: 'gave-up', error };
}

export function renewUpload(db: Database.Database, upload: UploadRef, lease: Omit<UploadLease, 'maxAttempts'>): boolean {
  const { changes } = db
    .prepare(
      `UPDATE watch_objects SET lease_expires_at = @expires, updated_at = @now
       WHERE bucket = @bucket AND key = @key AND etag = @etag AND status = 'claimed' AND lease_owner = @owner`,
    )
    .run({
      ...refParams(upload),
      owner: lease.owner,
      now: lease.now.toISOString(),
      expires: new Date(lease.now.getTime() + lease.leaseMs).toISOString(),
    });
  return changes === 1;
}

export function finishUpload(db: Database.Database, upload: UploadRef, finish: UploadFinish): void {
  db.prepare(
    `UPDATE watch_objects
     SET status = @status, job_id = COALESCE(@jobId, job_id), video_id = COALESCE(@videoId, video_id),
         outputs = COALESCE(@outputs, outputs), error = @error, lease_owner = NULL, lease_expires_at = NULL, updated_at = @now
     WHERE bucket = @bucket AND key = @key AND etag = @etag`,
  ).run({
    ...refParams(upload),
    status: finish.status,
    jobId: finish.jobId ?? null,
    videoId: finish.videoId ?? null,
    outputs: finish.outputs === undefined ? null : JSON.stringify(finish.outputs),
    error: finish.error ?? null,
    now: finish.now.toISOString(),
  });
}

export function releaseUpload(db: Database.Database, upload: UploadRef, release: UploadRelease): void {
  db.prepare(
    `UPDATE watch_objects
     SET status = 'pending', attempts = attempts - @refund, lease_owner = NULL, lease_expires_at = NULL,
         error = COALESCE(@error, error), job_id = COALESCE(@jobId, job_id), updated_at = @now
     WHERE bucket = @bucket AND key = @key AND etag = @etag AND status = 'claimed' AND lease_owner = @owner`,
  ).run({
    ...refParams(upload),
    owner: release.owner,
    refund: release.countAttempt ? 0 : 1,
    error: release.error ?? null,
    jobId: release.jobId ?? null,
    now: release.now.toISOString(),
  });
}

/** The version's own fields, whatever else the caller's object carries. */
function refParams(upload: UploadRef) {
  return { bucket: upload.bucket, key: upload.key, etag: upload.etag, size: upload.size };
}
