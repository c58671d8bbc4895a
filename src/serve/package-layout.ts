import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { releaseReferencedBy } from '../storage/release.js';
import { readPackageSummary, type PackageSummary } from '../core/package-summary.js';
import { DOWNLOAD_KEY } from '../core/stages/download.js';

/**
 * What the player page needs to know about a package folder, as URL paths from the server
 * root. Entry manifests may sit at the top with everything else in a per-job release folder
 * (`<root>/<jobId>/…`, see src/storage/release.ts); side files are looked up there.
 */
export interface PackageLayout {
  title: string;
  /** Where the package folder is on the server, ending in '/'. */
  base: string;
  hls?: string;
  dash?: string;
  poster?: string;
  /** The small poster, for lists. */
  thumbnail?: string;
  storyboard?: string;
  /** download.mp4 (`--download`). */
  download?: string;
  summary?: PackageSummary;
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() === true;
}

async function releaseOf(root: string): Promise<string> {
  for (const key of ['master.m3u8', 'manifest.mpd']) {
    const text = await readFile(path.join(root, key), 'utf8').catch(() => undefined);
    const release = text === undefined ? undefined : releaseReferencedBy(key, text);
    if (release) return `${release}/`;
  }
  return '';
}

/** `urlBase`: where the package folder is on the server ('/' for a package served alone, '/talk/' in an output folder). */
export async function describePackage(root: string, urlBase = '/'): Promise<PackageLayout> {
  const base = await releaseOf(root);
  const first = async (...keys: string[]) => {
    for (const key of keys) if (await isFile(path.join(root, key))) return `${urlBase}${key.split('/').map(encodeURIComponent).join('/')}`;
    return undefined;
  };
  const summary = await readPackageSummary(path.join(root, base));
  return {
    title: summary?.name ?? path.basename(root),
    base: urlBase,
    hls: await first('master.m3u8'),
    dash: await first('manifest.mpd'),
    poster: await first(`${base}poster.jpg`, `${base}cover.jpg`),
    thumbnail: await first(`${base}poster-small.jpg`, `${base}poster.jpg`, `${base}cover.jpg`),
    storyboard: await first(`${base}storyboard/storyboard.vtt`),
    download: await first(`${base}${DOWNLOAD_KEY}`),
    summary,
  };
}
