/**
 * Where packages are on disk. A package folder holds its entry manifests at the top (an MPD,
 * a multivariant playlist, or both); `transcode --out out/` makes an output folder holding one
 * package folder per input (out/talk/, out/song/), which `validate` and `serve` accept too.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isMasterText } from './hls-playlist.js';

const isDirectory = async (path: string) => (await stat(path).catch(() => undefined))?.isDirectory() === true;

/** master.m3u8 first, then other playlists, then MPDs: the order a reader expects. */
function rank(name: string): number {
  if (name === 'master.m3u8') return 0;
  return /\.m3u8$/i.test(name) ? 1 : 2;
}

/** A folder's entry manifests: every MPD and multivariant playlist at its top (master.m3u8, master-ts.m3u8 …). */
export async function entryManifestsOf(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const found: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (/\.mpd$/i.test(name)) found.push(path);
    else if (/\.m3u8$/i.test(name) && isMasterText(await readFile(path, 'utf8').catch(() => ''))) found.push(path);
  }
  return found;
}

/** Entry manifests at its top, or at least the file names vidpipe gives them. */
export async function isPackageFolder(dir: string): Promise<boolean> {
  if (!(await isDirectory(dir))) return false;
  const names = await readdir(dir);
  return names.includes('master.m3u8') || names.includes('manifest.mpd') || (await entryManifestsOf(dir)).length > 0;
}

/**
 * The package folders directly inside `dir` when it is an output folder (not a package
 * itself), by name; empty otherwise.
 */
export async function packageFoldersIn(dir: string): Promise<{ name: string; path: string }[]> {
  if (!(await isDirectory(dir)) || (await isPackageFolder(dir))) return [];
  const packages: { name: string; path: string }[] = [];
  for (const name of (await readdir(dir)).sort((a, b) => a.localeCompare(b))) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (await isPackageFolder(path)) packages.push({ name, path });
  }
  return packages;
}
