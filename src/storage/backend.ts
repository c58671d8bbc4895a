/**
 * What a storage backend is: one implementation per scheme (`file`, `s3`, `http`/`https`), chosen
 * by the registry (backends.ts) from the scheme of a location or object URI. Everything above
 * storage (publish, watch, queue workers, the job) holds a `Location` and asks the registry;
 * none of it tests which backend it holds. See "Adding a storage backend" in docs/architecture.md.
 */
import type { ObjectStore } from './object-store.js';

/**
 * A folder of a backend (`/srv/vod`, `s3://bucket/vod/`): opaque above storage/. Only the backend
 * that made it reads `parts` (a path; a bucket and a prefix …).
 */
export interface Location {
  /** Name of the backend that owns it (a key of the registry and of StorageConfig). */
  readonly backend: string;
  /** The location as messages show it and as it is stored: "/srv/vod" or "s3://bucket/vod/". */
  readonly text: string;
  readonly parts: Readonly<Record<string, string>>;
}

/**
 * Each backend's settings (S3 endpoint, region, timeout …) by backend name, resolved once where
 * the process starts (CLI command, worker start) and passed down whole.
 */
export type StorageConfig = Readonly<Record<string, unknown>>;

export interface DownloadOptions {
  signal?: AbortSignal;
  /** A line per download retry: what failed and what happens next. */
  onRetry?: (line: string) => void;
  /** Bytes received so far, and the total when it is known. */
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
  /** An attempt that makes no progress this long is dropped and retried (backends that stream without their own bound). */
  idleTimeoutMs?: number;
}

/** Which version of an object was downloaded (checked again before publishing); absent where a backend has no versions. */
export interface ObjectVersionInfo {
  etag: string;
  size: number;
}

/** A backend with its settings applied (one client, its connections); close() releases them. */
export interface StorageConnection {
  /** The store of a location of this backend; with `owning`, closing the store closes this connection too. */
  storeAt(location: Location, owning?: boolean): ObjectStore;
  /** Copies one object (a URI of this backend's schemes) to a local file, retrying as the backend does. */
  download(uri: string, localPath: string, options?: DownloadOptions): Promise<ObjectVersionInfo | undefined>;
  /** The current version of an object; undefined when it is gone. Absent where a backend has no versions. */
  versionOf?(uri: string, signal?: AbortSignal): Promise<ObjectVersionInfo | undefined>;
  close(): void;
}

export interface StorageBackend {
  /** Its name: `Location.backend` and its key in StorageConfig. */
  readonly name: string;
  /** URI schemes it owns, lowercase ("s3"; "file", which also owns plain paths). */
  readonly schemes: readonly string[];
  /**
   * Machines other than this one reach it, for reading and writing: `--queue` needs its inputs
   * and --out on such a backend (the workers' intermediate files go there too).
   */
  readonly shared: boolean;
  /**
   * Parses a folder of this backend (--out, a queue's work prefix). A backend that holds folders
   * has this and the three below; a read-only one (http) has none of them: its URIs are inputs only.
   */
  parseLocation?(text: string): Location;
  /** The folder `name` below a location (a package, its release folder); `name` is one safe key segment or more. */
  below?(location: Location, name: string): Location;
  /** The final URI of a key below a location, as published files report it. */
  uriOf?(location: Location, key: string): string;
  /** Whether a URI of this backend's schemes names something below the location. */
  holds?(location: Location, uri: string): boolean;
  /** The local folder a location is, where it is one (free-space checks); undefined elsewhere. */
  localFolder?(location: Location): string | undefined;
  /** The local file an input URI already is (read in place, nothing downloaded); undefined when it must be downloaded. */
  localFile?(uri: string): string | undefined;
  /** The name an input goes by (the last segment of its path or key). */
  inputName(uri: string): string;
  /** Applies this backend's settings (its entry of StorageConfig). Loads heavy SDKs here, not at import. */
  connect(settings: unknown): Promise<StorageConnection>;
  /** The part of this machine's settings that may be sent to a queue worker (no credentials); absent: nothing. */
  portableSettings?(settings: unknown): unknown;
  /** A queue worker's settings: its own, completed by what the submitter sent. */
  workerSettings?(own: unknown, sent: unknown): Promise<unknown>;
}
