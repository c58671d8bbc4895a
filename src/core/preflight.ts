/**
 * Checks made after planning and before the first encode, so a job that cannot finish fails in
 * a second with a clear message instead of after minutes of work with ENOSPC from some ffmpeg.
 */
import { stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { VidpipeError } from '../errors.js';
import type { JobPlan } from './plan.js';

/**
 * The work folder holds three copies of the package at the end of a job: the encoded chunks,
 * each rendition assembled from them, and the packaged segments. Encoders hit their average
 * target only on average, so 10 % more, plus a fixed allowance for images and playlists.
 */
const WORK_COPIES = 3;
const RATE_MARGIN = 1.1;
const FIXED_BYTES = 16 * 1024 * 1024;

/** Bytes of one finished package: every rendition's target bit rate over the whole duration. */
export function estimatePackageBytes(plan: JobPlan): number {
  const videoKbps = (plan.video?.renditions ?? []).reduce((sum, r) => sum + r.bitrateKbps, 0);
  // MPEG-TS variants repeat the H.264 video (with the default audio) in a second set of segments.
  const tsKbps = plan.hlsSegments && plan.hlsSegments !== 'fmp4'
    ? (plan.video?.renditions ?? []).filter((r) => r.codec === 'h264').reduce((sum, r) => sum + r.bitrateKbps, 0)
    : 0;
  const audioKbps = plan.audio.reduce((sum, r) => sum + r.bitrateKbps, 0);
  return Math.ceil((plan.durationSeconds * (videoKbps + tsKbps + audioKbps) * 1000 * RATE_MARGIN) / 8);
}

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

/** The space a job needs: the work folder always, a local destination only on another disk (same disk: a rename). */
export function spaceNeeds(plan: JobPlan, workDir: string, localOutput: string | undefined): SpaceNeed[] {
  const packageBytes = estimatePackageBytes(plan);
  const needs: SpaceNeed[] = [{ path: workDir, bytes: packageBytes * WORK_COPIES + FIXED_BYTES, what: 'intermediate files (--work-dir)' }];
  if (localOutput) needs.push({ path: localOutput, bytes: packageBytes + FIXED_BYTES, what: 'the package (--out)' });
  return needs;
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
