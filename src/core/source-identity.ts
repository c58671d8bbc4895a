/**
 * Whether a source stayed the version a job read. The job hashes the input once (its identity);
 * a file still being written, rewritten or replaced afterwards, or an s3:// object overwritten
 * meanwhile, would give a package of some mix of its versions, or publish an older version
 * over (or after) a newer one. So the job checks after the probe, before sending anything and
 * right before the package goes live that a local file still has the size, modification time
 * and inode that were hashed, and an object the ETag and size that were downloaded.
 *
 * A writer can pause between two writes for longer than a short job takes, so a local file
 * modified less than `quietMs` before the job would publish is watched until it has been
 * unchanged that long (at most `quietMs`): a recorder still writing shows itself meanwhile.
 *
 * A change is SOURCE_CHANGED (exit 1), not bad input: the same source, complete, will do.
 */
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { VidpipeError, toVidpipeError } from '../errors.js';
import type { StorageConfig } from '../storage/backend.js';
import { objectVersion } from '../storage/backends.js';

export interface SourceIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

/** The version of an s3:// input that was downloaded. */
export interface ObjectVersion {
  uri: string;
  etag: string;
  size: number;
}

/** What a job read, to check later: the local file it read in place, or the object it downloaded. */
export interface SourceVersion {
  path: string;
  file?: SourceIdentity;
  object?: ObjectVersion;
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

function changedError(what: string, change: string, hint: string): VidpipeError {
  return new VidpipeError('SOURCE_CHANGED', `${what} changed while it was being processed (${change}); nothing was published`, { hint });
}

/** Throws SOURCE_CHANGED (exit 1) when `path` is no longer the file `before` describes. */
export async function assertSourceUnchanged(path: string, before: SourceIdentity): Promise<void> {
  const now = await sourceIdentity(path);
  let change: string | undefined;
  if (!now) change = 'it was removed';
  else if (now.ino !== before.ino || now.dev !== before.dev) change = 'it was replaced by another file';
  else if (now.size !== before.size) change = `its size went from ${megabytes(before.size)} to ${megabytes(now.size)}`;
  else if (now.mtimeMs !== before.mtimeMs) change = 'it was rewritten';
  if (!change) return;
  throw changedError(path, change, 'if it is still being written, run vidpipe again once it is complete; if it was replaced, run it again for the new version');
}

/** Throws SOURCE_CHANGED when the object is gone or another version of it replaced the one downloaded. */
export async function assertObjectUnchanged(object: ObjectVersion, storage: StorageConfig | undefined, signal?: AbortSignal): Promise<void> {
  let now;
  try {
    now = await objectVersion(object.uri, storage ?? {}, signal);
  } catch (error) {
    const failure = toVidpipeError(error);
    if (failure.code === 'INTERRUPTED') throw failure;
    throw new VidpipeError('STORAGE_FAILED', `cannot check that ${object.uri} is still the version that was transcoded: ${failure.message}`, { cause: error, hint: failure.hint });
  }
  let change: string | undefined;
  if (!now) change = 'it was deleted';
  else if (now.etag !== object.etag || now.size !== object.size) change = `another version was uploaded: ETag ${object.etag} → ${now.etag}, ${megabytes(object.size)} → ${megabytes(now.size)}`;
  if (!change) return;
  throw changedError(object.uri, change, 'the newer version needs a job of its own (vidpipe watch starts one once the upload has settled)');
}

/**
 * Checks that the source is still the version the job read. With `quietMs`, a local file
 * modified less than that long ago is checked again until it has been unchanged that long.
 */
export async function assertSourceCurrent(source: SourceVersion, options: { storage?: StorageConfig; signal?: AbortSignal; quietMs?: number } = {}): Promise<void> {
  if (source.object) await assertObjectUnchanged(source.object, options.storage, options.signal);
  if (!source.file) return;
  await assertSourceUnchanged(source.path, source.file);
  // A modification time in the future (another machine's clock) waits no longer than a recent one.
  const quietUntil = Math.min(source.file.mtimeMs, Date.now()) + (options.quietMs ?? 0);
  while (Date.now() < quietUntil) {
    await sleep(Math.min(250, quietUntil - Date.now()), undefined, options.signal ? { signal: options.signal } : undefined);
    await assertSourceUnchanged(source.path, source.file);
  }
}
