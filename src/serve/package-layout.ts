import { releaseReferencedBy } from '../storage/release.js';
import { PACKAGE_SUMMARY_FILE, parsePackageSummary, type PackageSummary } from '../core/package-summary.js';
import { DOWNLOAD_KEY } from '../core/stages/download.js';
import { folderSource, type PackageSource } from './package-source.js';

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

async function releaseOf(source: PackageSource): Promise<string> {
  for (const key of ['master.m3u8', 'manifest.mpd']) {
    const text = await source.readText(key).catch(() => undefined);
    const release = text === undefined ? undefined : releaseReferencedBy(key, text);
    if (release) return `${release}/`;
  }
  return '';
}

/** `urlBase`: where the package folder is on the server ('/' for a package served alone, '/talk/' in an output folder). */
export async function describePackage(root: string, urlBase = '/'): Promise<PackageLayout> {
  return describeSource(folderSource(root), urlBase);
}

/** The layout of a package wherever its files are (a folder, a published package read through storage). */
export async function describeSource(source: PackageSource, urlBase = '/'): Promise<PackageLayout> {
  const base = await releaseOf(source);
  const first = async (...keys: string[]) => {
    for (const key of keys) if (await source.has(key)) return `${urlBase}${key.split('/').map(encodeURIComponent).join('/')}`;
    return undefined;
  };
  const summaryText = await source.readText(`${base}${PACKAGE_SUMMARY_FILE}`).catch(() => undefined);
  const summary = summaryText === undefined ? undefined : parsePackageSummary(summaryText);
  return {
    title: summary?.name ?? source.name,
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
