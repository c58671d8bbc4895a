/**
 * The registry of storage backends: which backend owns a scheme, and the operations callers
 * use on a Location or a URI without knowing which backend they hold. A new backend is one file
 * (implementing StorageBackend, backend.ts) and one line in BUILT_IN below (or one
 * registerBackend call).
 */
import { VidpipeError } from '../errors.js';
import type { Location, ObjectVersionInfo, StorageBackend, StorageConfig, StorageConnection } from './backend.js';
import { fileBackend } from './file-backend.js';
import { httpBackend } from './http-backend.js';
import { s3Backend } from './s3-backend.js';
import { requireNonEmpty } from './uri.js';

const BUILT_IN: readonly StorageBackend[] = [fileBackend, s3Backend, httpBackend];

const byName = new Map<string, StorageBackend>();
const byScheme = new Map<string, StorageBackend>();

/** Adds a backend; its schemes must not be taken by another one. */
export function registerBackend(backend: StorageBackend): void {
  const taken = backend.schemes.find((scheme) => byScheme.has(scheme) && byScheme.get(scheme) !== backend);
  if (taken !== undefined || (byName.has(backend.name) && byName.get(backend.name) !== backend)) {
    throw new VidpipeError('INTERNAL', `storage backend ${backend.name}: ${taken !== undefined ? `scheme ${taken}://` : 'its name'} is taken`);
  }
  byName.set(backend.name, backend);
  for (const scheme of backend.schemes) byScheme.set(scheme.toLowerCase(), backend);
}

for (const backend of BUILT_IN) registerBackend(backend);

/** The scheme of `scheme://…`, lowercase; undefined for a plain path. */
export function schemeOf(text: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(text.trim())?.[1]?.toLowerCase();
}

/** The backend of a URI or path (plain paths are `file`); undefined for a scheme nobody owns. */
export function backendForUri(text: string): StorageBackend | undefined {
  const scheme = schemeOf(text);
  return scheme === undefined ? fileBackend : byScheme.get(scheme);
}

function backendOf(location: Location): StorageBackend {
  const backend = byName.get(location.backend);
  if (!backend) throw new VidpipeError('INTERNAL', `no storage backend named ${location.backend}`);
  return backend;
}

/** A backend's operation on folders; every backend that parses locations has them all. */
function folderOperation<K extends 'below' | 'uriOf' | 'holds'>(location: Location, operation: K): NonNullable<StorageBackend[K]> {
  const found = backendOf(location)[operation];
  if (!found) throw new VidpipeError('INTERNAL', `storage backend ${location.backend} has locations but no ${operation}`);
  return found as NonNullable<StorageBackend[K]>;
}

/**
 * Parses a destination or source folder: `s3://bucket/some/prefix` (its prefix empty or ending
 * with '/'), a plain path or file:// URL (an absolute local path), or any registered scheme's.
 */
export function parseLocation(text: string): Location {
  const trimmed = requireNonEmpty(text, 'location');
  const parse = backendForUri(trimmed)?.parseLocation;
  if (!parse) {
    throw new VidpipeError('USAGE', `unsupported location "${trimmed}"`, { hint: 'use a local path or an s3://bucket/prefix URI' });
  }
  return parse(trimmed);
}

/** The folder `name` ('/'-separated, safe) below a location. */
export function locationBelow(location: Location, name: string): Location {
  return folderOperation(location, 'below')(location, name);
}

/** The final URI of `key` below a location. */
export function uriBelow(location: Location, key: string): string {
  return folderOperation(location, 'uriOf')(location, key);
}

/** Whether `uri` names something below the location (false for another backend's URI). */
export function locationHolds(location: Location, uri: string): boolean {
  return backendForUri(uri) === backendOf(location) && folderOperation(location, 'holds')(location, uri);
}

/** The local folder a location is, where it is one. */
export function localFolderOf(location: Location): string | undefined {
  return backendOf(location).localFolder?.(location);
}

/** Whether a URI or path names a file on this machine (read in place), not an object elsewhere. */
export function isOnThisMachine(uri: string): boolean {
  return backendForUri(uri)?.localFile !== undefined;
}

/** Whether machines other than this one read and write what a URI or location names (see StorageBackend.shared). */
export function isShared(target: string | Location): boolean {
  return (typeof target === 'string' ? backendForUri(target) : backendOf(target))?.shared === true;
}

/** Opens a backend with its entry of the config. */
export function connect(backend: StorageBackend, config: StorageConfig = {}): Promise<StorageConnection> {
  return backend.connect(config[backend.name]);
}

/** Opens the backend of a location with its entry of the config. */
export function connectTo(location: Location, config: StorageConfig = {}): Promise<StorageConnection> {
  return connect(backendOf(location), config);
}

/** The backend of an input URI; a scheme nobody owns is refused in one line (exit 2). */
export function inputBackend(uri: string, supported: string): StorageBackend {
  const backend = backendForUri(uri);
  if (!backend) throw new VidpipeError('USAGE', `${schemeOf(uri)}:// inputs are not supported: give ${supported}`);
  return backend;
}

/** The current version of an object (undefined: gone, or the backend keeps no versions). */
export async function objectVersion(uri: string, config: StorageConfig, signal?: AbortSignal): Promise<ObjectVersionInfo | undefined> {
  const backend = backendForUri(uri);
  if (!backend) throw new VidpipeError('INTERNAL', `no storage backend for ${uri}`);
  const connection = await connect(backend, config);
  try {
    return await connection.versionOf?.(uri, signal);
  } finally {
    connection.close();
  }
}

/** What of this machine's settings a queue worker is sent (each backend says; credentials never). */
export function portableConfig(config: StorageConfig): StorageConfig {
  const sent: Record<string, unknown> = {};
  for (const backend of byName.values()) {
    if (backend.portableSettings && config[backend.name] !== undefined) sent[backend.name] = backend.portableSettings(config[backend.name]);
  }
  return sent;
}

/** A queue worker's settings: its own, completed by what the submitter sent. */
export async function workerConfig(own: StorageConfig, sent: StorageConfig = {}): Promise<StorageConfig> {
  const merged: Record<string, unknown> = { ...own };
  for (const backend of byName.values()) {
    if (backend.workerSettings) merged[backend.name] = await backend.workerSettings(own[backend.name], sent[backend.name]);
  }
  return merged;
}
