/**
 * Entry points the CLI uses: where to publish a package, and how to get an input file onto local
 * disk (ffmpeg reads local files; s3:// and http(s):// inputs are downloaded first).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VidpipeError } from '../errors.js';
import { LocalStore } from './local.js';
import type { ObjectStore } from './object-store.js';
// s3.js (and the AWS SDK under it) is loaded when an s3:// location is used: a local run never needs it.
import type { S3Options } from './s3.js';
import { downloadHttp, isHttpUrl } from './http.js';
import { assertSafeRelativeKey, isS3Uri, joinKey, type Location, parseObjectUri, sanitiseName } from './uri.js';

export interface FetchedInput {
  localPath: string;
  /** The input itself (a local path or file:// URL), not a download: it may still change while it is read. */
  inPlace: boolean;
  /** For an s3:// input, the version downloaded (checked again before publishing). */
  object?: { etag: string; size: number };
  /** Removes the downloaded copy; a no-op for inputs that were local already. */
  cleanup(): Promise<void>;
}

/** Where packages go (--out): one store per package, `<location>/<name>/`, sharing one S3 client. */
export interface Destination {
  readonly location: Location;
  storeFor(packageName: string): ObjectStore;
  close(): void;
}

export async function openDestination(location: Location, s3Options: S3Options = {}): Promise<Destination> {
  if (location.kind === 'local') {
    return { location, storeFor: (name) => (assertPackageName(name), new LocalStore(path.join(location.path, name))), close: () => undefined };
  }
  const { createS3Client, S3Store } = await import('./s3.js');
  const client = createS3Client(s3Options);
  return {
    location,
    storeFor: (name) => (assertPackageName(name), new S3Store(client, location.bucket, joinKey(location.prefix, name))),
    close: () => client.destroy(),
  };
}

/** The store of a location itself (the queue's folder of intermediate files); close() releases its connections. */
export async function openStore(location: Location, s3Options: S3Options = {}): Promise<ObjectStore> {
  if (location.kind === 'local') return new LocalStore(location.path);
  const { createS3Client, S3Store } = await import('./s3.js');
  return new S3Store(createS3Client(s3Options), location.bucket, location.prefix, { ownsClient: true });
}

/** One folder name: the package root must sit directly below the destination, never elsewhere. */
function assertPackageName(packageName: string): void {
  assertSafeRelativeKey(packageName);
  if (packageName.includes('/')) {
    throw new VidpipeError('USAGE', `package name "${packageName}" must not contain "/"`);
  }
}

export interface FetchInputOptions {
  signal?: AbortSignal;
  /** Download progress: a fraction when the size is known, and seconds left at the current rate. */
  onProgress?: (fraction: number | undefined, etaSeconds: number | undefined) => void;
  /** An http(s) download attempt that makes no progress this long is dropped and retried (default DEFAULT_HTTP_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /** A line per download retry: what failed and what happens next. */
  onRetry?: (line: string) => void;
}

/** Schemes vidpipe reads, for the message about the others. */
const SUPPORTED_INPUTS = 'a local path, file://, http(s):// or s3:// URL';

/**
 * The name an input goes by (its package folder, a download's file name): the last segment of
 * a path, an S3 key or a URL's path (decoded, without query).
 */
export function inputBaseName(input: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input) && !isS3Uri(input)) {
    try {
      const segment = new URL(input).pathname.split('/').filter(Boolean).pop();
      return segment ? decodeURIComponent(segment) : 'input';
    } catch {
      // Not a URL after all: fall through to the path reading.
    }
  }
  return path.posix.basename(input) || 'input';
}

/**
 * Makes an input available as a local file. Local paths (and file:// URLs) are returned as
 * paths; an s3:// object or an http(s):// URL is downloaded into its own folder below `tmpDir`,
 * keeping its file name so messages and the derived package name still read like the original.
 * Other schemes are refused in one line (exit 2).
 */
export async function fetchInput(
  uri: string,
  tmpDir: string,
  s3Options: S3Options = {},
  signalOrOptions?: AbortSignal | FetchInputOptions,
): Promise<FetchedInput> {
  const options: FetchInputOptions = signalOrOptions instanceof AbortSignal ? { signal: signalOrOptions } : (signalOrOptions ?? {});
  const { signal } = options;
  const local = (localPath: string): FetchedInput => ({ localPath, inPlace: true, cleanup: async () => undefined });
  if (/^file:\/\//i.test(uri)) {
    try {
      return local(fileURLToPath(uri));
    } catch (error) {
      throw new VidpipeError('USAGE', `${uri}: not a local file URL (${(error as Error).message})`);
    }
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1];
  if (scheme && !isS3Uri(uri) && !isHttpUrl(uri)) {
    throw new VidpipeError('USAGE', `${scheme}:// inputs are not supported: give ${SUPPORTED_INPUTS}`);
  }
  if (!scheme) return local(uri);
  await mkdir(tmpDir, { recursive: true });
  const folder = await mkdtemp(path.join(tmpDir, 'input-'));
  const removeFolder = (): Promise<void> => rm(folder, { recursive: true, force: true });
  const localPath = path.join(folder, localFileNameFor(inputBaseName(uri)));
  if (isHttpUrl(uri)) {
    const started = Date.now();
    try {
      await downloadHttp(uri, localPath, {
        signal,
        idleTimeoutMs: options.idleTimeoutMs,
        onRetry: options.onRetry,
        onProgress: (received, total) => {
          const rate = received / Math.max(0.001, (Date.now() - started) / 1000);
          options.onProgress?.(total ? received / total : undefined, total ? (total - received) / rate : undefined);
        },
      });
      return { localPath, inPlace: false, cleanup: removeFolder };
    } catch (error) {
      await removeFolder();
      throw error;
    }
  }
  const { bucket, key } = parseObjectUri(uri);
  const { createS3Client, downloadObject } = await import('./s3.js');
  const client = createS3Client(s3Options);
  try {
    const started = Date.now();
    const { etag, bytes } = await downloadObject(client, bucket, key, localPath, {
      signal,
      onRetry: options.onRetry,
      onProgress: (received, total) => {
        const rate = received / Math.max(0.001, (Date.now() - started) / 1000);
        options.onProgress?.(total ? received / total : undefined, total ? (total - received) / rate : undefined);
      },
    });
    return { localPath, inPlace: false, object: { etag, size: bytes }, cleanup: removeFolder };
  } catch (error) {
    await removeFolder();
    throw error;
  } finally {
    client.destroy();
  }
}

/**
 * A file name made safe for the local filesystem (S3 and URLs allow names a filesystem does
 * not, e.g. over 255 bytes); the extension is kept because ffmpeg uses it as a format hint.
 */
function localFileNameFor(base: string): string {
  const extension = path.posix.extname(base);
  return sanitiseName(base) + (/^\.[A-Za-z0-9]{1,10}$/.test(extension) ? extension.toLowerCase() : '');
}
