/**
 * Entry points the CLI uses: where to publish a package, and how to get an input file onto local
 * disk (ffmpeg reads local files; an s3:// input is downloaded first).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { VidpipeError } from '../core/errors.js';
import { LocalStorage, type LocalStorageOptions } from './local.js';
import { createS3Client, downloadObject, S3Storage, type S3Options } from './s3.js';
import type { Storage } from './storage.js';
import { assertSafeRelativeKey, isS3Uri, joinKey, type Location, parseObjectUri, sanitiseName } from './uri.js';

export interface FetchedInput {
  localPath: string;
  /** Removes the downloaded copy; a no-op for inputs that were local already. */
  cleanup(): Promise<void>;
}

/**
 * The Storage for package `packageName` below a parsed destination (see parseLocation): the
 * package root is `<location>/<packageName>/`, so publishing one title never replaces a sibling.
 * With `options.release` (the job id) files go to `<root>/<release>/` and the entry manifests
 * at the root are switched over last (see release.ts), on S3 and locally alike.
 */
export function openStorage(
  location: Location,
  packageName: string,
  s3Options: S3Options = {},
  options?: LocalStorageOptions,
): Storage {
  assertPackageName(packageName);
  if (location.kind === 'local') return new LocalStorage(path.join(location.path, packageName), options);
  return new S3Storage({
    client: createS3Client(s3Options),
    bucket: location.bucket,
    prefix: joinKey(location.prefix, packageName),
    release: options?.release,
  });
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
