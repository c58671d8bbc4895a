/**
 * Whether a local source stayed the same file while a job read it. The job hashes the input
 * once (its identity); a file still being written, rewritten or replaced afterwards would give
 * a package of some mix of its versions, so the job checks before encoding and before
 * publishing that size, modification time and inode are still the ones that were hashed.
 */
import { stat } from 'node:fs/promises';
import { VidpipeError } from '../errors.js';

export interface SourceIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

/** The identity of a regular file; undefined for anything else (the probe says what it is). */
export async function sourceIdentity(path: string): Promise<SourceIdentity | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  return { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino, dev: info.dev };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0)} MB`;
}

/** Throws INPUT_INVALID (exit 2) when `path` is no longer the file `before` describes. */
export async function assertSourceUnchanged(path: string, before: SourceIdentity): Promise<void> {
  const now = await sourceIdentity(path);
  let change: string | undefined;
  if (!now) change = 'it was removed';
  else if (now.ino !== before.ino || now.dev !== before.dev) change = 'it was replaced by another file';
  else if (now.size !== before.size) change = `its size went from ${megabytes(before.size)} to ${megabytes(now.size)}`;
  else if (now.mtimeMs !== before.mtimeMs) change = 'it was rewritten';
  if (!change) return;
  throw new VidpipeError('INPUT_INVALID', `${path} changed while it was being processed (${change}); nothing was published`, {
    hint: 'if it is still being written, transcode it once it is complete',
  });
}
