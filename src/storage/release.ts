/**
 * Republishing without ever mixing two versions of a package. Each publish (a "release", named
 * after its job id) goes into its own folder below the package root, `<root>/<release>/…`, as a
 * complete self-contained package. Only then are the entry points `<root>/master.m3u8` and
 * `<root>/manifest.mpd` replaced by copies whose references point into that folder; the older
 * releases are deleted after that (see publish.ts; the package record lists what vidpipe wrote). Players holding the old entry manifest keep finding the old
 * segments until they reload, new players see only new ones, and segment names are never reused,
 * so `Cache-Control: immutable` on segments is true.
 *
 * Releases are ordered by their job id (base-36 creation time first): when two jobs publish the
 * same package, the one started last wins, and an older job that finishes later stands down.
 */
import path from 'node:path';
import { VidpipeError } from '../errors.js';
import { isManifestKey } from './storage.js';

/** Job ids, `j` + base-36 milliseconds + random hex (see newJobId). */
const RELEASE_NAME = /^j[0-9a-z]{8,40}$/;

export function assertReleaseName(release: string): void {
  if (!RELEASE_NAME.test(release)) {
    throw new VidpipeError('INTERNAL', `"${release}" is not a release name (a job id such as jmww3o1n1fb584d14)`);
  }
}

export function isReleaseName(name: string): boolean {
  return RELEASE_NAME.test(name);
}

/** Exactly what newJobId makes: `j`, base-36 milliseconds, 8 hex digits. */
const JOB_ID = /^j([0-9a-z]{8,9})[0-9a-f]{8}$/;
const EARLIEST_JOB = Date.UTC(2020, 0, 1);

/**
 * Strictly a job id of a plausible time, for recognising the release folders of packages written
 * before the package record: a user's folder "jazzfestival" must never be taken for one.
 */
export function isJobRelease(name: string, now = Date.now()): boolean {
  const match = JOB_ID.exec(name);
  if (match === null) return false;
  const created = parseInt(match[1]!, 36);
  return created >= EARLIEST_JOB && created <= now + 24 * 3600 * 1000;
}

/** Newer releases sort later: same-length base-36 timestamps compare as text. */
export function compareReleases(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** The entry points: manifests at the top of the package (master.m3u8, manifest.mpd, master-ts.m3u8 …). */
export function isEntryKey(key: string): boolean {
  return !key.includes('/') && isManifestKey(key);
}

/** Prefixes every relative reference of a top-level manifest with `<release>/`. */
export function entryManifestFor(key: string, text: string, release: string): string {
  assertReleaseName(release);
  return /\.mpd$/i.test(key) ? withMpdBaseUrl(text, release) : withPrefixedHlsUris(text, release);
}

function isRelativeReference(uri: string): boolean {
  return uri !== '' && !uri.startsWith('/') && !/^[a-z][a-z0-9+.-]*:/i.test(uri);
}

function withPrefixedHlsUris(text: string, release: string): string {
  return text
    .split('\n')
    .map((line) => {
      const trimmed = line.trim();
      if (trimmed.startsWith('#')) {
        return line.replace(/URI="([^"]*)"/g, (whole, uri: string) => (isRelativeReference(uri) ? `URI="${release}/${uri}"` : whole));
      }
      return isRelativeReference(trimmed) ? `${release}/${trimmed}` : line;
    })
    .join('\n');
}

/**
 * An MPD-level BaseURL makes every relative URL below it (SegmentTemplate, nested BaseURLs)
 * resolve inside the release folder (ISO/IEC 23009-1 §5.6). Schema order puts BaseURL after
 * ProgramInformation and before everything else.
 */
function withMpdBaseUrl(text: string, release: string): string {
  if (/<MPD\b[^>]*>\s*(<ProgramInformation[\s\S]*?<\/ProgramInformation>\s*)*<BaseURL>/.test(text)) {
    throw new VidpipeError('INTERNAL', 'the MPD already has an MPD-level BaseURL; cannot point it into a release folder');
  }
  const programInfoEnd = text.lastIndexOf('</ProgramInformation>');
  const openTag = /<MPD\b[^>]*>/.exec(text);
  if (openTag === null) throw new VidpipeError('INTERNAL', 'not an MPD: no <MPD> element');
  const at = programInfoEnd >= 0 ? programInfoEnd + '</ProgramInformation>'.length : openTag.index + openTag[0].length;
  return `${text.slice(0, at)}\n  <BaseURL>${release}/</BaseURL>${text.slice(at)}`;
}

/** Which release an entry manifest currently points at (undefined for none or a flat package). */
export function releaseReferencedBy(key: string, text: string): string | undefined {
  const reference = /\.mpd$/i.test(key)
    ? /<BaseURL>([^<]*)<\/BaseURL>/.exec(text)?.[1]
    : (/URI="([^"]*)"/.exec(text)?.[1] ?? text.split('\n').find((line) => isRelativeReference(line.trim()) && !line.trim().startsWith('#')));
  const first = reference?.trim().split('/')[0];
  return first !== undefined && isReleaseName(first) ? first : undefined;
}

/** A newer release already owns the entry points: publishing ours would roll the package back. */
export function supersededError(root: string, ours: string, current: string, sameVideo = false): VidpipeError {
  if (sameVideo) {
    return new VidpipeError(
      'STORAGE_FAILED',
      `${root} was republished by a newer job (${current}) of the same source while this job (${ours}) ran; that package is live and whole, and this job's copy was discarded`,
      { hint: 'nothing to do: the package holds this video; rerun this input only if its settings differ and should win' },
    );
  }
  return new VidpipeError(
    'STORAGE_FAILED',
    `${root} was republished by a newer job (${current}) while this job (${ours}) ran; this job's package was discarded`,
    { hint: 'the newer package stays live; rerun this input if it should win' },
  );
}

/** Path of `key` inside a release folder, '/'-separated. */
export function releaseKey(release: string, key: string): string {
  return path.posix.join(release, key);
}
