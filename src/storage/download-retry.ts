/**
 * The retry loop of every download vidpipe makes: s3:// and http(s):// inputs, the files a queue
 * worker fetches, the records and manifests read back from S3. A request answered with a 5xx or
 * a throttling error, a connection dropped before or during the body, a body that stalls, and a
 * body that ends before its Content-Length are retried with backoff. A retry after some bytes
 * resumes with a ranged GET of the same version (the protocol's request sends the range and the
 * version it expects; the answer's range and version are checked here), so an object changed
 * between two attempts starts again from byte 0 and is never stitched from two versions.
 *
 * Bounds: `attempts` requests in all, and `noProgressMs` without progress (a byte past the
 * furthest point reached since the kept bytes were last dropped: a restart from byte 0 measures
 * afresh), retries and their backoff included; a body or an answer silent for `idleMs` ends its
 * attempt. A failure that is not retryable is thrown as it came at any attempt, for the caller to
 * word (a 404 after a 503 is still "not found"). s3.ts and http.ts give the
 * requests and say which of their failures may pass on a retry.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { VidpipeError } from '../errors.js';

/** One answer, its body not yet read. */
export interface DownloadResponse {
  body: Readable;
  /**
   * Offset in the object of the body's first byte: 0 for a whole object, N for a ranged answer;
   * undefined for a part whose offset cannot be read (a 206 without a readable Content-Range):
   * its bytes are never kept.
   */
  start: number | undefined;
  /** The whole object's size when the server states it (Content-Range, else Content-Length). */
  total: number | undefined;
  /** The object's version (ETag, else Last-Modified); undefined when the server names none. */
  version: string | undefined;
}

/** Where a retry continues: the bytes already kept, of this version. */
export interface ResumePoint {
  offset: number;
  version: string;
}

/** What a failed request was, in a few words, and whether another attempt may do better. */
export interface RequestFailure {
  account: string;
  retryable: boolean;
  /** The server refused the range because the object is another version now: start again from byte 0. */
  changed?: boolean;
}

export interface RetryingReadOptions {
  /** "downloading s3://media/talk.mp4", the start of every message. */
  what: string;
  attempts: number;
  /** A body that sends nothing this long ends its attempt (a stall). */
  idleMs: number;
  /** No byte past the furthest point reached for this long, retries included: give up. */
  noProgressMs: number;
  signal?: AbortSignal;
  /** Sends one request (exactly one: the protocol's own retries off) from `resume`, or for the whole object. */
  request(resume: ResumePoint | undefined, signal: AbortSignal): Promise<DownloadResponse>;
  /** What a failure of `request` was; a failure not retryable is thrown as it came, for the caller to word. */
  describeFailure(error: unknown): RequestFailure;
  /** What the user can do when every attempt failed. */
  hint: string;
  /** A line per retry: what failed and what happens next. */
  onRetry?: (line: string) => void;
  /** Bytes kept so far and the whole size when known. */
  onProgress?: (received: number, total: number | undefined) => void;
  /** Called once with the size, before the first byte is kept (a free-space check). */
  beforeBody?: (total: number | undefined) => Promise<void>;
}

/** Where the body goes: a file, or memory for a small text object. */
interface Sink {
  write(chunk: Buffer, position: number): Promise<void>;
  /** Drops everything after `size` bytes. */
  truncate(size: number): Promise<void>;
}

const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** Default attempts where no setting says otherwise (the S3 client's default too). */
export const DEFAULT_READ_ATTEMPTS = 5;

/** The stall watchdog's reason for ending a body. */
class BodyStalled extends Error {
  constructor(readonly idleMs: number) {
    super(`no data for ${seconds(idleMs)} s`);
    this.name = 'BodyStalled';
  }
}

/** The no-progress deadline's reason for ending an attempt. */
class NoProgress extends Error {
  constructor(readonly limitMs: number) {
    super(`no progress for ${seconds(limitMs)} s`);
    // The name isTimeoutFailure (timeout-failure.ts) knows a timeout by.
    this.name = 'TimeoutError';
  }
}

/**
 * Downloads to `destPath` through a sibling temporary file renamed into place when complete:
 * `destPath` never holds a part. Returns the size and the version downloaded.
 */
export async function downloadWithRetries(destPath: string, options: RetryingReadOptions): Promise<{ bytes: number; version: string | undefined }> {
  const partial = `${destPath}.partial-${randomBytes(4).toString('hex')}`;
  const handle = await open(partial, 'w');
  try {
    const sink: Sink = {
      write: async (chunk, position) => {
        let written = 0;
        while (written < chunk.length) written += (await handle.write(chunk, written, chunk.length - written, position + written)).bytesWritten;
      },
      truncate: (size) => handle.truncate(size),
    };
    const result = await readWithRetries(sink, options);
    await handle.close();
    await rename(partial, destPath);
    return result;
  } finally {
    await handle.close().catch(() => undefined);
    await rm(partial, { force: true });
  }
}

/** At most `maxBytes` of a body: a larger one is refused with `tooLarge` (final, never retried) and not read further. */
export interface ReadLimit {
  maxBytes: number;
  tooLarge(size: string): VidpipeError;
}

/** A small object's whole body, read with the same retries (records, manifests, sidecars). */
export async function readBufferWithRetries(options: RetryingReadOptions, limit?: ReadLimit): Promise<Buffer> {
  let chunks: Buffer[] = [];
  let size = 0;
  const beforeBody = options.beforeBody;
  if (limit) {
    options = {
      ...options,
      beforeBody: async (total) => {
        if (total !== undefined && total > limit.maxBytes) throw limit.tooLarge(`${total} bytes`);
        await beforeBody?.(total);
      },
    };
  }
  const sink: Sink = {
    write: async (chunk) => {
      // A server may send no length: the bytes are counted too.
      if (limit && size + chunk.length > limit.maxBytes) throw limit.tooLarge(`larger (more than ${size + chunk.length} bytes)`);
      chunks.push(chunk);
      size += chunk.length;
    },
    truncate: async (keep) => {
      const kept = Buffer.concat(chunks).subarray(0, keep);
      chunks = [kept];
      size = kept.length;
    },
  };
  await readWithRetries(sink, options);
  return Buffer.concat(chunks, size);
}

async function readWithRetries(sink: Sink, options: RetryingReadOptions): Promise<{ bytes: number; version: string | undefined }> {
  const { what, signal } = options;
  const failures: string[] = [];
  let received = 0;
  let version: string | undefined;
  let sized = false;
  let lastProgressAt = Date.now();
  // Bytes received again after a retry that resumed are not progress: only these past the furthest point.
  let furthest = 0;
  // The kept bytes are thrown away (another version, a server without one, the whole object sent
  // again): the next bytes are the progress now, and the clock restarts (the attempts still bound the loop).
  const dropKept = async (): Promise<void> => {
    received = 0;
    version = undefined;
    furthest = 0;
    lastProgressAt = Date.now();
    await sink.truncate(0);
  };
  const interrupted = (cause: unknown) => new VidpipeError('INTERRUPTED', `${what} was interrupted`, { cause });

  for (let attempt = 1; ; attempt += 1) {
    if (signal?.aborted) throw interrupted(signal.reason);
    const resume = received > 0 && version !== undefined ? { offset: received, version } : undefined;
    const controller = new AbortController();
    const forward = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', forward, { once: true });
    const noProgress = new NoProgress(options.noProgressMs);
    let deadline: NodeJS.Timeout | undefined;
    const armDeadline = (): void => {
      clearTimeout(deadline);
      deadline = setTimeout(() => controller.abort(noProgress), Math.max(0, lastProgressAt + options.noProgressMs - Date.now()));
    };
    armDeadline();
    let failure: RequestFailure;
    let cause: unknown;
    let body: Readable | undefined;
    try {
      let response: DownloadResponse;
      const unanswered = new BodyStalled(options.idleMs);
      const answerTimer = setTimeout(() => controller.abort(unanswered), options.idleMs);
      try {
        response = await options.request(resume, controller.signal);
      } catch (error) {
        if (signal?.aborted) throw interrupted(error);
        if (controller.signal.reason === noProgress) throw giveUp(what, attempt, [...failures, noProgress.message], undefined, options.hint, error);
        if (controller.signal.reason === unanswered) throw new AttemptFailed({ account: `no answer within ${seconds(options.idleMs)} s`, retryable: true }, error);
        failure = options.describeFailure(error);
        cause = error;
        // A final answer (not found, refused) is the caller's to word, whatever came before it.
        if (!failure.retryable) throw error;
        if (failure.changed) await dropKept();
        throw new AttemptFailed(failure, error);
      } finally {
        clearTimeout(answerTimer);
      }
      body = response.body;
      // What was asked and what came must agree, or the kept bytes are dropped (never stitched).
      if (response.start === undefined) {
        // A part of the object, but which part is not said: nothing of it can be placed.
        response.body.destroy();
        await dropKept();
        throw new AttemptFailed({ account: 'the server answered with a part of the object without a readable Content-Range; starting again from byte 0', retryable: true }, undefined);
      }
      if (resume && (response.start !== resume.offset || response.version !== resume.version)) {
        const changed = response.version !== resume.version;
        if (response.start !== 0) {
          response.body.destroy();
          await dropKept();
          throw new AttemptFailed({ account: changed ? 'the object changed since the download began' : `the server answered from byte ${response.start}, not ${resume.offset}`, retryable: true }, undefined);
        }
        options.onRetry?.(`${what}: ${changed ? 'the object changed since the download began; starting again from byte 0' : 'the server sent the whole object again; starting again from byte 0'}`);
        await dropKept();
        armDeadline();
      } else if (!resume && received > 0) {
        // The server names no version: the bytes kept cannot be known to match, so start again.
        await dropKept();
        armDeadline();
      }
      version = response.version;
      const total = response.total;
      if (!sized) {
        sized = true;
        await options.beforeBody?.(total);
      }
      let lastByteAt = Date.now();
      let stall: NodeJS.Timeout | undefined;
      const stalled = new BodyStalled(options.idleMs);
      const armStall = (): void => {
        clearTimeout(stall);
        stall = setTimeout(() => response.body.destroy(stalled), options.idleMs);
      };
      const onAbort = (): void => void response.body.destroy(controller.signal.reason instanceof Error ? controller.signal.reason : new Error('aborted'));
      controller.signal.addEventListener('abort', onAbort, { once: true });
      try {
        armStall();
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          clearTimeout(stall);
          await sink.write(chunk, received);
          received += chunk.length;
          lastByteAt = Date.now();
          if (received > furthest) {
            furthest = received;
            lastProgressAt = lastByteAt;
            armDeadline();
          }
          options.onProgress?.(received, total);
          armStall();
        }
      } catch (error) {
        if (signal?.aborted) throw interrupted(error);
        // The sink's refusal (a body over its limit) is final.
        if (error instanceof VidpipeError) throw error;
        const of = total !== undefined ? ` of ${total}` : '';
        if (controller.signal.reason === noProgress) throw giveUp(what, attempt, [...failures, `${noProgress.message} (after ${received}${of} bytes)`], undefined, options.hint, error);
        // The client's own idle timeout may drop the socket a moment before the watchdog fires.
        const silentMs = Date.now() - lastByteAt;
        const account = error === stalled || silentMs >= options.idleMs * 0.9
          ? `the body stalled after ${received}${of} bytes (no data for ${seconds(Math.round(silentMs / 100) * 100)} s)`
          : `the connection was dropped after ${received}${of} bytes (${describeNetworkError(error)})`;
        throw new AttemptFailed({ account, retryable: true }, error);
      } finally {
        clearTimeout(stall);
        controller.signal.removeEventListener('abort', onAbort);
      }
      if (total !== undefined && received !== total) {
        throw new AttemptFailed({ account: `the body ended after ${received} of ${total} bytes`, retryable: true }, undefined);
      }
      return { bytes: received, version };
    } catch (error) {
      if (!(error instanceof AttemptFailed)) throw error;
      failure = error.failure;
      cause = error.cause;
    } finally {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', forward);
      // An unread body holds its socket until the pool runs dry (aws-sdk-js-v3 #6691).
      if (body && !body.readableEnded) body.destroy();
    }

    failures.push(failure.account);
    if (attempt >= options.attempts) throw giveUp(what, attempt, failures, undefined, options.hint, cause);
    const delayMs = backoffMs(attempt);
    const leftMs = lastProgressAt + options.noProgressMs - Date.now();
    if (delayMs >= leftMs) throw giveUp(what, attempt, failures, `${seconds(options.noProgressMs)} s without progress would pass before the next`, options.hint, cause);
    const from = received > 0 && version !== undefined ? `from byte ${received}` : 'from the start';
    options.onRetry?.(`${what}: attempt ${attempt} of ${options.attempts} failed: ${failure.account}; retrying ${from} in ${seconds(delayMs)} s`);
    await sleep(delayMs, signal).catch((error: unknown) => {
      throw interrupted(error);
    });
  }
}

/** A failed attempt that another may follow. */
class AttemptFailed extends Error {
  constructor(readonly failure: RequestFailure, cause: unknown) {
    super(failure.account, { cause });
  }
}

/** Every attempt's account, so the message says what failed each time and how often; `stop` why no attempt followed the last. */
function giveUp(what: string, attempts: number, failures: string[], stop: string | undefined, hint: string, cause: unknown): VidpipeError {
  const listed = failures.length === 1 ? failures[0] : failures.map((account, index) => `${index + 1}) ${account}`).join('; ');
  const ending = stop === undefined ? '' : `; no more attempts: ${stop}`;
  return new VidpipeError('STORAGE_FAILED', `${what} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${listed}${ending}`, { cause, hint });
}

/** Exponential backoff with jitter (half fixed, half random) so many clients do not retry in step. */
function backoffMs(failedAttempts: number): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failedAttempts - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** "ECONNRESET: aborted", "socket hang up". */
export function describeNetworkError(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return [code, message && !message.includes(code ?? '\0') ? message : undefined].filter(Boolean).join(': ') || String(error);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1);
}
