/**
 * Entry points the CLI uses: where to publish a package, and how to get an input file onto local
 * disk (ffmpeg reads local files; an s3:// input is downloaded first).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { VidpipeError } from '../core/errors.js';
import { LocalStore } from './local.js';
import type { ObjectStore } from './object-store.js';
import { createS3Client, downloadObject, S3Store, type S3Options } from './s3.js';
import { assertSafeRelativeKey, isS3Uri, joinKey, type Location, parseObjectUri, sanitiseName } from './uri.js';

export interface FetchedInput {
  localPath: string;
  /** Removes the downloaded copy; a no-op for inputs that were local already. */
  cleanup(): Promise<void>;
}

/** Where packages go (--out): one store per package, `<location>/<name>/`, sharing one S3 client. */
export interface Destination {
  readonly location: Location;
  storeFor(packageName: string): ObjectStore;
  close(): void;
}

export function openDestination(location: Location, s3Options: S3Options = {}): Destination {
  if (location.kind === 'local') {
    return { location, storeFor: (name) => (assertPackageName(name), new LocalStore(path.join(location.path, name))), close: () => undefined };
  }
  const client = createS3Client(s3Options);
  return {
    location,
    storeFor: (name) => (assertPackageName(name), new S3Store(client, location.bucket, joinKey(location.prefix, name))),
    close: () => client.destroy(),
  };
}

/** The store of a location itself (the queue's folder of intermediate files); close() releases its connections. */
export function openStore(location: Location, s3Options: S3Options = {}): ObjectStore {
  if (location.kind === 'local') return new LocalStore(location.path);
  return new S3Store(createS3Client(s3Options), location.bucket, location.prefix, { ownsClient: true });
}

/** One folder name: the package root must sit directly below the destination, never elsewhere. */
function assertPackageName(packageName: string): void {
  assertSafeRelativeKey(packageName);
  if (packageName.includes('/')) {
    throw new VidpipeError('USAGE', `package name "${packageName}" must not contain "/"`);
  }
}

/**
 * Makes an input available as a local file. Local paths are returned untouched; an s3:// object is
 * downloaded into its own folder below `tmpDir`, keeping its file name so messages and the
 * derived package name still read like the original.
 */
export async function fetchInput(
  uri: string,
  tmpDir: string,
  s3Options: S3Options = {},
  signal?: AbortSignal,
): Promise<FetchedInput> {
  if (!isS3Uri(uri)) return { localPath: uri, cleanup: async () => undefined };
  const { bucket, key } = parseObjectUri(uri);
  await mkdir(tmpDir, { recursive: true });
  const folder = await mkdtemp(path.join(tmpDir, 'input-'));
  const removeFolder = (): Promise<void> => rm(folder, { recursive: true, force: true });
  const client = createS3Client(s3Options);
  try {
    const localPath = path.join(folder, localFileNameFor(key));
    await downloadObject(client, bucket, key, localPath, signal);
    return { localPath, cleanup: removeFolder };
  } catch (error) {
    await removeFolder();
    throw error;
  } finally {
    client.destroy();
  }
}

/**
 * The key's last segment made safe for the local filesystem (S3 allows names a filesystem does
 * not, e.g. over 255 bytes); the extension is kept because ffmpeg uses it as a format hint.
 */
function localFileNameFor(key: string): string {
  const base = path.posix.basename(key);
  const extension = path.posix.extname(base);
  return sanitiseName(base) + (/^\.[A-Za-z0-9]{1,10}$/.test(extension) ? extension.toLowerCase() : '');
}
