/**
 * HTTP headers every published file carries. Players and CDNs rely on them: Safari refuses HLS
 * playlists served as octet-stream, and caching rules decide whether a republished package is
 * seen within seconds (manifests) or whether segments are fetched once and kept (media).
 */
import path from 'node:path';
import { isManifestKey } from './storage.js';

export interface ObjectHeaders {
  contentType: string;
  cacheControl: string;
}

/** Manifests change when a package is republished; a short TTL keeps players current. */
export const MANIFEST_CACHE_CONTROL = 'public, max-age=10';
/** Segments, init segments and images never change under the same name within a package. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** Side files (JSON metadata, HTML pages, unknown files) may change on republish but are not polled like manifests. */
export const SIDE_FILE_CACHE_CONTROL = 'public, max-age=60';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.ts': 'video/mp2t',
  '.aac': 'audio/aac',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.vtt': 'text/vtt',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
};

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

const IMMUTABLE_EXTENSIONS = new Set(['.m4s', '.mp4', '.ts', '.aac', '.jpg', '.jpeg', '.png', '.webp', '.vtt']);

/** Audio renditions live under a top-level folder whose name starts with "audio" ("audio/aac-128k/init.mp4"). */
const AUDIO_FOLDER = /^audio[^/]*\//i;

export function contentTypeFor(key: string): string {
  const extension = extensionOf(key);
  // An audio-only init segment is an MP4 without video; audio/mp4 lets players and tools tell.
  if (extension === '.mp4' && AUDIO_FOLDER.test(key)) return 'audio/mp4';
  return CONTENT_TYPES[extension] ?? DEFAULT_CONTENT_TYPE;
}

export function cacheControlFor(key: string): string {
  if (isManifestKey(key)) return MANIFEST_CACHE_CONTROL;
  if (IMMUTABLE_EXTENSIONS.has(extensionOf(key))) return IMMUTABLE_CACHE_CONTROL;
  return SIDE_FILE_CACHE_CONTROL;
}

export function objectHeadersFor(key: string): ObjectHeaders {
  return { contentType: contentTypeFor(key), cacheControl: cacheControlFor(key) };
}

function extensionOf(key: string): string {
  return path.posix.extname(key).toLowerCase();
}
