/**
 * The package as the most common web player reads it: m3u8-parser and mpd-parser are the
 * parsers of Video.js's HTTP streaming engine (VHS). Both are lenient: what they cannot read
 * they drop with a warning, and a player then silently lacks a rendition or a segment. So
 * these checks compare what each parser made of every playlist and MPD with the literal
 * reading the other checks use, and report every warning and every difference.
 */
import { pathToFileURL, fileURLToPath } from 'node:url';
import { Parser as M3u8Parser, type ParsedHlsManifest } from 'm3u8-parser';
import { parse as parseMpd, type ParsedManifest, type ParsedPlaylist } from 'mpd-parser';
import type { HlsPackage } from './hls-load.js';
import type { DashPackage } from './dash.js';
import { fail, fromProblems, skip, type CheckResult } from './result.js';

const VHS = 'Video.js VHS';

function readWithM3u8Parser(text: string): { manifest: ParsedHlsManifest; warnings: string[] } {
  const parser = new M3u8Parser();
  const warnings: string[] = [];
  // 'info' events only say which default was applied (allowCache, media sequence 0).
  parser.on('warn', (event) => warnings.push(event.message));
  parser.on('error', (event) => warnings.push(event.message));
  parser.push(text);
  parser.end();
  return { manifest: parser.manifest, warnings };
}

const countOf = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function checkVhsHls(pkg: HlsPackage): CheckResult {
  const problems: string[] = [];
  let playlists = 0;
  let segments = 0;
  if (pkg.master) {
    playlists++;
    const { manifest, warnings } = readWithM3u8Parser(pkg.text);
    problems.push(...warnings.map((warning) => `${pkg.name}: m3u8-parser: ${warning}`));
    const compare = (what: string, read: number, written: number) => {
      if (read !== written) problems.push(`${pkg.name}: m3u8-parser reads ${read} of the ${countOf(written, what)}`);
    };
    const variants = manifest.playlists ?? [];
    compare('variant', variants.filter((variant) => variant.uri && variant.attributes?.BANDWIDTH !== undefined).length, pkg.master.streams.length);
    compare('I-frame playlist', manifest.iFramePlaylists.filter((playlist) => playlist.uri).length, pkg.master.iFrameStreams.length);
    const renditions = Object.values(manifest.mediaGroups ?? {}).flatMap((groups) => Object.values(groups).flatMap((group) => Object.keys(group)));
    compare('EXT-X-MEDIA rendition', renditions.length, pkg.master.media.length);
  }
  for (const loaded of pkg.playlists.values()) {
    if (loaded.text === undefined || !loaded.playlist) continue;
    playlists++;
    const { manifest, warnings } = readWithM3u8Parser(loaded.text);
    problems.push(...warnings.map((warning) => `${loaded.name}: m3u8-parser: ${warning}`));
    const written = loaded.playlist;
    const read = manifest.segments.filter((segment) => segment.uri && Number.isFinite(segment.duration) && segment.duration! >= 0);
    segments += read.length;
    if (read.length !== written.segments.length) problems.push(`${loaded.name}: m3u8-parser reads ${read.length} of the ${countOf(written.segments.length, 'segment')}`);
    const unmapped = written.segments.filter((segment, index) => segment.mapUri !== undefined && manifest.segments[index]?.map?.uri !== segment.mapUri).length;
    if (unmapped > 0) problems.push(`${loaded.name}: m3u8-parser finds no EXT-X-MAP for ${countOf(unmapped, 'segment')}`);
    if (written.endList && manifest.endList !== true) problems.push(`${loaded.name}: m3u8-parser does not see EXT-X-ENDLIST, so a player treats it as live`);
    if (written.targetDurations.length > 0 && manifest.targetDuration !== written.targetDurations[0]) {
      problems.push(`${loaded.name}: m3u8-parser reads TARGETDURATION ${manifest.targetDuration ?? 'none'}, the playlist says ${written.targetDurations[0]}`);
    }
  }
  return fromProblems('hls-vhs-parse', problems, `m3u8-parser (${VHS}) reads the ${countOf(playlists, 'playlist')} as written, ${countOf(segments, 'segment')}`);
}

/** mpd-parser's playlists (video) and media group playlists (audio, text), by Representation id. */
function parsedRepresentations(manifest: ParsedManifest): Map<string, ParsedPlaylist> {
  const groups = [manifest.mediaGroups.AUDIO, manifest.mediaGroups.SUBTITLES].flatMap((type) => Object.values(type ?? {}));
  const media = groups.flatMap((group) => Object.values(group).flatMap((rendition) => rendition.playlists ?? []));
  return new Map([...manifest.playlists, ...media].map((playlist) => [String(playlist.attributes.NAME), playlist]));
}

export function checkVhsDash(pkg: DashPackage): CheckResult {
  if (!pkg.mpd) return skip('dash-vhs-parse', `${pkg.name} is not a readable MPD`);
  const isUrl = /^https?:\/\//i.test(pkg.ref);
  // mpd-parser resolves URLs; local refs are paths, so it gets (and gives back) file: URLs.
  const toRef = (url: string) => (isUrl || !url.startsWith('file:') ? url : fileURLToPath(url));
  const warnings: string[] = [];
  let manifest: ParsedManifest;
  try {
    manifest = parseMpd(pkg.text, {
      manifestUri: isUrl ? pkg.ref : pathToFileURL(pkg.ref).href,
      eventHandler: (event) => warnings.push(`${event.type}: ${event.message}`),
    });
  } catch (error) {
    return fail('dash-vhs-parse', `${pkg.name}: mpd-parser (${VHS}) cannot read it: ${(error as Error).message}`);
  }
  const problems = warnings.map((warning) => `${pkg.name}: mpd-parser ${warning}`);
  const parsed = parsedRepresentations(manifest);
  let checked = 0;
  let segments = 0;
  for (const rep of pkg.representations) {
    // Thumbnail tracks are for players that know the DASH-IF tile scheme; VHS does not read them.
    if (rep.contentType === 'image') continue;
    const playlist = parsed.get(rep.id);
    if (!playlist) {
      problems.push(`${rep.name} (${rep.contentType}): mpd-parser does not find it`);
      continue;
    }
    checked++;
    if (rep.addressing !== 'template' && rep.addressing !== 'list') continue;
    if (!rep.mediaRefs) continue;
    const read = playlist.segments.map((segment) => toRef(segment.resolvedUri));
    segments += read.length;
    if (read.length !== rep.mediaRefs.length) {
      problems.push(`${rep.name}: mpd-parser expands ${countOf(read.length, 'segment')}, the MPD describes ${rep.mediaRefs.length}`);
      continue;
    }
    const first = read.findIndex((ref, index) => ref !== rep.mediaRefs![index]);
    if (first >= 0) problems.push(`${rep.name}: mpd-parser asks for ${pkg.reader.display(read[first]!)} as segment ${first + 1}, the MPD for ${pkg.reader.display(rep.mediaRefs[first]!)}`);
    const map = playlist.segments[0]?.map?.resolvedUri;
    if (rep.initRef && (map === undefined || toRef(map) !== rep.initRef)) problems.push(`${rep.name}: mpd-parser finds the init segment at ${map ? pkg.reader.display(toRef(map)) : 'none'}`);
  }
  return fromProblems('dash-vhs-parse', problems, `mpd-parser (${VHS}) finds the ${countOf(checked, 'Representation')} and their ${countOf(segments, 'segment')} as written`);
}
