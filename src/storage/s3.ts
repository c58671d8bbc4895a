/**
 * S3 and S3-compatible servers (MinIO, R2, Ceph, s3rver …): the client vidpipe configures, every
 * call it makes (each bounded in time and abortable), and S3Store, the ObjectStore of an S3 prefix.
 *
 * The client follows AWS's own conventions: region, credentials, endpoint, retry and checksum
 * settings come from the SDK's chain (environment, shared config and credentials files) unless
 * a vidpipe flag says otherwise; vidpipe's defaults apply only where nothing is configured.
 *
 * No call waits without bound: connections time out after a few seconds, a socket silent for a
 * third of --s3-timeout is dropped and the request retried, and each operation (retries
 * included) is abandoned after --s3-timeout with STORAGE_FAILED. Every call takes the caller's
 * abort signal, so Ctrl-C stops requests in flight at once.
 */
import { open, readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { VidpipeError } from '../errors.js';
import type { ObjectHeaders } from './content-types.js';
import type { ObjectStore } from './object-store.js';
import { describeFsError, forEachLimit } from './package-files.js';
import { assertValidBucketName, decodeFormEncodedKey, formatS3Uri, joinKey, normalisePrefix } from './uri.js';
import { isTimeoutFailure } from './timeout-failure.js';
import { downloadWithRetries, readBufferWithRetries, type RequestFailure, type RetryingReadOptions } from './download-retry.js';

const MiB = 1024 * 1024;
/** Above this a file goes through a multipart upload; below it one PutObject is cheaper. */
export const MULTIPART_THRESHOLD = 16 * MiB;
const PART_SIZE = 8 * MiB;
/** Parts in flight per multipart upload; memory per upload is about PARTS_IN_FLIGHT × PART_SIZE. */
const PARTS_IN_FLIGHT = 4;
export const DEFAULT_UPLOAD_CONCURRENCY = 8;
/** vidpipe's default when neither a flag nor AWS_MAX_ATTEMPTS says otherwise (the SDK's is 3). */
const DEFAULT_MAX_ATTEMPTS = 5;
/** Used when neither --s3-region nor the SDK's chain names a region (S3-compatible servers rarely care). */
const FALLBACK_REGION = 'us-east-1';
export const DEFAULT_S3_TIMEOUT_SECONDS = 60;
/** An upload gets this much longer per byte it sends: 8 s per MiB, so slow links are not cut off. */
const BODY_BYTES_PER_SECOND = 128 * 1024;
/** Clean-up after Ctrl-C or a failure (abandoning a multipart upload) gets at most this long. */
const CLEANUP_MS = 3000;

export const S3_HINT =
  'check the S3 endpoint (--s3-endpoint, VIDPIPE_S3_ENDPOINT or AWS_ENDPOINT_URL_S3), the bucket name and the credentials ' +
  '(AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)';
const TIMEOUT_HINT = 'the S3 server accepted the connection but stopped answering; check it, or allow more time with --s3-timeout (VIDPIPE_S3_TIMEOUT)';

export interface S3Options {
  /** S3-compatible endpoint such as http://127.0.0.1:9000; default VIDPIPE_S3_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS. */
  endpoint?: string;
  /** Default: the SDK's chain (AWS_REGION, the profile's region), then AWS_DEFAULT_REGION, then us-east-1. */
  region?: string;
  /** Default: true for an endpoint that is not AWS's (MinIO and s3rver have no virtual-host buckets). */
  forcePathStyle?: boolean;
  /** Attempts per request, including the first. Default: AWS_MAX_ATTEMPTS, else 5. */
  maxAttempts?: number;
  /** Explicit credentials; without them the SDK's standard chain (env, profile, SSO, IMDS …) is used. */
  credentials?: S3ClientConfig['credentials'];
  /**
   * Whether to send CRC32 checksums on every request. Since SDK 3.729 that is the default, but many
   * S3-compatible servers reject the aws-chunked trailers, so with a non-AWS endpoint only the
   * checksums an operation requires are sent (unless AWS_REQUEST_CHECKSUM_CALCULATION /
   * AWS_RESPONSE_CHECKSUM_VALIDATION say otherwise).
   */
  checksums?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /** Longest one S3 operation, retries included, may take (seconds). Default VIDPIPE_S3_TIMEOUT, else 60. */
  timeoutSeconds?: number;
}

/** How long each kind of wait may last, all derived from --s3-timeout. */
export interface S3Timeouts {
  /** One operation, retries included (uploads get BODY_BYTES_PER_SECOND on top). */
  operationMs: number;
  /** Establishing a TCP/TLS connection. */
  connectMs: number;
  /** A socket without any traffic: the attempt is dropped and retried. */
  idleMs: number;
}

export function s3Timeouts(seconds: number): S3Timeouts {
  const operationMs = Math.round(seconds * 1000);
  const third = Math.max(1000, Math.round(operationMs / 3));
  return { operationMs, connectMs: Math.min(10_000, third), idleMs: Math.min(20_000, third) };
}

/** The timeouts each client was made with; a client made elsewhere gets the defaults. */
const timeoutsByClient = new WeakMap<S3Client, S3Timeouts>();

export function timeoutsOf(client: S3Client): S3Timeouts {
  return timeoutsByClient.get(client) ?? s3Timeouts(DEFAULT_S3_TIMEOUT_SECONDS);
}

/**
 * The SDK warned on every run under old Node releases about SDK releases to come; vidpipe pins
 * the SDK major it supports, so the warning would only be noise on stderr.
 */
export function quietSdkVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/**
 * The endpoint vidpipe talks to: the flag, VIDPIPE_S3_ENDPOINT, then AWS's own
 * AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true).
 * Undefined means AWS itself.
 */
export function configuredEndpoint(options: S3Options = {}, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const own = options.endpoint || env.VIDPIPE_S3_ENDPOINT;
  if (own) return own;
  if (/^true$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '')) return undefined;
  return env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
}

/** The --s3-timeout in force: the option, else VIDPIPE_S3_TIMEOUT, else the default. */
export function s3TimeoutSeconds(options: S3Options = {}, env: NodeJS.ProcessEnv = process.env): number {
  if (options.timeoutSeconds !== undefined) return checkedTimeout(String(options.timeoutSeconds), '--s3-timeout');
  if (env.VIDPIPE_S3_TIMEOUT) return checkedTimeout(env.VIDPIPE_S3_TIMEOUT, 'VIDPIPE_S3_TIMEOUT');
  return DEFAULT_S3_TIMEOUT_SECONDS;
}

function checkedTimeout(text: string, where: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new VidpipeError('USAGE', `${where}: "${text}" is not a number of seconds above 0`);
  return seconds;
}

/** Endpoints of AWS itself keep virtual-host addressing and the SDK's checksum defaults. */
function isAwsEndpoint(endpoint: string): boolean {
  const host = new URL(endpoint).hostname.toLowerCase();
  return /(^|\.)amazonaws\.com(\.cn)?$/.test(host) || host.endsWith('.api.aws');
}

export function createS3Client(options: S3Options = {}): S3Client {
  quietSdkVersionWarning();
  const env = process.env;
  const endpoint = configuredEndpoint(options, env);
  if (endpoint !== undefined) assertEndpointUrl(endpoint);
  const custom = endpoint !== undefined && !isAwsEndpoint(endpoint);
  const timeouts = s3Timeouts(s3TimeoutSeconds(options, env));
  // What the environment configures is left for the SDK to read; vidpipe's defaults fill the gaps only.
  const requestChecksums = options.checksums ?? (custom && !env.AWS_REQUEST_CHECKSUM_CALCULATION ? 'WHEN_REQUIRED' : undefined);
  const responseChecksums = options.checksums ?? (custom && !env.AWS_RESPONSE_CHECKSUM_VALIDATION ? 'WHEN_REQUIRED' : undefined);
  const maxAttempts = options.maxAttempts ?? (env.AWS_MAX_ATTEMPTS ? undefined : DEFAULT_MAX_ATTEMPTS);
  const client = new S3Client({
    region: options.region || regionFromChain(env.AWS_DEFAULT_REGION || FALLBACK_REGION),
    endpoint,
    forcePathStyle: options.forcePathStyle ?? custom,
    requestHandler: { connectionTimeout: timeouts.connectMs, socketTimeout: timeouts.idleMs },
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
    // Adaptive adds client-side rate limiting on top of standard backoff when S3 answers SlowDown.
    ...(env.AWS_RETRY_MODE ? {} : { retryMode: 'adaptive' }),
    ...(requestChecksums === undefined ? {} : { requestChecksumCalculation: requestChecksums }),
    ...(responseChecksums === undefined ? {} : { responseChecksumValidation: responseChecksums }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  });
  timeoutsByClient.set(client, timeouts);
  return client;
}

/**
 * The SDK's own region chain (AWS_REGION, then the `region` of AWS_PROFILE's section in the
 * shared config file), read through a client configured without a region, with a fallback for
 * when it finds none.
 */
function regionFromChain(fallback: string): () => Promise<string> {
  const chain = new S3Client({}).config.region;
  let resolved: Promise<string> | undefined;
  return () => (resolved ??= chain().catch(() => fallback));
}

function assertEndpointUrl(endpoint: string): void {
  let protocol: string | undefined;
  try {
    protocol = new URL(endpoint).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new VidpipeError('USAGE', `invalid S3 endpoint "${endpoint}"`, {
      hint: 'give a URL such as http://127.0.0.1:9000',
    });
  }
}

/** The reason an operation's own deadline aborts it with (as opposed to the caller's Ctrl-C). */
export class S3DeadlineError extends Error {
  constructor(readonly limitMs: number) {
    super(`no answer within ${formatSeconds(limitMs)} s`);
    // The name isTimeoutFailure (timeout-failure.ts) knows a timeout by, the SDK's own included.
    this.name = 'TimeoutError';
  }
}

/**
 * Runs one S3 operation under the client's deadline and the caller's signal; `run` gets the
 * signal to hand to `client.send`. The wait ends the moment either fires, even while the SDK
 * sleeps between retries. `bodyBytes` (an upload's size) extends the deadline.
 */
export async function withinDeadline<T>(
  client: S3Client,
  what: string,
  signal: AbortSignal | undefined,
  run: (abortSignal: AbortSignal) => Promise<T>,
  bodyBytes = 0,
): Promise<T> {
  if (signal?.aborted) throw new VidpipeError('INTERRUPTED', `${what} was interrupted`, { cause: signal.reason });
  const limitMs = timeoutsOf(client).operationMs + Math.ceil((bodyBytes / BODY_BYTES_PER_SECOND) * 1000);
  const controller = new AbortController();
  const deadline = new S3DeadlineError(limitMs);
  const timer = setTimeout(() => controller.abort(deadline), limitMs);
  const forward = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', forward, { once: true });
  try {
    return await untilAborted(run(controller.signal), controller.signal);
  } catch (error) {
    if (signal?.aborted) throw new VidpipeError('INTERRUPTED', `${what} was interrupted`, { cause: error });
    if (controller.signal.reason === deadline) {
      throw new VidpipeError('STORAGE_FAILED', `${what} failed: the S3 server did not answer within ${formatSeconds(limitMs)} s`, { cause: deadline, hint: TIMEOUT_HINT });
    }
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forward);
  }
}

/** Settles with `promise`, or rejects as soon as `signal` fires (the promise is left to settle unobserved). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function formatSeconds(ms: number): string {
  return (ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1);
}

export interface S3StoreOptions {
  /** Files uploaded at once (default 8). */
  concurrency?: number;
  /** Destroy the client on close(). */
  ownsClient?: boolean;
}

/** An ObjectStore over `s3://bucket/prefix/`. */
export class S3Store implements ObjectStore {
  readonly root: string;
  readonly concurrency: number;
  readonly failureHint = S3_HINT;
  readonly operationTimeoutMs: number;
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    prefix: string,
    private readonly options: S3StoreOptions = {},
  ) {
    assertValidBucketName(bucket);
    this.prefix = normalisePrefix(prefix);
    this.root = formatS3Uri(bucket, this.prefix);
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY);
    this.operationTimeoutMs = timeoutsOf(client).operationMs;
  }

  uriOf(key: string): string {
    return formatS3Uri(this.bucket, joinKey(this.prefix, key));
  }

  readText(key: string, signal?: AbortSignal): Promise<string | undefined> {
    return readTextObject(this.client, this.bucket, joinKey(this.prefix, key), signal);
  }

  readBytes(key: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    return readObjectBytes(this.client, this.bucket, joinKey(this.prefix, key), { signal });
  }

  async exists(key: string, signal?: AbortSignal): Promise<boolean> {
    const full = joinKey(this.prefix, key);
    if ((await headObject(this.client, this.bucket, full, signal)) !== undefined) return true;
    return (await listObjects(this.client, this.bucket, `${full}/`, { signal, limit: 1 })).length > 0;
  }

  async putFile(key: string, file: string, bytes: number, headers: ObjectHeaders, signal?: AbortSignal, onBytes?: (bytes: number) => void): Promise<void> {
    const full = joinKey(this.prefix, key);
    const what = `uploading ${file} to ${formatS3Uri(this.bucket, full)}`;
    try {
      if (bytes > MULTIPART_THRESHOLD) {
        await uploadMultipart(this.client, this.bucket, full, file, bytes, headers, what, signal, onBytes);
      } else {
        // From memory on purpose: the SDK refuses to retry a request whose body is a stream
        // ("non-retryable streaming request"). Memory stays bounded by concurrency × MULTIPART_THRESHOLD.
        const body = await readFile(file, { signal });
        await this.put(full, body, headers, what, signal);
        onBytes?.(bytes);
      }
    } catch (error) {
      throw s3Failure(error, what);
    }
  }

  async putText(key: string, text: string, headers: ObjectHeaders, signal?: AbortSignal): Promise<void> {
    const full = joinKey(this.prefix, key);
    const what = `writing ${formatS3Uri(this.bucket, full)}`;
    try {
      await this.put(full, Buffer.from(text), headers, what, signal);
    } catch (error) {
      throw s3Failure(error, what);
    }
  }

  async createText(key: string, text: string, headers: ObjectHeaders, signal?: AbortSignal): Promise<boolean> {
    const full = joinKey(this.prefix, key);
    const what = `creating ${formatS3Uri(this.bucket, full)}`;
    try {
      await this.put(full, Buffer.from(text), headers, what, signal, true);
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // 412: the key exists; 409: another conditional write to it is in flight (AWS).
      if (status === 412 || status === 409) return false;
      if (status === 501) {
        // A server without conditional writes: the caller's re-read is all the protection left.
        await this.putText(key, text, headers, signal);
        return true;
      }
      throw s3Failure(error, what);
    }
  }

  private async put(key: string, body: Buffer, headers: ObjectHeaders, what: string, signal: AbortSignal | undefined, createOnly = false): Promise<void> {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentType: headers.contentType,
      CacheControl: headers.cacheControl,
      ...(createOnly ? { IfNoneMatch: '*' } : {}),
    });
    await withinDeadline(this.client, what, signal, (abortSignal) => this.client.send(command, { abortSignal }), body.length);
  }

  async deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    await deleteObjects(this.client, this.bucket, keys.map((key) => joinKey(this.prefix, key)), this.concurrency, signal);
  }

  /** `prefix` '' means everything below the store's own prefix (never a whole bucket). */
  async deleteBelow(prefix: string, signal?: AbortSignal): Promise<void> {
    const folder = prefix.replace(/\/+$/, '');
    if (folder === '' && this.prefix === '') throw new VidpipeError('INTERNAL', `refusing to delete everything in ${this.root}`);
    const objects = await listObjects(this.client, this.bucket, folder === '' ? this.prefix : `${joinKey(this.prefix, folder)}/`, { signal });
    await deleteObjects(this.client, this.bucket, objects.map((object) => object.key), this.concurrency, signal);
  }

  async assertWritable(): Promise<void> {
    // Reading the package record (which publishing does first) already shows the bucket is reachable.
  }

  close(): void {
    if (this.options.ownsClient) this.client.destroy();
  }
}

/** Streams a large file in parts, each part a buffer retried on its own; every request takes the signal. */
async function uploadMultipart(
  client: S3Client,
  bucket: string,
  key: string,
  file: string,
  bytes: number,
  headers: ObjectHeaders,
  what: string,
  signal: AbortSignal | undefined,
  onBytes: ((bytes: number) => void) | undefined,
): Promise<void> {
  // Like the SDK's own lib-storage: with default checksums every part carries a CRC32, declared up front.
  const checksummed = (await client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
  const created = await withinDeadline(client, what, signal, (abortSignal) =>
    client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: headers.contentType, CacheControl: headers.cacheControl, ...(checksummed ? { ChecksumAlgorithm: 'CRC32' } : {}) }),
      { abortSignal },
    ),
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error('the server started no multipart upload (no UploadId)');
  const count = Math.ceil(bytes / PART_SIZE);
  const parts: CompletedPart[] = [];
  const siblings = new AbortController();
  const forward = (): void => siblings.abort(signal?.reason);
  signal?.addEventListener('abort', forward, { once: true });
  const handle = await open(file, 'r');
  try {
    await forEachLimit(Array.from({ length: count }, (_, index) => index), PARTS_IN_FLIGHT, async (index) => {
      const offset = index * PART_SIZE;
      const body = await readRange(handle, offset, Math.min(PART_SIZE, bytes - offset));
      try {
        const part = await withinDeadline(client, `${what} (part ${index + 1} of ${count})`, siblings.signal, (abortSignal) =>
          client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: index + 1, Body: body }), { abortSignal }), body.length);
        parts[index] = { PartNumber: index + 1, ETag: part.ETag, ...(part.ChecksumCRC32 ? { ChecksumCRC32: part.ChecksumCRC32 } : {}) };
        onBytes?.(body.length);
      } catch (error) {
        siblings.abort(error);
        throw error;
      }
    });
    await withinDeadline(client, what, signal, (abortSignal) =>
      client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }), { abortSignal }));
  } catch (error) {
    // Parts of an abandoned upload are billed until it is aborted; trying must neither hang nor hide the failure.
    if (!isTimeoutFailure(error)) {
      await withinDeadline(client, `abandoning ${what}`, AbortSignal.timeout(CLEANUP_MS), (abortSignal) =>
        client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal })).catch(() => undefined);
    }
    throw signal?.aborted ? new VidpipeError('INTERRUPTED', `${what} was interrupted`, { cause: error }) : error;
  } finally {
    signal?.removeEventListener('abort', forward);
    await handle.close();
  }
}

async function readRange(handle: Awaited<ReturnType<typeof open>>, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) throw new Error(`the file ended ${length - filled} bytes early (changed while uploading?)`);
    filled += bytesRead;
  }
  return buffer;
}

async function deleteObjects(client: S3Client, bucket: string, keys: readonly string[], concurrency: number, signal: AbortSignal | undefined): Promise<void> {
  await forEachLimit(keys, concurrency, async (key) => {
    const what = `deleting ${formatS3Uri(bucket, key)}`;
    try {
      await withinDeadline(client, what, signal, (abortSignal) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }));
    } catch (error) {
      throw s3Failure(error, what);
    }
  });
}

export interface ObjectSummary {
  key: string;
  /** Without the surrounding quotes S3 puts on it. For multipart objects it is not an MD5. */
  etag: string;
  size: number;
  lastModified: Date;
}

export interface ObjectDetails extends ObjectSummary {
  contentType?: string;
  cacheControl?: string;
  /** User metadata (`x-amz-meta-*` headers), names lower-cased without the prefix. */
  metadata: Record<string, string>;
}

export interface ReadObjectOptions {
  signal?: AbortSignal;
  /** A line per retry (what failed, what happens next), for the progress log. */
  onRetry?: (line: string) => void;
  /** Bytes received so far and the object's size. */
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
  /** Read no more than this (someone else's object, such as a sidecar); `what` names it in the refusal. */
  limit?: { maxBytes: number; what: string };
}

/**
 * Downloads one object to `destPath`. The body is streamed to a sibling temp file and renamed
 * into place, so `destPath` never holds a partial download. A 5xx, a dropped connection, a
 * stalled or cut-off body is retried (download-retry.ts): with the client's attempts, resuming
 * with a ranged GET of the same ETag, until nothing has arrived for --s3-timeout.
 */
export async function downloadObject(
  client: S3Client,
  bucket: string,
  key: string,
  destPath: string,
  signalOrOptions?: AbortSignal | ReadObjectOptions,
): Promise<{ bytes: number; etag: string }> {
  const options: ReadObjectOptions = signalOrOptions instanceof AbortSignal ? { signal: signalOrOptions } : (signalOrOptions ?? {});
  const what = `downloading ${formatS3Uri(bucket, key)}`;
  try {
    const { bytes, version } = await downloadWithRetries(destPath, await objectReadOptions(client, bucket, key, what, options));
    return { bytes, etag: unquoteEtag(version) };
  } catch (error) {
    throw s3ReadError(error, what, options.signal);
  }
}

/** The body of a small text object (a manifest, a sidecar), or undefined when there is no such key. */
export async function readTextObject(
  client: S3Client,
  bucket: string,
  key: string,
  signalOrOptions?: AbortSignal | ReadObjectOptions,
): Promise<string | undefined> {
  const options: ReadObjectOptions = signalOrOptions instanceof AbortSignal ? { signal: signalOrOptions } : (signalOrOptions ?? {});
  return (await readObjectBytes(client, bucket, key, options))?.toString('utf8');
}

/** The whole body of an object, or undefined when there is no such key. */
async function readObjectBytes(client: S3Client, bucket: string, key: string, options: ReadObjectOptions): Promise<Buffer | undefined> {
  const what = `reading ${formatS3Uri(bucket, key)}`;
  try {
    const { limit } = options;
    const uri = formatS3Uri(bucket, key);
    // Someone else's object (a sidecar): refused from its Content-Length, or once more bytes than the limit came.
    const bound = limit && {
      maxBytes: limit.maxBytes,
      tooLarge: (size: string) => new VidpipeError('USAGE', `${uri}: ${limit.what} is at most ${limit.maxBytes} bytes; this one is ${size}; the upload is not processed`),
    };
    return await readBufferWithRetries(await objectReadOptions(client, bucket, key, what, options), bound);
  } catch (error) {
    if (isNotFound(error) && (error as { name?: string }).name !== 'NoSuchBucket') return undefined;
    throw s3ReadError(error, what, options.signal);
  }
}

const READ_HINT =
  'the S3 server kept failing or dropping the download; try again later, or allow more with AWS_MAX_ATTEMPTS (attempts) and --s3-timeout (VIDPIPE_S3_TIMEOUT: how long without progress)';

/** One GET of an object (from `resume` when given) for the retry loop, and what its failures mean. */
async function objectReadOptions(client: S3Client, bucket: string, key: string, what: string, options: ReadObjectOptions): Promise<RetryingReadOptions> {
  const timeouts = timeoutsOf(client);
  return {
    what,
    attempts: await client.config.maxAttempts(),
    idleMs: timeouts.idleMs,
    noProgressMs: timeouts.operationMs,
    signal: options.signal,
    hint: READ_HINT,
    onRetry: options.onRetry,
    onProgress: options.onProgress,
    request: async (resume, abortSignal) => {
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(resume ? { Range: `bytes=${resume.offset}-`, IfMatch: resume.version } : {}),
      });
      // The retry loop counts, spaces and reports every attempt, the body's included: the SDK's own retries would multiply them.
      command.middlewareStack.add(oneAttempt as never, { step: 'finalizeRequest', priority: 'low', name: 'vidpipeOneAttempt' });
      let response;
      try {
        response = await client.send(command, { abortSignal });
      } catch (error) {
        throw error instanceof OneAttemptFailure ? error.failure : error;
      }
      if (!(response.Body instanceof Readable)) throw new Error('the response has no body stream');
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.ContentRange ?? '');
      // A part (206, or a Content-Range) that does not say which part it is: undefined, so its bytes are never placed at 0.
      const unplaced = response.$metadata.httpStatusCode === 206 || response.ContentRange !== undefined;
      const start = range ? Number(range[1]) : unplaced ? undefined : 0;
      const total = range ? (range[2] === '*' ? undefined : Number(range[2])) : response.ContentLength;
      return { body: response.Body, start, total, version: response.ETag };
    },
    describeFailure: describeReadFailure,
  };
}

/** Keeps the SDK from retrying (it would retry a 5xx or a reset before the body only): a wrapper it classes as final. */
class OneAttemptFailure extends Error {
  constructor(readonly failure: unknown) {
    super('one attempt');
    this.name = 'OneAttemptFailure';
  }
}

function oneAttempt<Input, Output>(next: (args: Input) => Promise<Output>): (args: Input) => Promise<Output> {
  return async (args) => {
    try {
      return await next(args);
    } catch (error) {
      throw new OneAttemptFailure(error);
    }
  };
}

const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** What the SDK would retry (5xx, throttling, timeouts, network errors) may pass on a retry; a 412 means the object changed. */
function describeReadFailure(error: unknown): RequestFailure {
  const candidate = (error ?? {}) as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = candidate.$metadata?.httpStatusCode;
  if (status === 412 || candidate.name === 'PreconditionFailed') return { account: 'the object changed since the download began (ETag differs)', retryable: true, changed: true };
  const account = describeS3Error(error);
  const retryable =
    (status !== undefined && (status >= 500 || status === 429)) ||
    THROTTLING.has(candidate.name ?? '') ||
    candidate.name === 'TimeoutError' ||
    NETWORK_CODES.has(candidate.code ?? '');
  return { account, retryable };
}

/**
 * Whether a failed S3 request is a refusal that asking again will not change: a missing bucket, or
 * a 4xx other than a timeout or throttling (403 AccessDenied, 400). A 5xx, throttling, a timeout,
 * a dropped connection or anything unknown may pass later. Looks through vidpipe's wrapping.
 */
export function isPermanentS3Refusal(error: unknown): boolean {
  if (error instanceof VidpipeError && (error.code === 'INPUT_NOT_FOUND' || error.code === 'USAGE')) return true;
  for (let cause = error, depth = 0; cause !== undefined && cause !== null && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    const { name, $metadata } = cause as { name?: string; $metadata?: { httpStatusCode?: number } };
    const status = $metadata?.httpStatusCode;
    if (status !== undefined) return status >= 400 && status < 500 && status !== 408 && status !== 429 && !THROTTLING.has(name ?? '');
  }
  return false;
}

/** Metadata of one object, or undefined when it does not exist (a HEAD cannot say whether the bucket does). */
export async function headObject(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<ObjectDetails | undefined> {
  const what = `reading metadata of ${formatS3Uri(bucket, key)}`;
  try {
    const response = await withinDeadline(client, what, signal, (abortSignal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }));
    return {
      key,
      etag: unquoteEtag(response.ETag),
      size: response.ContentLength ?? 0,
      lastModified: response.LastModified ?? new Date(0),
      contentType: response.ContentType,
      cacheControl: response.CacheControl,
      metadata: response.Metadata ?? {},
    };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw s3ReadError(error, what, signal);
  }
}

export interface ListObjectsOptions {
  signal?: AbortSignal;
  /** Keys per ListObjectsV2 page (S3 caps it at 1000). */
  pageSize?: number;
  /** Stop after this many objects (pages keep the server's size). */
  limit?: number;
}

/** Every object below `prefix` (or the first `limit`), following continuation tokens across pages. */
export async function listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  options: ListObjectsOptions = {},
): Promise<ObjectSummary[]> {
  const objects: ObjectSummary[] = [];
  const what = `listing ${formatS3Uri(bucket, prefix)}`;
  const limit = options.limit ?? Infinity;
  let continuationToken: string | undefined;
  try {
    do {
      const page = await withinDeadline(client, what, options.signal, (abortSignal) =>
        client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: continuationToken, MaxKeys: options.pageSize, EncodingType: 'url' }),
          { abortSignal },
        ),
      );
      // Keys as raw XML text lose characters (CR becomes LF, most control characters cannot be
      // sent at all); encoded, they arrive exactly. A server that ignores the request says so by
      // leaving EncodingType out, and its keys are taken as they are.
      const keyOf = page.EncodingType === 'url' ? decodeFormEncodedKey : (key: string) => key;
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || objects.length >= limit) continue;
        objects.push({
          key: keyOf(object.Key),
          etag: unquoteEtag(object.ETag),
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        });
      }
      continuationToken = page.IsTruncated && objects.length < limit ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  } catch (error) {
    throw s3ReadError(error, what, options.signal);
  }
  return objects;
}

/** A failed write or delete: the action and the server's reason. */
function s3Failure(error: unknown, action: string): VidpipeError {
  if (error instanceof VidpipeError) return error;
  return new VidpipeError('STORAGE_FAILED', `${action} failed: ${describeS3Error(error)}`, { cause: error, hint: S3_HINT });
}

/** Missing bucket or key → INPUT_NOT_FOUND (the user named it); anything else → STORAGE_FAILED. */
function s3ReadError(error: unknown, action: string, signal: AbortSignal | undefined): VidpipeError {
  if (error instanceof VidpipeError) return error;
  if (signal?.aborted) return new VidpipeError('INTERRUPTED', `${action} was interrupted`, { cause: error });
  const name = (error as { name?: string } | undefined)?.name;
  if (name === 'NoSuchBucket') {
    return new VidpipeError('INPUT_NOT_FOUND', `${action} failed: the bucket does not exist`, {
      cause: error,
      hint: 'check the bucket name and the S3 endpoint (--s3-endpoint, VIDPIPE_S3_ENDPOINT or AWS_ENDPOINT_URL_S3)',
    });
  }
  if (isNotFound(error)) {
    return new VidpipeError('INPUT_NOT_FOUND', `${action} failed: no such object`, {
      cause: error,
      hint: 'check the key; S3 keys are case-sensitive',
    });
  }
  return s3Failure(error, action);
}

function isNotFound(error: unknown): boolean {
  const candidate = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return (
    candidate?.name === 'NoSuchKey' || candidate?.name === 'NotFound' || candidate?.$metadata?.httpStatusCode === 404
  );
}

/** "NoSuchBucket (HTTP 404): The specified bucket does not exist", "connect ECONNREFUSED 127.0.0.1:9000". */
export function describeS3Error(error: unknown): string {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  if (error instanceof Error && status !== undefined) return `${error.name} (HTTP ${status}): ${error.message}`;
  // Node reports a failed connection to a host with several addresses as an AggregateError without a message.
  if (error instanceof AggregateError && error.message === '' && error.errors.length > 0) {
    return describeFsError(error.errors[0]);
  }
  return describeFsError(error);
}

function unquoteEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}
