/**
 * What both storages need from a finished package folder: its files with their keys, the order
 * to publish them in, and a small worker pool.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { VidpipeError } from '../errors.js';
import { isManifestKey } from './storage.js';
import { assertSafeRelativeKey } from './uri.js';

export interface PackageFile {
  /** Path relative to the package root, with '/'. */
  key: string;
  absPath: string;
  bytes: number;
}

/**
 * Lists every regular file below `localDir`, sorted by key. Symlinks and special files are refused:
 * vidpipe never writes them, so one in a package means something else wrote into the work folder.
 */
export async function listPackageFiles(localDir: string): Promise<PackageFile[]> {
  const root = path.resolve(localDir);
  const rootStat = await lstat(root).catch((error: unknown) => {
    throw new VidpipeError('STORAGE_FAILED', `package folder ${root} cannot be read: ${describeFsError(error)}`, {
      cause: error,
    });
  });
  if (!rootStat.isDirectory()) {
    throw new VidpipeError('STORAGE_FAILED', `package folder ${root} is not a folder`);
  }
  const files: PackageFile[] = [];
  await collectFiles(root, '', files);
  if (files.length === 0) {
    // Publishing nothing would replace a good package with an empty one.
    throw new VidpipeError('STORAGE_FAILED', `package folder ${root} is empty; nothing to publish`);
  }
  return files.sort((a, b) => compareKeys(a.key, b.key));
}

async function collectFiles(dir: string, keyPrefix: string, into: PackageFile[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const absPath = path.join(dir, entry.name);
    const key = keyPrefix + entry.name;
    if (entry.isDirectory()) {
      await collectFiles(absPath, `${key}/`, into);
    } else if (entry.isFile()) {
      assertSafeRelativeKey(key);
      into.push({ key, absPath, bytes: (await lstat(absPath)).size });
    } else {
      throw new VidpipeError('STORAGE_FAILED', `${absPath} is not a regular file; refusing to publish it`);
    }
  }
}

/**
 * Media first, then manifests; among manifests the deepest first, so a master playlist or MPD
 * at the package root is the very last file and never points at a variant playlist that is
 * not there yet.
 */
export function inPublishOrder(files: readonly PackageFile[]): { media: PackageFile[]; manifests: PackageFile[] } {
  const media = files.filter((file) => !isManifestKey(file.key));
  const manifests = files
    .filter((file) => isManifestKey(file.key))
    .sort((a, b) => depthOf(b.key) - depthOf(a.key) || compareKeys(a.key, b.key));
  return { media, manifests };
}

export function sumBytes(files: readonly PackageFile[]): number {
  return files.reduce((total, file) => total + file.bytes, 0);
}

/**
 * Runs `worker` over `items` with at most `limit` in flight. After the first failure no new item
 * starts; the ones in flight are awaited (so nothing keeps writing after we return) and the first
 * error is rethrown.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  worker: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let firstError: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (firstError === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await worker(item);
      } catch (error) {
        firstError ??= { error };
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane);
  await Promise.all(lanes);
  if (firstError !== undefined) throw firstError.error;
}

export function describeFsError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

function depthOf(key: string): number {
  return key.split('/').length;
}

/** Plain code-unit order: stable across locales, unlike localeCompare. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
