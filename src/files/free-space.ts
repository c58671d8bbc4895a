/**
 * Free disk space, checked before a long write so a job that cannot finish fails in a second
 * with a clear message instead of after minutes of work with ENOSPC. On the ground floor: the
 * job's preflight, the Matroska copy of the source and HTTP downloads all ask it.
 */
import { stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { VidpipeError } from '../errors.js';

export interface SpaceNeed {
  /** A folder that will be written (it may not exist yet). */
  path: string;
  bytes: number;
  /** What the space is for, in the error message ("intermediate files"). */
  what: string;
}

export interface FileSystemSpace {
  /** Identifies the filesystem, so needs on one disk are added up. */
  device: number;
  freeBytes: number;
}

/** Free space for an unprivileged writer, on the filesystem holding `path` or its nearest existing parent. */
export async function fileSystemSpace(path: string): Promise<FileSystemSpace> {
  let current = resolve(path);
  for (;;) {
    try {
      const [info, fs] = await Promise.all([stat(current), statfs(current)]);
      return { device: info.dev, freeBytes: fs.bavail * fs.bsize };
    } catch (error) {
      const parent = dirname(current);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw error;
      current = parent;
    }
  }
}

function megabytes(bytes: number): string {
  return `${Math.ceil(bytes / (1024 * 1024))} MB`;
}

/**
 * Throws STORAGE_FAILED when a filesystem has less free space than the job will write to it.
 * `space` is injectable so the decision can be tested without filling a disk.
 */
export async function assertFreeSpace(
  needs: SpaceNeed[],
  space: (path: string) => Promise<FileSystemSpace> = fileSystemSpace,
): Promise<void> {
  const byDevice = new Map<number, { free: number; total: number; needs: SpaceNeed[] }>();
  for (const need of needs) {
    let fs: FileSystemSpace;
    try {
      fs = await space(need.path);
    } catch {
      continue; // An unreadable place fails with its own clear error when it is written.
    }
    const entry = byDevice.get(fs.device) ?? { free: fs.freeBytes, total: 0, needs: [] };
    // One disk holding both work and output: the publish is a rename, so only the work copies count.
    if (entry.needs.length > 0) {
      entry.needs.push({ ...need, bytes: 0 });
    } else {
      entry.total += need.bytes;
      entry.needs.push(need);
    }
    byDevice.set(fs.device, entry);
  }
  for (const { free, total, needs: onDisk } of byDevice.values()) {
    if (total <= free) continue;
    const places = onDisk.map((n) => `${n.path} (${n.what})`).join(' and ');
    throw new VidpipeError(
      'STORAGE_FAILED',
      `not enough free disk space: this job needs about ${megabytes(total)} on the disk of ${places}, and ${megabytes(free)} is free`,
      { hint: 'free some space, or point --work-dir (and --out) at a disk with more room; the estimate is the duration × the ladder\'s bit rates × 3 (chunks, assembled renditions, segments)' },
    );
  }
}
