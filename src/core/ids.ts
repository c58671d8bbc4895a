import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** SHA-256 of a file, streamed (never the whole file in memory) in 1 MiB reads, not the stream default's 64 KiB. */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A video is identified by its content, so the same file transcoded twice is one video with two jobs. */
export function videoIdFromSha256(sha256: string): string {
  return `v${sha256.slice(0, 12)}`;
}

/** Job ids sort by creation time: base-36 milliseconds, then randomness. */
export function newJobId(now = Date.now()): string {
  return `j${now.toString(36)}${randomBytes(4).toString('hex')}`;
}

/** SHA-256 of every file below `root`, keyed by its '/'-separated relative path. */
export async function hashTree(root: string, signal?: AbortSignal): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    hashes.set(relative(root, path).split(sep).join('/'), await sha256File(path, signal));
  }
  return hashes;
}
