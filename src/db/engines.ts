/**
 * Which metadata engine a target (`--db`, VIDPIPE_DB, the default path) names, by its scheme:
 * one registry entry per scheme, each loading its engine module (and the driver under it) only
 * when a target of that scheme is opened, the way storage loads S3. Callers get a MetadataStore
 * and never ask which engine they hold.
 *
 * Targets: a path (`vidpipe.db`, `/var/lib/vidpipe.db`, `C:\data\vidpipe.db`), `sqlite:<path>`,
 * or a `file:` URL: the SQLite engine; `postgres://` or `postgresql://`: the PostgreSQL engine
 * (./postgres/). A URL with another scheme goes to that scheme's engine,
 * or is refused (USAGE) when this vidpipe has none.
 */
import { fileURLToPath } from 'node:url';
import { VidpipeError } from '../errors.js';
import type { MetadataEngine, MetadataStore, MetadataStoreOptions, MetadataTarget } from './metadata-store.js';
import { redactedTarget } from './redact.js';

/** Engines by scheme. Adding one: its module under src/db/ (exporting its MetadataEngine under a name of its own) and one line here. */
const METADATA_ENGINES: Record<string, () => Promise<MetadataEngine>> = {
  sqlite: async () => (await import('./sqlite/engine.js')).engine,
  postgres: async () => (await import('./postgres/engine.js')).postgresEngine,
  postgresql: async () => (await import('./postgres/engine.js')).postgresEngine,
};

/**
 * Adds (or replaces) the engine of a scheme at run time: for tests and programs embedding
 * vidpipe. vidpipe's own engines are the lines of METADATA_ENGINES above.
 */
export function registerMetadataEngine(scheme: string, load: () => Promise<MetadataEngine>): void {
  METADATA_ENGINES[scheme.toLowerCase()] = load;
}

/** `scheme://…` or one of the schemes written without slashes; a bare `C:` drive letter is a path. */
const URL_SCHEME = /^([a-z][a-z0-9+.-]+):(\/\/)?/i;

/**
 * Where `target` points and which engine opens it, without loading any engine. A plain path, or
 * a name with a colon that is no URL (`my:db.sqlite`), stays a SQLite path as it always was.
 */
export function resolveMetadataTarget(target: string): MetadataTarget {
  const match = URL_SCHEME.exec(target);
  const scheme = match?.[1].toLowerCase();
  if (scheme === 'sqlite') return { scheme: 'sqlite', location: sqlitePath(target, target.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')) };
  if (scheme === 'file') return { scheme: 'sqlite', location: sqlitePath(target, fileUrlPath(target)) };
  if (scheme !== undefined && (match?.[2] !== undefined || scheme in METADATA_ENGINES)) {
    return { scheme, location: target };
  }
  return { scheme: 'sqlite', location: target };
}

/** Opens (creating and migrating where the engine does) the metadata database `target` names. */
export async function openMetadata(target: string, options?: MetadataStoreOptions): Promise<MetadataStore> {
  const resolved = resolveMetadataTarget(target);
  const load = METADATA_ENGINES[resolved.scheme];
  if (!load) throw unknownEngine(resolved.scheme);
  return (await load()).open(resolved, options);
}

/** Opens the metadata database, runs `body` with it and closes it again, also when `body` throws. */
export async function withMetadata<T>(target: string, body: (store: MetadataStore) => Promise<T> | T): Promise<T> {
  const store = await openMetadata(target);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/**
 * The target as it may be shown (messages, `doctor`, `list`): a URL's password is replaced by
 * `***`. A path is shown as it is.
 */
export function printableMetadataTarget(target: string): string {
  return resolveMetadataTarget(target).scheme === 'sqlite' ? target : redactedTarget(target);
}

function unknownEngine(scheme: string): VidpipeError {
  return new VidpipeError('USAGE', `--db ${scheme}://…: no metadata engine for the scheme "${scheme}:"`, {
    hint: `give a SQLite database file (a path, sqlite:PATH or file:///PATH)${Object.keys(METADATA_ENGINES).length > 1 ? ` or a URL of: ${Object.keys(METADATA_ENGINES).join(', ')}` : ''}`,
  });
}

function fileUrlPath(target: string): string {
  try {
    return fileURLToPath(target);
  } catch (error) {
    throw new VidpipeError('USAGE', `--db ${target}: not a usable file: URL (${(error as Error).message})`, {
      hint: 'write file:///absolute/path/vidpipe.db, or give the path itself',
    });
  }
}

function sqlitePath(target: string, file: string): string {
  if (file === '') throw new VidpipeError('USAGE', `--db ${target}: names no database file`, { hint: 'write sqlite:PATH, e.g. sqlite:./vidpipe.db' });
  return file;
}
