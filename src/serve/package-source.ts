/**
 * Where the server reads a package's files from: a package source, one implementation per kind of
 * place. `vidpipe serve <folder>` reads a folder on this machine (folderSource); `vidpipe serve
 * --db` reads the published package a metadata record points to through its storage backend
 * (storeSource: a local folder or an S3 prefix, whichever the record names). The server, the
 * player page and the range handling hold a PackageSource and never ask which one.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ObjectStore } from '../storage/object-store.js';
import type { ByteRange } from './ranges.js';

/** One file of a package, ready to be sent. */
export interface ServedFile {
  size: number;
  modified?: Date;
  /** Its bytes `range.start`..`range.end` (inclusive). */
  read(range: ByteRange): Readable;
}

export interface PackageSource {
  /** What the player page is titled when the package has no vidpipe.json. */
  readonly name: string;
  /** The file at a '/'-separated key below the package (already checked safe); undefined when there is none. */
  file(key: string): Promise<ServedFile | undefined>;
  /** Whether a file is at a key, without reading it. */
  has(key: string): Promise<boolean>;
  /** A small text file (a manifest, vidpipe.json); undefined when there is none. */
  readText(key: string): Promise<string | undefined>;
}

/** A file on this machine: stat now, stream the asked-for part when sent. */
export async function localFile(file: string): Promise<ServedFile | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  return { size: info.size, modified: info.mtime, read: (range) => createReadStream(file, { start: range.start, end: range.end }) };
}

/** A package folder on this machine; keys are joined below it (callers resolve URL paths with resolveInside first). */
export function folderSource(dir: string): PackageSource {
  const at = (key: string) => path.join(dir, ...key.split('/'));
  return {
    name: path.basename(dir),
    file: (key) => localFile(at(key)),
    has: async (key) => (await localFile(at(key))) !== undefined,
    readText: async (key) => {
      const file = await localFile(at(key));
      if (!file) return undefined;
      const chunks: Buffer[] = [];
      if (file.size > 0) for await (const chunk of file.read({ start: 0, end: file.size - 1 })) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/**
 * A published package read through its storage backend's ObjectStore. An object is fetched whole
 * for each request (the store has no ranged read), and the asked-for bytes are sliced from it: Range
 * requests are answered, but each one costs the object's full download.
 */
export function storeSource(store: ObjectStore, name: string): PackageSource {
  return {
    name,
    file: async (key) => {
      const bytes = await store.readBytes(key);
      if (bytes === undefined) return undefined;
      return { size: bytes.length, read: (range) => Readable.from([bytes.subarray(range.start, range.end + 1)]) };
    },
    has: (key) => store.exists(key),
    readText: (key) => store.readText(key),
  };
}
