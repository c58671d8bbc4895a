/**
 * Publishing to and reading from S3 or an S3-compatible server (MinIO, R2, s3rver …).
 *
 * A package is published media first and manifests last, so a player that fetches a manifest
 * can always fetch everything it references; if any media upload fails, no manifest is written
 * and a previously published manifest keeps pointing at the previous (still present) media.
 * With a release (what the pipeline uses) everything goes below `<prefix><release>/`, so a
 * republish never overwrites an object a live manifest references (see release.ts).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { VidpipeError } from '../core/errors.js';
import { contentTypeFor, objectHeadersFor } from './content-types.js';
import {
  describeFsError,
  forEachLimit,
  inPublishOrder,
  listPackageFiles,
  type PackageFile,
  sumBytes,
} from './package-files.js';
import {
  assertReleaseName,
  compareReleases,
  entryManifestFor,
  isEntryKey,
  isSupersededName,
  releaseKey,
  releaseReferencedBy,
  supersededError,
} from './release.js';
import type { PublishedFile, PublishOptions, Storage } from './storage.js';
import { assertValidBucketName, formatS3Uri, joinKey, normalisePrefix } from './uri.js';

const MiB = 1024 * 1024;
/** Above this a file goes through a multipart upload; below it one PutObject is cheaper. */
export const MULTIPART_THRESHOLD = 16 * MiB;
const PART_SIZE = 8 * MiB;
/** Parts in flight per multipart upload; memory per upload is about QUEUE_SIZE × PART_SIZE. */
const QUEUE_SIZE = 4;
export const DEFAULT_UPLOAD_CONCURRENCY = 8;
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_REGION = 'us-east-1';

export const S3_HINT =
  'check the S3 endpoint (--s3-endpoint or VIDPIPE_S3_ENDPOINT), the bucket name and the credentials ' +
  '(AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)';

export interface S3Options {
  /** S3-compatible endpoint such as http://127.0.0.1:9000; defaults to VIDPIPE_S3_ENDPOINT, else AWS. */
  endpoint?: string;
  /** Defaults to AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1. */
  region?: string;
  /** Defaults to true when an endpoint is set: MinIO and s3rver have no virtual-host buckets. */
  forcePathStyle?: boolean;
  /** Attempts per request, including the first (default 5). Throttling and 5xx are retried with backoff. */
  maxAttempts?: number;
  /** Explicit credentials; without them the SDK's standard chain (env, profile, SSO, IMDS …) is used. */
  credentials?: S3ClientConfig['credentials'];
  /**
   * Whether to send CRC32 checksums on every request. Since SDK 3.729 that is the default, but many
   * S3-compatible servers reject the aws-chunked trailers, so with a custom endpoint only the
   * checksums an operation requires are sent.
   */
  checksums?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
}

/**
 * The SDK warns on every run under Node < 22 about SDK releases from 2027 on; vidpipe supports
 * Node 20 with the SDK major it pins, so the warning would only be noise on stderr.
 */
export function quietSdkVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

export function createS3Client(options: S3Options = {}): S3Client {
  quietSdkVersionWarning();
  const endpoint = options.endpoint || process.env.VIDPIPE_S3_ENDPOINT || undefined;
  if (endpoint !== undefined) assertEndpointUrl(endpoint);
  const checksums = options.checksums ?? (endpoint === undefined ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED');
  return new S3Client({
    region: options.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || DEFAULT_REGION,
    endpoint,
    forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    // Adaptive adds client-side rate limiting on top of standard backoff when S3 answers SlowDown.
    retryMode: 'adaptive',
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  });
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

export interface S3StorageOptions {
  client: S3Client;
  bucket: string;
  /** Folder of the package inside the bucket; normalised to '' or ending with '/'. */
  prefix: string;
  /** Files uploaded at once (default 8). */
  concurrency?: number;
  /** Publish into `<prefix><release>/` and point the entry manifests at it (see release.ts). */
  release?: string;
}

export class S3Storage implements Storage {
  readonly root: string;
  readonly releaseRoot: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly concurrency: number;
  private readonly release: string | undefined;
  /** Where package files go: the prefix itself, or the release folder below it. */
  private readonly filesPrefix: string;

  constructor(options: S3StorageOptions) {
    assertValidBucketName(options.bucket);
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = normalisePrefix(options.prefix);
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY);
    this.root = formatS3Uri(this.bucket, this.prefix);
    this.release = options.release;
    if (this.release !== undefined) assertReleaseName(this.release);
    this.filesPrefix = this.release === undefined ? this.prefix : normalisePrefix(this.prefix + this.release);
    this.releaseRoot = formatS3Uri(this.bucket, this.filesPrefix);
  }

  uriFor(key: string): string {
    if (this.release !== undefined && isEntryKey(key)) return formatS3Uri(this.bucket, joinKey(this.prefix, key));
    return formatS3Uri(this.bucket, joinKey(this.filesPrefix, key));
  }

  async publishDirectory(localDir: string, options: PublishOptions = {}): Promise<PublishedFile[]> {
    // Aborted by the caller's signal, or by the first failed upload so its siblings stop early.
    const uploads = new AbortController();
    const forwardAbort = (): void => uploads.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', forwardAbort, { once: true });
    const state = { live: false };
    try {
      options.signal?.throwIfAborted();
      const files = await listPackageFiles(localDir);
      const { media, manifests } = inPublishOrder(files);
      const progress = progressReporter(sumBytes(files), options.onProgress);
      await forEachLimit(media, this.concurrency, async (file) => {
        try {
          await this.uploadFile(file, uploads.signal, progress);
        } catch (error) {
          uploads.abort(error);
          throw error;
        }
      });
      // One at a time, deepest first: the master playlist / MPD is the very last object written.
      for (const file of manifests) await this.uploadFile(file, uploads.signal, progress);
      if (this.release !== undefined) await this.goLive(this.release, manifests.filter((file) => isEntryKey(file.key)), uploads.signal, state);
      return [...media, ...manifests].map((file) => this.publishedFile(file));
    } catch (error) {
      // A release no entry manifest points at is garbage; once one does, it must stay.
      if (this.release !== undefined && !state.live) await this.deleteBelow(this.filesPrefix).catch(() => undefined);
      throw this.publishError(error, options.signal);
    } finally {
      options.signal?.removeEventListener('abort', forwardAbort);
    }
  }

  /**
   * The release is complete: point the entry manifests at it (unless a newer job got there
   * first), then delete whatever they no longer reference.
   */
  private async goLive(release: string, entries: PackageFile[], signal: AbortSignal, state: { live: boolean }): Promise<void> {
    const current = await this.currentRelease(entries, signal);
    if (current !== undefined && compareReleases(current, release) > 0) throw supersededError(this.root, release, current);
    for (const file of entries) {
      const text = entryManifestFor(file.key, await readFile(file.absPath, 'utf8'), release);
      state.live = true;
      await this.putObject(joinKey(this.prefix, file.key), file.key, Buffer.from(text), signal);
    }
    const entryKeys = new Set(entries.map((file) => file.key));
    try {
      const stale = (await listObjects(this.client, this.bucket, this.prefix)).filter((object) =>
        isSupersededName(object.key.slice(this.prefix.length).split('/')[0]!, release, entryKeys),
      );
      await forEachLimit(stale, this.concurrency, (object) => this.deleteObject(object.key));
    } catch {
      // The new package is live: a failed clean-up leaves garbage for the next publish, not a broken package.
    }
  }

  private async currentRelease(entries: PackageFile[], signal: AbortSignal): Promise<string | undefined> {
    for (const file of entries) {
      const text = await readTextObject(this.client, this.bucket, joinKey(this.prefix, file.key), signal);
      const release = text === undefined ? undefined : releaseReferencedBy(file.key, text);
      if (release !== undefined) return release;
    }
    return undefined;
  }

  private async deleteBelow(prefix: string): Promise<void> {
    const objects = await listObjects(this.client, this.bucket, prefix);
    await forEachLimit(objects, this.concurrency, (object) => this.deleteObject(object.key));
  }

  private async deleteObject(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  private publishedFile(file: PackageFile): PublishedFile {
    return { key: file.key, uri: formatS3Uri(this.bucket, joinKey(this.filesPrefix, file.key)), bytes: file.bytes, contentType: contentTypeFor(file.key) };
  }

  private async uploadFile(file: PackageFile, signal: AbortSignal, progress: ProgressReporter): Promise<void> {
    signal.throwIfAborted();
    const key = joinKey(this.filesPrefix, file.key);
    try {
      if (file.bytes > MULTIPART_THRESHOLD) await this.uploadLarge(file, key, signal, progress);
      else await this.uploadSmall(file, key, signal, progress);
    } catch (error) {
      // A sibling's failure or Ctrl-C aborted this one; the root cause is reported elsewhere.
      if (signal.aborted) throw error;
      throw new VidpipeError(
        'STORAGE_FAILED',
        `uploading ${file.absPath} to ${formatS3Uri(this.bucket, key)} failed: ${describeS3Error(error)}`,
        { cause: error, hint: S3_HINT },
      );
    }
  }

  /**
   * Small files are sent from memory on purpose: the SDK refuses to retry a request whose body is
   * a stream ("non-retryable streaming request"), so a single 503 would fail the whole publish.
   * Memory stays bounded by concurrency × MULTIPART_THRESHOLD.
   */
  private async uploadSmall(file: PackageFile, key: string, signal: AbortSignal, progress: ProgressReporter): Promise<void> {
    await this.putObject(key, file.key, await readFile(file.absPath, { signal }), signal);
    progress.add(file.bytes);
  }

  private async putObject(key: string, packageKey: string, body: Buffer, signal: AbortSignal): Promise<void> {
    const { contentType, cacheControl } = objectHeadersFor(packageKey);
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, CacheControl: cacheControl }),
      { abortSignal: signal },
    );
  }

  /** Streams from disk in 8 MiB parts; each part is a buffer, so parts are retried individually. */
  private async uploadLarge(file: PackageFile, key: string, signal: AbortSignal, progress: ProgressReporter): Promise<void> {
    const { contentType, cacheControl } = objectHeadersFor(file.key);
    const body = createReadStream(file.absPath);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentLength: file.bytes,
        ContentType: contentType,
        CacheControl: cacheControl,
      },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    let reported = 0;
    upload.on('httpUploadProgress', ({ loaded }) => {
      if (loaded === undefined || loaded <= reported) return;
      progress.add(loaded - reported);
      reported = loaded;
    });
    const abortUpload = (): void => void upload.abort();
    signal.addEventListener('abort', abortUpload, { once: true });
    try {
      await upload.done();
      progress.add(file.bytes - reported);
    } finally {
      signal.removeEventListener('abort', abortUpload);
      body.destroy();
    }
  }

  private publishError(error: unknown, signal: AbortSignal | undefined): VidpipeError {
    if (signal?.aborted) {
      return new VidpipeError('INTERRUPTED', `publishing to ${this.root} was interrupted; no manifest was written`, {
        cause: error,
      });
    }
    if (error instanceof VidpipeError) return error;
    return new VidpipeError('STORAGE_FAILED', `publishing to ${this.root} failed: ${describeS3Error(error)}`, {
      cause: error,
      hint: S3_HINT,
    });
  }
}

interface ProgressReporter {
  add(bytes: number): void;
}

function progressReporter(totalBytes: number, onProgress: PublishOptions['onProgress']): ProgressReporter {
  let doneBytes = 0;
  return {
    add(bytes) {
      if (bytes <= 0) return;
      doneBytes += bytes;
      onProgress?.(doneBytes, totalBytes);
    },
  };
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

/**
 * Downloads one object to `destPath`. The body is streamed to a sibling temp file and renamed
 * into place, so `destPath` never holds a partial download.
 */
export async function downloadObject(
  client: S3Client,
  bucket: string,
  key: string,
  destPath: string,
  signal?: AbortSignal,
): Promise<{ bytes: number; etag: string }> {
  const uri = formatS3Uri(bucket, key);
  const partial = `${destPath}.partial-${randomBytes(4).toString('hex')}`;
  let body: Readable | undefined;
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    if (!(response.Body instanceof Readable)) throw new Error('the response has no body stream');
    body = response.Body;
    await pipeline(body, createWriteStream(partial), { signal });
    const { size } = await stat(partial);
    if (response.ContentLength !== undefined && size !== response.ContentLength) {
      throw new Error(`received ${size} bytes, expected ${response.ContentLength}`);
    }
    await rename(partial, destPath);
    return { bytes: size, etag: unquoteEtag(response.ETag) };
  } catch (error) {
    // An unread body holds its socket until the pool runs dry (aws-sdk-js-v3 #6691).
    body?.destroy();
    await rm(partial, { force: true });
    throw s3ReadError(error, `downloading ${uri}`, signal);
  }
}

/** The body of a small text object (a manifest, a sidecar), or undefined when there is no such key. */
export async function readTextObject(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return (await response.Body?.transformToString()) ?? '';
  } catch (error) {
    if (isNotFound(error) && (error as { name?: string }).name !== 'NoSuchBucket') return undefined;
    throw s3ReadError(error, `reading ${formatS3Uri(bucket, key)}`, signal);
  }
}

/** Metadata of one object, or undefined when it does not exist (a HEAD cannot say whether the bucket does). */
export async function headObject(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<ObjectDetails | undefined> {
  try {
    const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
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
    throw s3ReadError(error, `reading metadata of ${formatS3Uri(bucket, key)}`, signal);
  }
}

export interface ListObjectsOptions {
  signal?: AbortSignal;
  /** Keys per ListObjectsV2 page (S3 caps it at 1000). */
  pageSize?: number;
}

/** Every object below `prefix`, following continuation tokens across pages. */
export async function listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  options: ListObjectsOptions = {},
): Promise<ObjectSummary[]> {
  const objects: ObjectSummary[] = [];
  let continuationToken: string | undefined;
  try {
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ContinuationToken: continuationToken,
          MaxKeys: options.pageSize,
        }),
        { abortSignal: options.signal },
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        objects.push({
          key: object.Key,
          etag: unquoteEtag(object.ETag),
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        });
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  } catch (error) {
    throw s3ReadError(error, `listing ${formatS3Uri(bucket, prefix)}`, options.signal);
  }
  return objects;
}

/** Missing bucket or key → INPUT_NOT_FOUND (the user named it); anything else → STORAGE_FAILED. */
function s3ReadError(error: unknown, action: string, signal: AbortSignal | undefined): VidpipeError {
  if (error instanceof VidpipeError) return error;
  if (signal?.aborted) return new VidpipeError('INTERRUPTED', `${action} was interrupted`, { cause: error });
  const name = (error as { name?: string } | undefined)?.name;
  if (name === 'NoSuchBucket') {
    return new VidpipeError('INPUT_NOT_FOUND', `${action} failed: the bucket does not exist`, {
      cause: error,
      hint: 'check the bucket name and the S3 endpoint (--s3-endpoint or VIDPIPE_S3_ENDPOINT)',
    });
  }
  if (isNotFound(error)) {
    return new VidpipeError('INPUT_NOT_FOUND', `${action} failed: no such object`, {
      cause: error,
      hint: 'check the key; S3 keys are case-sensitive',
    });
  }
  return new VidpipeError('STORAGE_FAILED', `${action} failed: ${describeS3Error(error)}`, {
    cause: error,
    hint: S3_HINT,
  });
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
