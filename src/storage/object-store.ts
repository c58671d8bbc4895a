/**
 * The small seam below publishing: a place that holds files by key, either a local folder
 * (local.ts) or an S3 prefix (s3.ts). The publish protocol (publish.ts) is written once above
 * it, and the queue worker uploads its task files through it too.
 *
 * Keys are '/'-separated paths relative to the store's root ("jm…/video/h264-720p/init.mp4").
 */
import type { ObjectHeaders } from './content-types.js';
import { forEachLimit, type PackageFile } from './package-files.js';

export interface ObjectStore {
  /** Human-readable root, e.g. "/srv/vod/talk" or "s3://bucket/vod/talk/". */
  readonly root: string;
  /** Files sent at once by putFiles. */
  readonly concurrency: number;
  /** What a user can check when an operation fails (permissions, endpoint, credentials …). */
  readonly failureHint: string;
  /**
   * How long one operation may take before it is abandoned (S3); undefined when operations
   * cannot hang on a remote party (local files). Clean-ups after a failure get this long too.
   */
  readonly operationTimeoutMs?: number;
  /** Final location of a key: an absolute local path or an s3:// URI. */
  uriOf(key: string): string;
  /** The text of a file or object; undefined when there is none at that key (a folder is none). */
  readText(key: string, signal?: AbortSignal): Promise<string | undefined>;
  /** The bytes of a file or object, whole (`vidpipe serve --db` proxies a package through it); undefined when there is none at that key. */
  readBytes(key: string, signal?: AbortSignal): Promise<Buffer | undefined>;
  /** Whether anything is at this key: a file or object, or a folder / objects below `key/`. */
  exists(key: string, signal?: AbortSignal): Promise<boolean>;
  /** Copies a local file to `key`; `onBytes` is told about the bytes sent as they go. */
  putFile(key: string, file: string, bytes: number, headers: ObjectHeaders, signal?: AbortSignal, onBytes?: (bytes: number) => void): Promise<void>;
  /** Writes a whole small object: a reader sees the old content or the new, never a part (local: write, then rename). */
  putText(key: string, text: string, headers: ObjectHeaders, signal?: AbortSignal): Promise<void>;
  /**
   * putText only if nothing is at `key` yet: false when something is (another job wrote it first).
   * Local: a hard link, which fails on an existing name (an exclusive create where the filesystem has no hard links). S3: PutObject with If-None-Match: *;
   * a server that ignores the condition (older S3-compatible ones) makes it a plain putText.
   */
  createText(key: string, text: string, headers: ObjectHeaders, signal?: AbortSignal): Promise<boolean>;
  /** Removes files or objects; keys that do not exist are fine. */
  deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<void>;
  /** Removes everything below `prefix` (which ends with '/'). */
  deleteBelow(prefix: string, signal?: AbortSignal): Promise<void>;
  /**
   * Fast path of a local folder: moves a whole local folder to `key` with one rename. False
   * when it cannot (another filesystem); absent on stores that have no such thing.
   */
  moveIn?(localDir: string, key: string): Promise<boolean>;
  /** Gives a folder moved in by moveIn back to where it came from. */
  moveOut?(key: string, localDir: string): Promise<void>;
  /** Removes the root itself if it is an empty folder (after a failed first publish). */
  pruneRoot?(): Promise<void>;
  /** Fails with a USAGE error when the root can certainly not be written (read-only folder, a file in the way). */
  assertWritable(): Promise<void>;
  /** Releases connections. */
  close(): void;
}

export interface PutFilesOptions {
  signal?: AbortSignal;
  /** Called with the bytes sent so far across all files. */
  onBytes?: (bytes: number) => void;
  headersFor: (file: PackageFile) => ObjectHeaders;
  /** Key of each file in the store (default: its own key). */
  keyOf?: (file: PackageFile) => string;
  /** Files in flight at once (default: the store's). */
  concurrency?: number;
}

/**
 * Sends files to a store, several at once. The first failure stops the others at once (their
 * requests are aborted, so nothing keeps writing after this returns) and is the error thrown.
 */
export async function putFiles(store: ObjectStore, files: readonly PackageFile[], options: PutFilesOptions): Promise<void> {
  const siblings = new AbortController();
  const forward = (): void => siblings.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', forward, { once: true });
  try {
    options.signal?.throwIfAborted();
    await forEachLimit(files, options.concurrency ?? store.concurrency, async (file) => {
      siblings.signal.throwIfAborted();
      try {
        await store.putFile(options.keyOf?.(file) ?? file.key, file.absPath, file.bytes, options.headersFor(file), siblings.signal, options.onBytes);
      } catch (error) {
        siblings.abort(error);
        throw error;
      }
    });
  } catch (error) {
    // The caller's Ctrl-C wins over the errors it caused in the requests it aborted.
    options.signal?.throwIfAborted();
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', forward);
  }
}
