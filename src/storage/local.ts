/**
 * The ObjectStore of a local folder (or a mounted share a web server serves). Small files that
 * readers may be looking at (entry manifests, the package record) are written next to their
 * place and renamed over it, so a reader sees the old file or the new one, never a part. A
 * finished package folder on the same filesystem can be moved into place with one rename.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, copyFile, link, lstat, mkdir, open, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VidpipeError } from '../errors.js';
import type { ObjectStore } from './object-store.js';
import { assertSafeRelativeKey } from './uri.js';

/** Parallel file copies; enough to keep a disk busy without exhausting file descriptors. */
const COPY_CONCURRENCY = 4;
/** link() on a filesystem without hard links: FAT/exFAT (EPERM), SMB and some FUSE mounts (ENOTSUP, ENOSYS). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** A hidden name in the same folder: same filesystem (rename and link are atomic), and never a name vidpipe publishes. */
function temporaryBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.vidpipe-${randomBytes(4).toString('hex')}`);
}

export class LocalStore implements ObjectStore {
  readonly root: string;
  readonly concurrency = COPY_CONCURRENCY;
  readonly failureHint = 'check that the output folder is writable and its disk has free space';
  /** Set when this store made the root folder: only then may pruneRoot remove it. */
  private createdRoot = false;

  constructor(rootDir: string) {
    this.root = path.resolve(rootDir);
  }

  uriOf(key: string): string {
    assertSafeRelativeKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  async readText(key: string): Promise<string | undefined> {
    const file = this.uriOf(key);
    const info = await lstatOrUndefined(file);
    if (info === undefined || !info.isFile()) return undefined;
    return readFile(file, 'utf8');
  }

  async readBytes(key: string): Promise<Buffer | undefined> {
    const file = this.uriOf(key);
    const info = await lstatOrUndefined(file);
    if (info === undefined || !info.isFile()) return undefined;
    return readFile(file);
  }

  async exists(key: string): Promise<boolean> {
    return (await lstatOrUndefined(this.uriOf(key))) !== undefined;
  }

  async putFile(key: string, file: string, bytes: number, _headers: unknown, signal?: AbortSignal, onBytes?: (bytes: number) => void): Promise<void> {
    signal?.throwIfAborted();
    const target = this.uriOf(key);
    await this.makeFolder(path.dirname(target));
    // FICLONE makes a copy-on-write clone on btrfs/XFS and silently falls back to a real copy elsewhere.
    await copyFile(file, target, constants.COPYFILE_FICLONE);
    onBytes?.(bytes);
  }

  async putText(key: string, text: string, _headers: unknown, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const target = this.uriOf(key);
    await this.makeFolder(path.dirname(target));
    const temporary = temporaryBeside(target);
    try {
      await writeFile(temporary, text);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async createText(key: string, text: string, _headers: unknown, signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    const target = this.uriOf(key);
    await this.makeFolder(path.dirname(target));
    // link() is create-only and atomic: the name appears complete, or not at all when it exists.
    const temporary = temporaryBeside(target);
    try {
      await writeFile(temporary, text);
      await link(temporary, target);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST') return false;
      if (NO_HARD_LINKS.has(code)) return createExclusive(target, text);
      throw error;
    } finally {
      await rm(temporary, { force: true }).catch(() => undefined);
    }
  }

  async deleteKeys(keys: readonly string[]): Promise<void> {
    for (const key of keys) await rm(this.uriOf(key), { force: true });
  }

  async deleteBelow(prefix: string): Promise<void> {
    // uriOf refuses '' (the root itself): a package root is never removed wholesale.
    await rm(this.uriOf(prefix.replace(/\/+$/, '')), { recursive: true, force: true, maxRetries: 3 });
  }

  /** Across filesystems rename() fails with EXDEV and the caller copies instead. */
  async moveIn(localDir: string, key: string): Promise<boolean> {
    const target = this.uriOf(key);
    await this.makeFolder(path.dirname(target));
    try {
      await rename(path.resolve(localDir), target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EXDEV') return false;
      throw error;
    }
  }

  async moveOut(key: string, localDir: string): Promise<void> {
    await rename(this.uriOf(key), path.resolve(localDir));
  }

  /** Only a root this store created, and only while empty: a folder the user made stays. */
  async pruneRoot(): Promise<void> {
    if (this.createdRoot) await rmdir(this.root).catch(() => undefined);
  }

  private async makeFolder(folder: string): Promise<void> {
    // mkdir answers the first folder it had to create, if any.
    const first = await mkdir(folder, { recursive: true });
    if (first !== undefined && (first === this.root || this.root.startsWith(first + path.sep))) this.createdRoot = true;
  }

  /**
   * The package root, or the nearest folder above it that exists (where it will be created),
   * must be a folder this process may write to: a read-only --out fails here, before any work.
   */
  async assertWritable(): Promise<void> {
    let current = this.root;
    for (;;) {
      const info = await lstatOrUndefined(current, true);
      if (info !== undefined) {
        if (!info.isDirectory()) {
          throw new VidpipeError('USAGE', `cannot publish to ${this.root}: ${current} is not a folder`, { hint: 'choose another --out or --name' });
        }
        try {
          await access(current, constants.W_OK | constants.X_OK);
        } catch (error) {
          const reason = (error as NodeJS.ErrnoException).code === 'EROFS' ? 'is on a read-only filesystem' : 'is not writable';
          throw new VidpipeError('USAGE', `cannot publish to ${this.root}: ${current} ${reason}`, {
            cause: error,
            hint: 'choose an output folder you can write to (--out), or fix its permissions',
          });
        }
        return;
      }
      const parent = path.dirname(current);
      if (parent === current) return;
      current = parent;
    }
  }

  close(): void {}
}

/**
 * Create-only without link(): O_CREAT|O_EXCL, then the text. Still create-only; a reader may see
 * the file a moment before its text, which only filesystems without hard links come to.
 */
async function createExclusive(target: string, text: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(target, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(text);
  } catch (error) {
    await handle.close().catch(() => undefined);
    // A part must not stay behind as the record.
    await rm(target, { force: true }).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return true;
}

/** lstat (or stat, following symlinks, for folders on the way to the root) that answers undefined for a missing path. */
async function lstatOrUndefined(file: string, follow = false) {
  try {
    return follow ? await stat(file) : await lstat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}
