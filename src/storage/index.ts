/**
 * Entry points the CLI uses: where to publish a package, and how to get an input file onto local
 * disk (ffmpeg reads local files; s3:// and http(s):// inputs are downloaded first).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { VidpipeError } from '../errors.js';
import type { Location, ObjectVersionInfo, StorageConfig } from './backend.js';
import { backendForUri, connectTo, connect, inputBackend, locationBelow } from './backends.js';
import type { ObjectStore } from './object-store.js';
import { assertSafeRelativeKey, sanitiseName, urlBaseName } from './uri.js';

export type { Location, StorageConfig } from './backend.js';
export { parseLocation } from './backends.js';

export interface FetchedInput {
  localPath: string;
  /** The input itself (a local path or file:// URL), not a download: it may still change while it is read. */
  inPlace: boolean;
  /** For an object with versions (s3://), the version downloaded (checked again before publishing). */
  object?: ObjectVersionInfo;
  /** Removes the downloaded copy; a no-op for inputs that were local already. */
  cleanup(): Promise<void>;
}

/** Where packages go (--out): one store per package, `<location>/<name>/`, sharing one connection (an S3 client). */
export interface Destination {
  readonly location: Location;
  storeFor(packageName: string): ObjectStore;
  close(): void;
}

export async function openDestination(location: Location, config: StorageConfig = {}): Promise<Destination> {
  const connection = await connectTo(location, config);
  return {
    location,
    storeFor: (name) => (assertPackageName(name), connection.storeAt(locationBelow(location, name))),
    close: () => connection.close(),
  };
}

/** The store of a location itself (the queue's folder of intermediate files); close() releases its connections. */
export async function openStore(location: Location, config: StorageConfig = {}): Promise<ObjectStore> {
  return (await connectTo(location, config)).storeAt(location, true);
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
 * a path, an object key or a URL's path (decoded, without query).
 */
export function inputBaseName(input: string): string {
  return backendForUri(input)?.inputName(input) ?? urlBaseName(input);
}

/**
 * Makes an input available as a local file. Local paths (and file:// URLs) are returned as
 * paths; an object of another backend (s3://, http(s)://) is downloaded into its own folder
 * below `tmpDir`, keeping its file name so messages and the derived package name still read like
 * the original. Schemes no backend owns are refused in one line (exit 2).
 */
export async function fetchInput(
  uri: string,
  tmpDir: string,
  config: StorageConfig = {},
  signalOrOptions?: AbortSignal | FetchInputOptions,
): Promise<FetchedInput> {
  const options: FetchInputOptions = signalOrOptions instanceof AbortSignal ? { signal: signalOrOptions } : (signalOrOptions ?? {});
  const backend = inputBackend(uri, SUPPORTED_INPUTS);
  const inPlace = backend.localFile?.(uri);
  if (inPlace !== undefined) return { localPath: inPlace, inPlace: true, cleanup: async () => undefined };
  await mkdir(tmpDir, { recursive: true });
  const folder = await mkdtemp(path.join(tmpDir, 'input-'));
  const removeFolder = (): Promise<void> => rm(folder, { recursive: true, force: true });
  const localPath = path.join(folder, localFileNameFor(inputBaseName(uri)));
  let connection;
  try {
    connection = await connect(backend, config);
    const started = Date.now();
    const version = await connection.download(uri, localPath, {
      signal: options.signal,
      idleTimeoutMs: options.idleTimeoutMs,
      onRetry: options.onRetry,
      onProgress: (received, total) => {
        const rate = received / Math.max(0.001, (Date.now() - started) / 1000);
        options.onProgress?.(total ? received / total : undefined, total ? (total - received) / rate : undefined);
      },
    });
    return { localPath, inPlace: false, ...(version ? { object: version } : {}), cleanup: removeFolder };
  } catch (error) {
    await removeFolder();
    throw error;
  } finally {
    connection?.close();
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
