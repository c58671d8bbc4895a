/**
 * The watcher's memory of uploads, in the metadata store: which were seen, which one a watcher is
 * working on (a claim with a lease), which are done or failed. Several watchers may share one
 * database; the store claims atomically, so of two racing watchers exactly one gets an upload.
 * This binds one watcher's identity, lease length, attempt limit and clock to those calls.
 */
import { openMetadata } from '../db/engines.js';
import type { MetadataStore } from '../db/metadata-store.js';
import type { UploadClaim, UploadRecord, UploadRef, UploadStatus } from '../db/records.js';

export type WatchStatus = UploadStatus;
export type WatchObjectRef = UploadRef;
export type WatchRow = UploadRecord;
export type ClaimResult = UploadClaim;

export interface WatchStoreOptions {
  owner: string;
  leaseMs: number;
  maxAttempts: number;
  now?: () => Date;
}

export class WatchStore {
  private readonly now: () => Date;

  constructor(
    private readonly store: MetadataStore,
    private readonly options: WatchStoreOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Opens the metadata database `target` names (--db / VIDPIPE_DB) for one watcher. */
  static async open(target: string, options: WatchStoreOptions): Promise<WatchStore> {
    return new WatchStore(await openMetadata(target), options);
  }

  get owner(): string {
    return this.options.owner;
  }

  close(): Promise<void> {
    return this.store.close();
  }

  get(bucket: string, key: string): Promise<WatchRow | undefined> {
    return this.store.getUpload(bucket, key);
  }

  /** Cheap pre-check before waiting for an object to settle: nothing left to do for this ETag. */
  async isFinished(object: WatchObjectRef): Promise<boolean> {
    const row = await this.get(object.bucket, object.key);
    return row !== undefined && row.etag === object.etag && (row.status === 'done' || row.status === 'failed');
  }

  /**
   * Records the object (a changed ETag starts it over) and tries to take it. Claimable: pending,
   * or claimed by someone whose lease ran out (a killed watcher) while attempts remain.
   */
  claim(object: WatchObjectRef): Promise<ClaimResult> {
    const { owner, leaseMs, maxAttempts } = this.options;
    return this.store.claimUpload(object, { owner, leaseMs, maxAttempts, now: this.now() });
  }

  /** Extends our lease while a job runs; false when the claim is no longer ours. */
  renew(object: WatchObjectRef): Promise<boolean> {
    return this.store.renewUpload(object, { owner: this.options.owner, leaseMs: this.options.leaseMs, now: this.now() });
  }

  /** Final states; only the lease holder may set them. */
  finish(
    object: WatchObjectRef,
    status: 'done' | 'failed',
    details: { jobId?: string; videoId?: string; outputs?: Record<string, string>; error?: string },
  ): Promise<void> {
    return this.store.finishUpload(object, { status, ...details, now: this.now() });
  }

  /**
   * Gives the object back: `countAttempt` false for a clean stop (SIGTERM) so it costs nothing,
   * true after a transient failure, which is retried until attempts run out.
   */
  release(object: WatchObjectRef, options: { countAttempt: boolean; error?: string; jobId?: string }): Promise<void> {
    return this.store.releaseUpload(object, { owner: this.options.owner, ...options, now: this.now() });
  }

  /** Attempts used so far (after a release), to decide between retry and giving up. */
  async attemptsOf(object: WatchObjectRef): Promise<number> {
    return (await this.get(object.bucket, object.key))?.attempts ?? 0;
  }
}
