/** Publishing small fake packages through the real protocol (src/storage/publish.ts) in tests. */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { newJobId } from '../../src/core/ids.js';
import { RECORD_KEY, type VideoIdentity } from '../../src/storage/package-record.js';
import { publishRelease, type PublishOptions, type PublishedRelease } from '../../src/storage/publish.js';
import type { S3Options } from '../../src/storage/s3.js';
import { parseLocation, type Location } from '../../src/storage/index.js';

export type Package = Record<string, string | Buffer>;

export const VIDEO_A: VideoIdentity = { id: 'va1a1a1a1a1a1', sha256: 'a1'.repeat(32) };
export const VIDEO_B: VideoIdentity = { id: 'vb2b2b2b2b2b2', sha256: 'b2'.repeat(32) };

/** A small package whose entry manifests are real enough to be rewritten into a release folder. */
export const SMALL_PACKAGE: Package = {
  'master.m3u8': '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nvideo/h264-720p/index.m3u8\n',
  'manifest.mpd': '<?xml version="1.0"?>\n<MPD type="static">\n  <Period/>\n</MPD>\n',
  'video/h264-720p/index.m3u8': '#EXTM3U\nseg_00001.m4s\n',
  'video/h264-720p/init.mp4': 'video-init',
  'video/h264-720p/seg_00001.m4s': 'video-seg-1',
  'video/h264-720p/seg_00002.m4s': 'video-seg-2',
  'audio/aac-128k/index.m3u8': '#EXTM3U\nseg_00001.m4s\n',
  'audio/aac-128k/init.mp4': 'audio-init',
  'audio/aac-128k/seg_00001.m4s': 'audio-seg-1',
  'poster.jpg': 'jpeg',
  'storyboard/storyboard.vtt': 'WEBVTT\n',
  'storyboard/sprite.png': 'png',
};

let releases = 0;
/** Job ids that sort in the order they are made. */
export function nextRelease(): string {
  return newJobId(Date.now() + releases++);
}

export async function writePackage(dir: string, files: Package): Promise<string> {
  for (const [key, content] of Object.entries(files)) {
    const file = path.join(dir, ...key.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}

/** Every file below `dir` as key → content, to compare whole trees. */
export async function readTree(dir: string): Promise<Record<string, string>> {
  const tree: Record<string, string> = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    tree[path.relative(dir, file).split(path.sep).join('/')] = await readFile(file, 'utf8');
  }
  return tree;
}

export function versioned(files: Package, version: string): Package {
  return Object.fromEntries(Object.entries(files).map(([key, content]) => [key, key.endsWith('.mpd') || key === 'master.m3u8' ? content : `${content.toString()}#${version}`]));
}

export interface PublishToOptions extends PublishOptions {
  video?: VideoIdentity;
  given?: boolean;
  release?: string;
  s3?: S3Options;
}

/** Publishes `dir` as package `name` below `out` (a folder or s3:// URI). */
export function publishTo(out: string | Location, name: string, dir: string, options: PublishToOptions = {}): Promise<PublishedRelease> {
  const { video = VIDEO_A, given = false, release = nextRelease(), s3, ...rest } = options;
  const location = typeof out === 'string' ? parseLocation(out) : out;
  return publishRelease({ location, request: { name, given, video }, release, storage: { s3 } }, dir, rest);
}

/** readTree with the package record's timestamp left out (it changes on every write of the record). */
export async function packageTree(root: string): Promise<Record<string, string>> {
  const tree = await readTree(root);
  const record = tree[RECORD_KEY];
  if (record !== undefined) tree[RECORD_KEY] = JSON.stringify({ ...JSON.parse(record), updatedAt: undefined });
  return tree;
}
