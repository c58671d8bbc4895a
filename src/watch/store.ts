/**
 * The watcher's memory in SQLite (table `watch_objects`): which uploads were seen, which one a
 * watcher is working on (a claim with a lease), which are done or failed. Several watchers may
 * share one database file; every state change is one IMMEDIATE transaction, and a claim is a
 * single conditional UPDATE, so exactly one of two racing watchers gets `changes === 1`.
 */
import type Database from 'better-sqlite3';
import { openConnection } from '../db/database.js';
import { dbFailed } from '../db/db-error.js';

export type WatchStatus = 'pending' | 'claimed' | 'done' | 'failed';

export interface WatchObjectRef {
  bucket: string;
  key: string;
  etag: string;
  size: number;
}

export interface WatchRow {
  bucket: string;
  key: string;
  etag: string;
  sizeBytes: number;
  status: WatchStatus;
  attempts: number;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  jobId: string | null;
  videoId: string | null;
  outputs: Record<string, string> | null;
  error: string | null;
}

export type ClaimResult =
  | { claimed: true; attempt: number }
  /** Already done/failed for this ETag, or another watcher holds a live lease. */
  | { claimed: false; reason: 'finished' | 'busy' }
  /** The lease of the last attempt expired and no attempts are left: now marked failed. */
  | { claimed: false; reason: 'gave-up'; error: string };

export interface WatchStoreOptions {
  owner: string;
  leaseMs: number;
  maxAttempts: number;
  now?: () => Date;
}

interface RawRow {
  bucket: string;
  key: string;
  etag: string;
  size_bytes: number;
  status: WatchStatus;
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  job_id: string | null;
  video_id: string | null;
  outputs: string | null;
  error: string | null;
}

export class WatchStore {
  private readonly db: Database.Database;
  private readonly now: () => Date;

  constructor(
    file: string,
    private readonly options: WatchStoreOptions,
  ) {
    this.db = openConnection(file);
    this.now = options.now ?? (() => new Date());
  }

  get owner(): string {
    return this.options.owner;
  }

  close(): void {
    this.db.close();
  }

  get(bucket: string, key: string): WatchRow | undefined {
    const row = this.db.prepare('SELECT * FROM watch_objects WHERE bucket = ? AND key = ?').get(bucket, key) as RawRow | undefined;
    return row === undefined ? undefined : toRow(row);
  }

  /** Cheap pre-check before waiting for an object to settle: nothing left to do for this ETag. */
  isFinished(object: WatchObjectRef): boolean {
    const row = this.get(object.bucket, object.key);
    return row !== undefined && row.etag === object.etag && (row.status === 'done' || row.status === 'failed');
  }

  /**
   * Records the object (a changed ETag starts it over) and tries to take it. Claimable: pending,
   * or claimed by someone whose lease ran out (a killed watcher) while attempts remain.
   */
  claim(object: WatchObjectRef): ClaimResult {
    return this.write(`claim ${object.key}`, () => {
      const now = this.now().toISOString();
      const expires = new Date(this.now().getTime() + this.options.leaseMs).toISOString();
      this.db
        .prepare(
          `INSERT INTO watch_objects (bucket, key, etag, size_bytes, status, attempts, created_at, updated_at)
           VALUES (@bucket, @key, @etag, @size, 'pending', 0, @now, @now)
           ON CONFLICT (bucket, key) DO UPDATE SET
             etag = excluded.etag, size_bytes = excluded.size_bytes, status = 'pending', attempts = 0,
             lease_owner = NULL, lease_expires_at = NULL, job_id = NULL, video_id = NULL, outputs = NULL,
             error = NULL, updated_at = excluded.updated_at
           WHERE watch_objects.etag <> excluded.etag
             AND NOT (watch_objects.status = 'claimed' AND watch_objects.lease_expires_at > excluded.updated_at)`,
        )
        .run({ ...object, now });
      const { changes } = this.db
        .prepare(
          `UPDATE watch_objects
           SET status = 'claimed', attempts = attempts + 1, lease_owner = @owner, lease_expires_at = @expires, updated_at = @now
           WHERE bucket = @bucket AND key = @key AND etag = @etag AND attempts < @maxAttempts
             AND (status = 'pending' OR (status = 'claimed' AND lease_expires_at <= @now))`,
        )
        .run({ ...object, owner: this.options.owner, expires, now, maxAttempts: this.options.maxAttempts });
      const row = this.get(object.bucket, object.key)!;
      if (changes === 1) return { claimed: true, attempt: row.attempts };
      // A new version while another watcher still works on the previous one waits for that job
      // (which stands down when it sees the change), rather than counting as finished.
      if (row.status === 'claimed' && row.leaseExpiresAt !== null && row.leaseExpiresAt > now) return { claimed: false, reason: 'busy' };
      if (row.etag !== object.etag || row.status === 'done' || row.status === 'failed') return { claimed: false, reason: 'finished' };
      // Expired lease (or a pending row) with no attempts left.
      const error = `gave up after ${row.attempts} attempt(s): ${row.error ?? 'the watcher processing it stopped (lease expired)'}`;
      this.finish(object, 'failed', { error });
      return { claimed: false, reason: 'gave-up', error };
    });
  }

  /** Extends our lease while a job runs; false when the claim is no longer ours. */
  renew(object: WatchObjectRef): boolean {
    return this.write(`renew lease of ${object.key}`, () => {
      const now = this.now();
      const { changes } = this.db
        .prepare(
          `UPDATE watch_objects SET lease_expires_at = @expires, updated_at = @now
           WHERE bucket = @bucket AND key = @key AND etag = @etag AND status = 'claimed' AND lease_owner = @owner`,
        )
        .run({
          ...object,
          owner: this.options.owner,
          now: now.toISOString(),
          expires: new Date(now.getTime() + this.options.leaseMs).toISOString(),
        });
      return changes === 1;
    });
  }

  /** Final states; only the lease holder may set them. */
  finish(
    object: WatchObjectRef,
    status: 'done' | 'failed',
    details: { jobId?: string; videoId?: string; outputs?: Record<string, string>; error?: string },
  ): void {
    this.write(`record ${object.key} as ${status}`, () => {
      this.db
        .prepare(
          `UPDATE watch_objects
           SET status = @status, job_id = COALESCE(@jobId, job_id), video_id = COALESCE(@videoId, video_id),
               outputs = COALESCE(@outputs, outputs), error = @error, lease_owner = NULL, lease_expires_at = NULL, updated_at = @now
           WHERE bucket = @bucket AND key = @key AND etag = @etag`,
        )
        .run({
          bucket: object.bucket,
          key: object.key,
          etag: object.etag,
          status,
          jobId: details.jobId ?? null,
          videoId: details.videoId ?? null,
          outputs: details.outputs === undefined ? null : JSON.stringify(details.outputs),
          error: details.error ?? null,
          now: this.now().toISOString(),
        });
    });
  }

  /**
   * Gives the object back: `countAttempt` false for a clean stop (SIGTERM) so it costs nothing,
   * true after a transient failure, which is retried until attempts run out.
   */
  release(object: WatchObjectRef, options: { countAttempt: boolean; error?: string; jobId?: string }): void {
    this.write(`release ${object.key}`, () => {
      this.db
        .prepare(
          `UPDATE watch_objects
           SET status = 'pending', attempts = attempts - @refund, lease_owner = NULL, lease_expires_at = NULL,
               error = COALESCE(@error, error), job_id = COALESCE(@jobId, job_id), updated_at = @now
           WHERE bucket = @bucket AND key = @key AND etag = @etag AND status = 'claimed' AND lease_owner = @owner`,
        )
        .run({
          bucket: object.bucket,
          key: object.key,
          etag: object.etag,
          owner: this.options.owner,
          refund: options.countAttempt ? 0 : 1,
          error: options.error ?? null,
          jobId: options.jobId ?? null,
          now: this.now().toISOString(),
        });
    });
  }

  /** Attempts used so far (after a release), to decide between retry and giving up. */
  attemptsOf(object: WatchObjectRef): number {
    return this.get(object.bucket, object.key)?.attempts ?? 0;
  }

  private write<T>(what: string, body: () => T): T {
    try {
      return this.db.transaction(body).immediate();
    } catch (error) {
      throw dbFailed(what, error);
    }
  }
}

function toRow(row: RawRow): WatchRow {
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
