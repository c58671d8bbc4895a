/**
 * Publishing to a local folder (or a mounted share served by a web server). With a release (what
 * the pipeline uses) the package goes into `<root>/<release>/` and the entry manifests switch to
 * it last, like on S3 (see release.ts); without one the package is assembled next to the
 * destination and swapped in with two renames. Either way a web server keeps serving the previous
 * complete package until the new one is complete, and a failure or Ctrl-C never leaves a
 * half-written destination behind.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VidpipeError } from '../core/errors.js';
import { contentTypeFor } from './content-types.js';
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
  releaseReferencedBy,
  supersededError,
} from './release.js';
import { isManifestKey, type PublishedFile, type PublishOptions, type Storage } from './storage.js';
import { assertSafeRelativeKey } from './uri.js';

export interface LocalStorageOptions {
  /**
   * 'move' (default): rename the work folder into place, which is instant on the same filesystem;
   * across filesystems it is copied and then removed, so either way the work folder is consumed.
   * 'copy': copy the files and leave the work folder as it was.
   */
  transfer?: 'move' | 'copy';
  /** Publish into `<root>/<release>/` and point the entry manifests at it (see release.ts). */
  release?: string;
}

/** Parallel file copies; enough to keep a disk busy without exhausting file descriptors. */
const COPY_CONCURRENCY = 4;

export class LocalStorage implements Storage {
  readonly root: string;
  readonly releaseRoot: string;
  private readonly transfer: 'move' | 'copy';
  private readonly release: string | undefined;

  constructor(rootDir: string, options: LocalStorageOptions = {}) {
    this.root = path.resolve(rootDir);
    this.transfer = options.transfer ?? 'move';
    this.release = options.release;
    if (this.release !== undefined) assertReleaseName(this.release);
    this.releaseRoot = this.release === undefined ? this.root : path.join(this.root, this.release);
  }

  uriFor(key: string): string {
    assertSafeRelativeKey(key);
    const base = this.release !== undefined && isEntryKey(key) ? this.root : this.releaseRoot;
    return path.join(base, ...key.split('/'));
  }

  async publishDirectory(localDir: string, options: PublishOptions = {}): Promise<PublishedFile[]> {
    const { signal } = options;
    try {
      signal?.throwIfAborted();
      const files = await listPackageFiles(localDir);
      await assertReplaceable(this.root);
      await mkdir(path.dirname(this.root), { recursive: true });
      if (this.release === undefined) await this.stageAndSwap(path.resolve(localDir), files, options);
      else await this.publishRelease(this.release, path.resolve(localDir), files, options);
      // Same order as S3Storage reports: media, then manifests with the root ones last.
      const { media, manifests } = inPublishOrder(files);
      return [...media, ...manifests].map((file) => this.publishedFile(file));
    } catch (error) {
      throw toLocalStorageError(error, this.root, signal);
    }
  }

  private async stageAndSwap(localDir: string, files: PackageFile[], options: PublishOptions): Promise<void> {
    const staging = siblingPath(this.root, 'staging');
    // Across filesystems rename() fails with EXDEV and the package is copied instead.
    const moved = this.transfer === 'move' && (await renameUnless('EXDEV', localDir, staging));
    try {
      if (moved) options.onProgress?.(sumBytes(files), sumBytes(files));
      else await copyPackage(files, staging, options);
      // The last moment a Ctrl-C is honoured: after the swap the new package is live.
      options.signal?.throwIfAborted();
      await swapInto(staging, this.root);
    } catch (error) {
      // The original failure is the one worth reporting, not a failed clean-up after it.
      await discardStaging(moved, staging, localDir).catch(() => undefined);
      throw error;
    }
    if (this.transfer === 'move' && !moved) await rm(localDir, { recursive: true, force: true });
  }

  /**
   * The release folder is a new name nothing points at, so it can be filled in place; the entry
   * manifests are then replaced one by one with write-and-rename (each is always whole).
   */
  private async publishRelease(release: string, localDir: string, files: PackageFile[], options: PublishOptions): Promise<void> {
    const target = this.releaseRoot;
    await mkdir(this.root, { recursive: true });
    const moved = this.transfer === 'move' && (await renameUnless('EXDEV', localDir, target));
    const entries = files.filter((file) => isEntryKey(file.key));
    let live = false;
    try {
      if (moved) options.onProgress?.(sumBytes(files), sumBytes(files));
      else await copyPackage(files, target, options);
      // The last moment a Ctrl-C is honoured: after this the new package goes live.
      options.signal?.throwIfAborted();
      const current = await currentRelease(this.root, entries);
      if (current !== undefined && compareReleases(current, release) > 0) throw supersededError(this.root, release, current);
      for (const file of entries) {
        const text = entryManifestFor(file.key, await readFile(path.join(target, file.key), 'utf8'), release);
        const temporary = path.join(this.root, `.${file.key}.vidpipe-${randomBytes(4).toString('hex')}`);
        await writeFile(temporary, text);
        live = true;
        await rename(temporary, path.join(this.root, file.key));
      }
    } catch (error) {
      if (!live) await discardStaging(moved, target, localDir).catch(() => undefined);
      throw error;
    }
    if (this.transfer === 'move' && !moved) await rm(localDir, { recursive: true, force: true });
    const entryKeys = new Set(entries.map((file) => file.key));
    // Clean-up after going live: a leftover wastes space but must not fail the publish.
    for (const name of await readdir(this.root).catch(() => [])) {
      if (!isSupersededName(name, release, entryKeys)) continue;
      await rm(path.join(this.root, name), { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
    }
  }

  private publishedFile(file: PackageFile): PublishedFile {
    return {
      key: file.key,
      uri: path.join(this.releaseRoot, ...file.key.split('/')),
      bytes: file.bytes,
      contentType: contentTypeFor(file.key),
    };
  }
}

async function currentRelease(root: string, entries: PackageFile[]): Promise<string | undefined> {
  for (const file of entries) {
    const text = await readFile(path.join(root, file.key), 'utf8').catch(() => undefined);
    const release = text === undefined ? undefined : releaseReferencedBy(file.key, text);
    if (release !== undefined) return release;
  }
  return undefined;
}

/**
 * The destination is deleted on replacement, so only something that looks like a package may be
 * replaced: a typo such as `--out ~` must not wipe a home folder.
 */
async function assertReplaceable(root: string): Promise<void> {
  const stat = await lstat(root).catch((error: unknown) => {
    if (isErrnoCode(error, 'ENOENT')) return undefined;
    throw error;
  });
  if (stat === undefined) return;
  if (!stat.isDirectory()) {
    throw new VidpipeError('USAGE', `output ${root} exists and is not a folder`, {
      hint: 'choose a new folder name for the package',
    });
  }
  const entries = await readdir(root);
  if (entries.length === 0 || entries.some((name) => isManifestKey(name))) return;
  throw new VidpipeError(
    'USAGE',
    `refusing to replace ${root}: it is not empty and has no .m3u8/.mpd at its top level, so it is not a vidpipe package`,
    { hint: 'choose a new or empty output folder; vidpipe replaces the whole folder' },
  );
}

async function copyPackage(files: PackageFile[], toDir: string, options: PublishOptions): Promise<void> {
  await createFolders(files, toDir);
  const totalBytes = sumBytes(files);
  let doneBytes = 0;
  await forEachLimit(files, COPY_CONCURRENCY, async (file) => {
    options.signal?.throwIfAborted();
    // FICLONE makes a copy-on-write clone on btrfs/XFS and silently falls back to a real copy elsewhere.
    await copyFile(file.absPath, path.join(toDir, ...file.key.split('/')), constants.COPYFILE_FICLONE);
    doneBytes += file.bytes;
    options.onProgress?.(doneBytes, totalBytes);
  });
}

/** A moved work folder is given back so the caller can retry without re-encoding; a copy is dropped. */
async function discardStaging(moved: boolean, staging: string, localDir: string): Promise<void> {
  if (moved) await rename(staging, localDir);
  else await rm(staging, { recursive: true, force: true });
}

async function createFolders(files: PackageFile[], toDir: string): Promise<void> {
  const folders = new Set(files.map((file) => path.join(toDir, path.posix.dirname(file.key))));
  for (const folder of folders) await mkdir(folder, { recursive: true });
}

/**
 * Two renames: the old package out of the way, the new one in. Between them the destination is
 * briefly missing (Node has no renameat2 RENAME_EXCHANGE), but it is never half-written; if the
 * second rename fails the old package is put back.
 */
async function swapInto(staging: string, root: string): Promise<void> {
  const old = siblingPath(root, 'old');
  const hadOld = await renameUnless('ENOENT', root, old);
  try {
    await rename(staging, root);
  } catch (error) {
    if (hadOld) await rename(old, root);
    throw error;
  }
  if (hadOld) {
    // The new package is live; a leftover "<root>.vidpipe-old-*" folder (e.g. a file held open
    // on Windows) wastes space but must not turn a successful publish into a failure.
    await rm(old, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  }
}

/** rename() that answers false instead of throwing when it fails with `tolerated` (EXDEV, ENOENT …). */
async function renameUnless(tolerated: string, from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (error) {
    if (isErrnoCode(error, tolerated)) return false;
    throw error;
  }
}

/** Same parent folder as the destination, hence the same filesystem, so rename() is atomic. */
function siblingPath(root: string, role: 'staging' | 'old'): string {
  return `${root}.vidpipe-${role}-${randomBytes(4).toString('hex')}`;
}

function toLocalStorageError(error: unknown, root: string, signal: AbortSignal | undefined): VidpipeError {
  if (error instanceof VidpipeError) return error;
  if (signal?.aborted) {
    return new VidpipeError('INTERRUPTED', `publishing to ${root} was interrupted; the previous package is unchanged`, {
      cause: error,
    });
  }
  return new VidpipeError('STORAGE_FAILED', `publishing to ${root} failed: ${describeFsError(error)}`, {
    cause: error,
    hint: 'check that the output folder is writable and its disk has free space',
  });
}

function isErrnoCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}
