/**
 * `vidpipe watch`: turns uploads in a bucket into packages. Objects are found by polling
 * ListObjectsV2 (any S3-compatible store) or from S3 Event Notifications on SQS; each one is
 * claimed in the metadata store (see store.ts), transcoded with the normal pipeline and recorded. A claim is
 * a lease renewed while the job runs, so a watcher that dies (kill -9, power loss) only delays
 * the object until the lease runs out and another (or a restarted) watcher retries it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import { toVidpipeError, VidpipeError, type ErrorCode } from '../errors.js';
import type { JobEventListener } from '../core/events.js';
import type { TranscodeResult } from '../core/result.js';
import { runJob, type JobRequest } from '../job/run-job.js';
import type { JobSettings } from '../settings/job-settings.js';
import { headObject, isPermanentS3Refusal, listObjects, type ObjectSummary } from '../storage/s3.js';
import type { Location } from '../storage/backend.js';
import { locationHolds } from '../storage/backends.js';
import { formatS3Uri, normalisePrefix, sanitiseName } from '../storage/uri.js';
import { applyOverrides, isSidecarKey, overridesFromMetadata, overridesFromSidecar, readSidecar, sidecarKeyFor } from './overrides.js';
import { fetchUploadTracks, trackKeysOfSidecar } from './upload-tracks.js';
import { parseS3Notification, type SqsQueue } from './sqs.js';
import type { WatchObjectRef, WatchStore } from './store.js';

/** Failures worth another attempt: the next try may meet a healthy server, disk or database. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['STORAGE_FAILED', 'DB_FAILED', 'FFMPEG_STALLED', 'WORKER_LOST', 'INTERNAL']);

export interface WatchConfig {
  bucket: string;
  /** '' or ending with '/'. */
  prefix: string;
  out: Location;
  /** The --out text handed to transcode. */
  outText: string;
  intervalMs: number;
  maxAttempts: number;
  /** The watcher's settings (before per-upload overrides). */
  settings: JobSettings;
  /** Everything of a JobRequest that is the same for every upload. */
  request: Omit<JobRequest, 'input' | 'out' | 'name' | 'defaultName' | 'settings' | 'signal' | 'onEvent'>;
  /** Exit once nothing is left to do instead of watching forever. */
  once?: boolean;
}

export type WatchOutcomeStatus = 'done' | 'failed' | 'retry' | 'released' | 'skipped' | 'superseded';

/** One processed object; with --json this is the line printed on stdout. */
export interface WatchOutcome {
  bucket: string;
  key: string;
  etag: string;
  /**
   * done; failed (for good); retry (a transient failure, attempts left); released (stopped by a
   * signal); skipped (listed, but it could not be read `maxAttempts` polls in a row: this watcher
   * leaves it until the listing shows it changed; nothing is recorded); superseded (the object
   * changed while it was processed: nothing published, the new version is taken next).
   */
  watchStatus: WatchOutcomeStatus;
  attempt: number;
  result?: TranscodeResult;
  error?: { code: string; message: string; hint?: string };
}

export interface WatchHooks {
  onEvent?: JobEventListener;
  onOutcome?: (outcome: WatchOutcome) => void;
  log?: (line: string) => void;
}

export function newWatcherId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export class Watcher {
  /** ETag and size of every candidate at the previous poll: equal twice in a row means the upload is complete. */
  private lastSeen = new Map<string, string>();
  /**
   * Listed objects whose HEAD found nothing (deleted, or a listing that changed the key) or was
   * refused (403 …), by key: the listed version and how many polls in a row. After maxAttempts the
   * object is skipped until its listing changes, so `--once` ends and nothing is retried forever.
   * A HEAD that failed for a while (5xx, throttling, a timeout) counts only with `--once`; a
   * watcher that keeps running tries it again at every poll.
   */
  private unreadable = new Map<string, { signature: string; tries: number }>();
  /**
   * Uploads another vidpipe was running (BUSY), by key: the version, since when, how often, and
   * until when it is left alone: each try downloads and hashes the whole source, so tries back off
   * (the poll interval, doubling up to a lease). With `--once` one busy for longer than a lease is
   * left for a later run, so `--once` ends even when that other job's lock outlives it (a lock of
   * another host counts as alive).
   */
  private busy = new Map<string, { signature: string; since: number; tries: number; retryAt: number; leftForLater: boolean }>();
  /**
   * The audio files each listed sidecar names, by sidecar key (with the ETag they were read at):
   * they are part of their upload's job, never uploads of their own.
   */
  private sidecarTracks = new Map<string, { etag: string; keys: string[] }>();

  constructor(
    private readonly config: WatchConfig,
    private readonly store: WatchStore,
    private readonly client: S3Client,
    private readonly hooks: WatchHooks = {},
    private readonly leaseMs: number,
  ) {}

  private log(line: string): void {
    this.hooks.log?.(line);
  }

  /** Upload keys vidpipe must not treat as inputs: sidecars, folder markers, its own outputs. */
  isIgnored(bucket: string, key: string): boolean {
    if (bucket !== this.config.bucket || !key.startsWith(this.config.prefix)) return true;
    if (key.endsWith('/') || isSidecarKey(key)) return true;
    return locationHolds(this.config.out, formatS3Uri(bucket, key));
  }

  /**
   * One ListObjectsV2 pass: returns the objects that were unchanged since the last pass and are
   * not finished, plus how many are still settling.
   */
  async poll(signal: AbortSignal): Promise<{ ready: ObjectSummary[]; settling: number }> {
    const listed = await listObjects(this.client, this.config.bucket, this.config.prefix, { signal, pageSize: 1000 });
    const trackKeys = await this.trackKeysOf(listed, signal);
    const seen = new Map<string, string>();
    const ready: ObjectSummary[] = [];
    let settling = 0;
    for (const object of listed) {
      if (this.isIgnored(this.config.bucket, object.key) || trackKeys.has(object.key)) continue;
      if (await this.store.isFinished({ bucket: this.config.bucket, key: object.key, etag: object.etag, size: object.size })) continue;
      const signature = `${object.etag}:${object.size}`;
      const unreadable = this.unreadable.get(object.key);
      if (unreadable?.signature === signature && unreadable.tries >= this.config.maxAttempts) continue;
      const busy = this.busy.get(object.key);
      if (busy?.signature === signature && busy.leftForLater) continue;
      seen.set(object.key, signature);
      if (busy?.signature === signature && Date.now() < busy.retryAt) {
        // Still waiting for the other job: not ready, but not done either (`--once` waits for it).
        settling += 1;
        continue;
      }
      if (this.lastSeen.get(object.key) === signature) ready.push(object);
      else settling += 1;
    }
    this.lastSeen = seen;
    const listedKeys = new Set(listed.map((object) => object.key));
    for (const key of this.unreadable.keys()) if (!listedKeys.has(key)) this.unreadable.delete(key);
    return { ready, settling };
  }

  /**
   * The keys of the audio files the listed sidecars name (`audioTracks`), read again only when a
   * sidecar's ETag changed. A sidecar that cannot be read or parsed names none here: its upload
   * fails with the reason when it is processed.
   */
  private async trackKeysOf(listed: ObjectSummary[], signal: AbortSignal): Promise<Set<string>> {
    const current = new Map<string, { etag: string; keys: string[] }>();
    for (const sidecar of listed.filter((object) => isSidecarKey(object.key))) {
      const known = this.sidecarTracks.get(sidecar.key);
      if (known?.etag === sidecar.etag) {
        current.set(sidecar.key, known);
        continue;
      }
      const text = await readSidecar(this.client, this.config.bucket, sidecar.key, signal).catch(() => undefined);
      current.set(sidecar.key, { etag: sidecar.etag, keys: text === undefined ? [] : trackKeysOfSidecar(text, sidecar.key) });
    }
    this.sidecarTracks = current;
    return new Set([...current.values()].flatMap((entry) => entry.keys));
  }

  /** Polls until stopped (or, with `once`, until nothing is left to do). */
  async runPolling(signal: AbortSignal): Promise<void> {
    this.log(`watching ${formatS3Uri(this.config.bucket, this.config.prefix)} every ${this.config.intervalMs / 1000}s → ${this.config.outText}`);
    let firstPoll = true;
    while (!signal.aborted) {
      let ready: ObjectSummary[] = [];
      let settling = 0;
      try {
        ({ ready, settling } = await this.poll(signal));
      } catch (error) {
        const failure = toVidpipeError(error);
        // A missing bucket at start is a usage error; a failing server later is waited out.
        if (firstPoll || failure.code === 'INTERRUPTED') throw failure;
        this.log(`listing failed, retrying in ${this.config.intervalMs / 1000}s: ${failure.message}`);
        settling = 1;
      }
      if (firstPoll && ready.length === 0 && settling === 0) await this.explainEmptyPrefix(signal);
      firstPoll = false;
      for (const object of ready) {
        if (signal.aborted) break;
        await this.processObject({ bucket: this.config.bucket, key: object.key, etag: object.etag, size: object.size }, signal);
      }
      if (this.config.once && ready.length === 0 && settling === 0) return;
      await sleep(this.config.intervalMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /**
   * The prefix is matched literally (`literalPrefix`); when nothing is there but keys sit under the
   * prefix without its leading or doubled slashes, the user most likely meant those: say so.
   */
  private async explainEmptyPrefix(signal: AbortSignal): Promise<void> {
    const { bucket, prefix } = this.config;
    let plain: string;
    try {
      plain = normalisePrefix(prefix);
    } catch {
      return;
    }
    if (plain === prefix) return;
    const found = await listObjects(this.client, bucket, plain, { signal, limit: 1 }).catch(() => []);
    if (found.length === 0) return;
    this.log(
      `nothing to do below "${prefix}", but there are keys below "${plain}": prefixes are matched as written ` +
        `(S3 keys may start with '/' or hold '//'); to watch those, give ${formatS3Uri(bucket, plain)}`,
    );
  }

  /**
   * Consumes S3 ObjectCreated notifications. A message is deleted once every object in it is
   * finished (done, failed for good, or not ours to process); otherwise it reappears after its
   * visibility timeout, which is how SQS retries.
   */
  async runSqs(queue: SqsQueue, signal: AbortSignal): Promise<void> {
    this.log(`consuming S3 notifications for ${formatS3Uri(this.config.bucket, this.config.prefix)} → ${this.config.outText}`);
    while (!signal.aborted) {
      let messages: Message[];
      try {
        messages = await queue.receive(signal);
      } catch (error) {
        if (signal.aborted) return;
        throw new VidpipeError('STORAGE_FAILED', `receiving from SQS failed: ${toVidpipeError(error).message}`, { cause: error });
      }
      if (messages.length === 0 && this.config.once) return;
      for (const message of messages) {
        if (signal.aborted) break;
        await this.handleMessage(queue, message, signal);
      }
    }
  }

  private async handleMessage(queue: SqsQueue, message: Message, signal: AbortSignal): Promise<void> {
    let parsed;
    try {
      parsed = parseS3Notification(message.Body ?? '');
    } catch (error) {
      // Redelivering a message that can never parse would loop forever.
      this.log(`dropping SQS message ${message.MessageId ?? ''}: ${toVidpipeError(error).message}`);
      await queue.delete(message);
      return;
    }
    let finished = true;
    for (const event of parsed.objects) {
      if (signal.aborted) {
        finished = false;
        break;
      }
      if (this.isIgnored(event.bucket, event.key)) continue;
      const outcome = await this.processObject(
        { bucket: event.bucket, key: event.key, etag: event.etag ?? '', size: event.size ?? 0 },
        signal,
        () => queue.setVisibility(message),
      );
      if (outcome === 'busy' || outcome?.watchStatus === 'retry' || outcome?.watchStatus === 'released') finished = false;
    }
    if (finished) await queue.delete(message);
    // Stopped by a signal: hand the message back now rather than after its visibility timeout.
    else if (signal.aborted) await queue.setVisibility(message, 0).catch(() => undefined);
  }

  /**
   * Claims and processes one object. Returns undefined when there was nothing to do (gone, or
   * already finished for this ETag), 'busy' when another watcher holds it or the object store could
   * not be reached (try again later).
   */
  async processObject(
    seen: WatchObjectRef,
    stop: AbortSignal,
    keepAlive?: () => Promise<void>,
  ): Promise<WatchOutcome | 'busy' | undefined> {
    const uri = formatS3Uri(seen.bucket, seen.key);
    // The listing or event may be stale; HEAD gives the current version and its metadata.
    const head = await headObject(this.client, seen.bucket, seen.key, stop).catch((error: unknown) => {
      const failure = toVidpipeError(error);
      if (stop.aborted) return null;
      // A refusal counts toward skipping; a server failing for a while is asked again at later polls
      // (with --once, counted too, so that it ends).
      if (isPermanentS3Refusal(error) || this.config.once) this.noteUnreadable(seen, failure.code, failure.message);
      else this.log(`${uri}: reading its metadata failed; tried again at the next poll: ${failure.message}`);
      return null;
    });
    if (head === null) return 'busy';
    if (head === undefined) {
      this.noteUnreadable(seen, 'INPUT_NOT_FOUND', 'listed, but there is no such object now: deleted, or the listing changed its key');
      return undefined;
    }
    this.unreadable.delete(seen.key);
    const object: WatchObjectRef = { bucket: seen.bucket, key: seen.key, etag: head.etag, size: head.size };
    const claim = await this.store.claim(object);
    if (!claim.claimed) {
      if (claim.reason === 'busy') return 'busy';
      if (claim.reason === 'gave-up') {
        const outcome: WatchOutcome = { ...object, watchStatus: 'failed', attempt: await this.store.attemptsOf(object), error: { code: 'INTERRUPTED', message: claim.error } };
        this.hooks.onOutcome?.(outcome);
        return outcome;
      }
      return undefined;
    }
    this.log(`${uri}: claimed (attempt ${claim.attempt} of ${this.config.maxAttempts})`);

    const job = new AbortController();
    const onStop = (): void => job.abort(stop.reason);
    stop.addEventListener('abort', onStop, { once: true });
    let lostLease = false;
    const heartbeat = setInterval(() => {
      this.store.renew(object).then(
        (renewed) => {
          if (renewed) return;
          lostLease = true;
          job.abort(new VidpipeError('INTERRUPTED', 'the claim on this object was lost'));
        },
        (error: unknown) => this.log(`${uri}: could not renew the lease: ${toVidpipeError(error).message}`),
      );
      keepAlive?.().catch((error: unknown) => this.log(`${uri}: could not extend the SQS message: ${toVidpipeError(error).message}`));
    }, Math.max(200, Math.floor(this.leaseMs / 3)));
    try {
      const outcome = await this.runJob(object, claim.attempt, head.metadata, job.signal, () => lostLease, stop);
      this.hooks.onOutcome?.(outcome);
      return outcome;
    } finally {
      clearInterval(heartbeat);
      stop.removeEventListener('abort', onStop);
    }
  }

  /** Logs every fruitless try (never silent) and reports the object once its tries are spent. */
  private noteUnreadable(seen: WatchObjectRef, code: ErrorCode, message: string): void {
    const signature = `${seen.etag}:${seen.size}`;
    const previous = this.unreadable.get(seen.key);
    const tries = previous?.signature === signature ? previous.tries + 1 : 1;
    this.unreadable.set(seen.key, { signature, tries });
    const uri = formatS3Uri(seen.bucket, seen.key);
    if (tries < this.config.maxAttempts) {
      this.log(`${uri}: ${message} (try ${tries} of ${this.config.maxAttempts})`);
      return;
    }
    const reason = `skipped after ${tries} tries: ${message}`;
    this.log(`${uri}: ${reason}; it is taken again once the listing shows it changed`);
    this.hooks.onOutcome?.({ ...seen, watchStatus: 'skipped', attempt: tries, error: { code, message: reason } });
  }

  private async runJob(
    object: WatchObjectRef,
    attempt: number,
    metadata: Record<string, string>,
    signal: AbortSignal,
    lostLease: () => boolean,
    stop: AbortSignal,
  ): Promise<WatchOutcome> {
    const uri = formatS3Uri(object.bucket, object.key);
    let request: JobRequest;
    let removeTracks = async (): Promise<void> => undefined;
    try {
      ({ request, cleanup: removeTracks } = await this.requestFor(object, metadata, signal));
    } catch (error) {
      // A bad sidecar or a missing audio file fails for good (USAGE, INPUT_NOT_FOUND); an unreachable server is retried like any transient failure.
      return await this.settle(object, attempt, stop, lostLease, toVidpipeError(error));
    }
    const result = await runJob({ ...request, signal, onEvent: this.hooks.onEvent }).finally(removeTracks);
    if (result.status === 'succeeded') {
      await this.store.finish(object, 'done', { jobId: result.jobId, videoId: result.id, outputs: result.outputs as Record<string, string> });
      this.log(`${uri}: done → ${result.outputs.hls ?? result.outputs.root ?? ''}`);
      return { ...object, watchStatus: 'done', attempt, result };
    }
    const error = result.error!;
    return this.settle(object, attempt, stop, lostLease, new VidpipeError(error.code as ErrorCode, error.message, { hint: error.hint }), result);
  }

  /** Records a failed or interrupted attempt: released for later, retried, or failed for good. */
  private async settle(
    object: WatchObjectRef,
    attempt: number,
    stop: AbortSignal,
    lostLease: () => boolean,
    failure: VidpipeError,
    result?: TranscodeResult,
  ): Promise<WatchOutcome> {
    const uri = formatS3Uri(object.bucket, object.key);
    const error = { code: failure.code, message: failure.message, ...(failure.hint ? { hint: failure.hint } : {}) };
    const base = { ...object, attempt, ...(result ? { result } : {}), error };
    if (lostLease()) {
      this.log(`${uri}: stopped, another watcher took it over after our lease ran out`);
      return { ...base, watchStatus: 'released' };
    }
    if (stop.aborted) {
      await this.store.release(object, { countAttempt: false, jobId: result?.jobId });
      this.log(`${uri}: released (stopping); it will be picked up again`);
      return { ...base, watchStatus: 'released' };
    }
    if (failure.code === 'SOURCE_CHANGED' && (await headObject(this.client, object.bucket, object.key, stop).catch(() => null)) === undefined) {
      // Deleted while it was processed: no newer version will come to take the row over.
      const reason = 'deleted while it was processed; nothing was published, and nothing is left to process';
      await this.store.finish(object, 'failed', { jobId: result?.jobId, error: reason });
      this.log(`${uri}: ${reason}`);
      return { ...base, watchStatus: 'superseded', error: { ...error, message: reason } };
    }
    if (failure.code === 'SOURCE_CHANGED') {
      // The version claimed is not the one to publish: its row goes back to pending, and the next
      // claim of the new ETag starts the upload over. The attempt counts only if the same version
      // is claimed again (a store whose ETags are not stable), so that cannot loop forever.
      await this.store.release(object, { countAttempt: true, error: failure.message, jobId: result?.jobId });
      this.log(`${uri}: ${failure.message}; the new version is processed once it has settled`);
      return { ...base, watchStatus: 'superseded' };
    }
    if (failure.code === 'BUSY') {
      // Another vidpipe (a watcher with its own database, a transcode run) is doing this very job:
      // nothing failed, so no attempt is spent; the upload is taken up again once it has finished.
      await this.store.release(object, { countAttempt: false, error: failure.message, jobId: result?.jobId });
      const signature = `${object.etag}:${object.size}`;
      const previous = this.busy.get(object.key)?.signature === signature ? this.busy.get(object.key) : undefined;
      const since = previous?.since ?? Date.now();
      const tries = (previous?.tries ?? 0) + 1;
      const leftForLater = this.config.once === true && Date.now() - since >= this.leaseMs;
      const retryAt = Date.now() + Math.min(this.leaseMs, this.config.intervalMs * 2 ** (tries - 1));
      this.busy.set(object.key, { signature, since, tries, retryAt, leftForLater });
      if (leftForLater) {
        this.log(`${uri}: another vidpipe has been running this job for ${Math.round((Date.now() - since) / 1000)} s; left for a later run (--once): ${failure.message}`);
      } else {
        this.log(`${uri}: another vidpipe is running this job, will try again in ${Math.round((retryAt - Date.now()) / 100) / 10} s: ${failure.message}`);
      }
      return { ...base, watchStatus: 'retry' };
    }
    if (TRANSIENT.has(failure.code) && attempt < this.config.maxAttempts) {
      await this.store.release(object, { countAttempt: true, error: failure.message, jobId: result?.jobId });
      this.log(`${uri}: attempt ${attempt} failed, will retry: ${failure.message}`);
      return { ...base, watchStatus: 'retry' };
    }
    const reason = attempt > 1 ? `gave up after ${attempt} attempts: ${failure.message}` : failure.message;
    await this.store.finish(object, 'failed', { jobId: result?.jobId, videoId: result?.id, error: reason });
    this.log(`${uri}: failed: ${reason}`);
    return { ...base, watchStatus: 'failed', error: { ...error, message: reason } };
  }

  /**
   * The transcode request for one upload: the watcher's flags, then metadata, then the sidecar;
   * the audio files an upload names are downloaded for the job (`cleanup` removes them).
   */
  private async requestFor(object: WatchObjectRef, metadata: Record<string, string>, signal: AbortSignal): Promise<{ request: JobRequest; cleanup: () => Promise<void> }> {
    const uri = formatS3Uri(object.bucket, object.key);
    const sidecarKey = sidecarKeyFor(object.key);
    const sidecarText = await readSidecar(this.client, object.bucket, sidecarKey, signal);
    const overrides = [
      { where: `metadata of ${uri}`, parsed: overridesFromMetadata(metadata, `metadata of ${uri}`) },
      ...(sidecarText === undefined ? [] : [{ where: formatS3Uri(object.bucket, sidecarKey), parsed: overridesFromSidecar(sidecarText, formatS3Uri(object.bucket, sidecarKey)) }]),
    ];
    const applied = applyOverrides(this.config.settings, ...overrides.map((o) => o.parsed));
    // The watcher signs what it sends with its own secret: without one, an upload's webhooks could never be sent.
    if (applied.settings.webhooks.length > 0 && !this.config.settings.webhookSecret) {
      throw new VidpipeError('USAGE', `${uri}: its sidecar or metadata asks for webhooks, but this watcher has no VIDPIPE_WEBHOOK_SECRET to sign them with; the upload is not processed`, {
        hint: 'start vidpipe watch with VIDPIPE_WEBHOOK_SECRET set (docs/events.md)',
      });
    }
    // The upload's own audio files (the last that names any wins, as for every setting), beside it in the bucket.
    const named = overrides.filter((o) => o.parsed.settings.audioTracks).at(-1);
    const tracks = named
      ? await fetchUploadTracks(named.parsed.settings.audioTracks!, { bucket: object.bucket, key: object.key, storage: this.config.request.storage, signal, namedIn: named.where })
      : undefined;
    const request: JobRequest = {
      ...this.config.request,
      input: uri,
      out: this.config.outText,
      // A sidecar's (or metadata's) name is given on purpose; the key's is only a default, so an
      // upload never replaces the package of another video (see docs/publishing.md).
      name: applied.name,
      defaultName: packageNameFor(object.key, this.config.prefix),
      settings: tracks ? { ...applied.settings, audioTracks: tracks.audioTracks } : applied.settings,
      tags: { ...this.config.request.tags, ...applied.tags, 's3-key': object.key, 's3-etag': object.etag },
    };
    return { request, cleanup: tracks?.cleanup ?? (async () => undefined) };
  }
}

/**
 * `uploads/talks/My Talk.mp4` watched under `uploads/` → `talks-My-Talk`: the folders below the
 * watched prefix stay in the name, so equal file names in different folders do not collide.
 */
export function packageNameFor(key: string, prefix: string): string {
  return sanitiseName(key.slice(prefix.length).split('/').filter((part) => part !== '').join('-'));
}
