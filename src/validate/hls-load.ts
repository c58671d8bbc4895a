/**
 * Loads an HLS package for checking: the multivariant playlist, every media playlist it
 * references, which referenced files exist, and measurements of the segments. Nothing here
 * throws for a problem in the package; problems are recorded for the checks to report.
 */
import { isMasterText, parseMaster, parseMedia, type MasterPlaylist, type MediaPlaylist } from './hls-playlist.js';
import { measureMediaPlaylist, sniffFormat, type MeasuredMedia, type SegmentFormat, type Tools, type Unmeasured } from './tracks.js';
import type { PackageReader } from './source.js';

export type PlaylistRole = 'variant' | 'iframe' | 'audio' | 'subtitles' | 'media';

export interface LoadedPlaylist {
  ref: string;
  name: string;
  role: PlaylistRole;
  text?: string;
  playlist?: MediaPlaylist;
  format?: SegmentFormat;
  measured?: MeasuredMedia | Unmeasured;
}

export interface HlsPackage {
  reader: PackageReader;
  ref: string;
  name: string;
  text: string;
  /** Absent when the target is a media playlist on its own. */
  master?: MasterPlaylist;
  playlists: Map<string, LoadedPlaylist>;
  /** "file (referenced by playlist)" for every URI that does not resolve. */
  missing: string[];
  /** How many URIs were followed. */
  uriCount: number;
}

export function isMeasured(value: MeasuredMedia | Unmeasured | undefined): value is MeasuredMedia {
  return value !== undefined && !('unmeasured' in value);
}

function roleOfMedia(type: string | undefined): PlaylistRole {
  if (type === 'AUDIO') return 'audio';
  if (type === 'SUBTITLES') return 'subtitles';
  return 'variant';
}

export async function loadHls(reader: PackageReader, ref: string, tools: Tools): Promise<HlsPackage> {
  const text = await reader.readText(ref);
  const pkg: HlsPackage = { reader, ref, name: reader.display(ref), text, playlists: new Map(), missing: [], uriCount: 0 };
  const wanted: { uri: string; role: PlaylistRole }[] = [];
  if (isMasterText(text)) {
    pkg.master = parseMaster(text);
    for (const stream of pkg.master.streams) if (stream.uri) wanted.push({ uri: stream.uri, role: 'variant' });
    for (const stream of pkg.master.iFrameStreams) if (stream.uri) wanted.push({ uri: stream.uri, role: 'iframe' });
    for (const media of pkg.master.media) if (media.uri) wanted.push({ uri: media.uri, role: roleOfMedia(media.attributes.TYPE) });
  } else {
    pkg.playlists.set(ref, { ref, name: pkg.name, role: 'media', text, playlist: parseMedia(text) });
  }
  for (const { uri, role } of wanted) {
    const playlistRef = reader.resolve(ref, uri);
    if (pkg.playlists.has(playlistRef)) continue;
    pkg.uriCount++;
    const loaded: LoadedPlaylist = { ref: playlistRef, name: reader.display(playlistRef), role };
    if (await reader.exists(playlistRef)) {
      loaded.text = await reader.readText(playlistRef);
      loaded.playlist = parseMedia(loaded.text);
    } else {
      pkg.missing.push(`${loaded.name} (referenced by ${pkg.name})`);
    }
    pkg.playlists.set(playlistRef, loaded);
  }
  for (const loaded of pkg.playlists.values()) {
    if (!loaded.playlist) continue;
    await findMissing(pkg, loaded, loaded.playlist);
    loaded.format = await firstSegmentFormat(reader, loaded.ref, loaded.playlist);
    if (loaded.role !== 'iframe' && loaded.role !== 'subtitles') {
      loaded.measured = await measureMediaPlaylist(reader, loaded.ref, loaded.playlist, loaded.format, tools);
    }
  }
  return pkg;
}

async function findMissing(pkg: HlsPackage, loaded: LoadedPlaylist, playlist: MediaPlaylist): Promise<void> {
  const uris = new Set<string>();
  for (const segment of playlist.segments) {
    uris.add(segment.uri);
    if (segment.mapUri) uris.add(segment.mapUri);
  }
  for (const uri of uris) {
    pkg.uriCount++;
    const ref = pkg.reader.resolve(loaded.ref, uri);
    if (!(await pkg.reader.exists(ref))) pkg.missing.push(`${pkg.reader.display(ref)} (referenced by ${loaded.name})`);
  }
}

async function firstSegmentFormat(reader: PackageReader, playlistRef: string, playlist: MediaPlaylist): Promise<SegmentFormat | undefined> {
  const first = playlist.segments[0];
  if (!first) return undefined;
  const ref = reader.resolve(playlistRef, first.uri);
  if (!(await reader.exists(ref))) return undefined;
  // The file's start, not the range's: a range may (wrongly) point anywhere; the file says what it is.
  return sniffFormat(await reader.readBytes(ref, { offset: 0, length: 400 }));
}

/** The loaded (readable) media playlists with one of these roles. */
export function playlistsOf(pkg: HlsPackage, ...roles: PlaylistRole[]): (LoadedPlaylist & { playlist: MediaPlaylist })[] {
  return [...pkg.playlists.values()].filter((p): p is LoadedPlaylist & { playlist: MediaPlaylist } => p.playlist !== undefined && roles.includes(p.role));
}

export function measuredOf(pkg: HlsPackage, base: string, uri: string | undefined): MeasuredMedia | undefined {
  if (!uri) return undefined;
  const loaded = pkg.playlists.get(pkg.reader.resolve(base, uri));
  return isMeasured(loaded?.measured) ? loaded.measured : undefined;
}
