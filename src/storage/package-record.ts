/**
 * `vidpipe-record.json`, kept in every package root: which video the package holds and which
 * names below the root vidpipe wrote (its release folders and entry files). Publishing decides
 * from it whether it may write there at all, and it only ever replaces or deletes what the record
 * lists; every other file in the folder or prefix belongs to someone else and is left alone.
 * Everything here is pure; publish.ts does the reading and writing.
 */
import { VidpipeError } from '../errors.js';
import { compareReleases, isJobRelease } from './release.js';

export const RECORD_KEY = 'vidpipe-record.json';
export const RECORD_FORMAT = 'vidpipe-record/1';

/** A video by its content: `id` is `v` + the first 12 hex digits of `sha256`. */
export interface VideoIdentity {
  id: string;
  /** Empty when unknown (then `id` alone identifies the video). */
  sha256: string;
}

export interface PackageRecord {
  format: typeof RECORD_FORMAT;
  /** The video the package holds; absent for a package adopted from an older vidpipe whose video is unknown. */
  video?: VideoIdentity;
  /** The release folder the entry files point at, once one went live. */
  live?: string;
  /** Files at the root that vidpipe wrote for the live release (master.m3u8, manifest.mpd …). */
  entries: string[];
  /** Release folders vidpipe started here and has not removed yet (the live one, ones in flight, leftovers of a crash). */
  releases: string[];
  /**
   * When each release in `releases` was last claimed (ISO time): its job renews the time while it
   * sends, so no other job takes a release in flight for a leftover (see CLAIM_LEASE_MS, wentLive).
   * Releases without a time (records of earlier versions) count as claimed long ago.
   */
  claims?: Record<string, string>;
  updatedAt: string;
}

/**
 * The lease on a claim. A job renews its claim's time every third of this while it sends and
 * until it goes live or gives up; a release that is not live and whose claim was not renewed for
 * this long belongs to a publish that died (killed, storage gone, machine off), and the next
 * publish deletes it. Long enough for a renewal to get through a slow server; clocks of machines
 * publishing one package must agree to well within it (NTP does).
 */
export const CLAIM_LEASE_MS = 2 * 60_000;

export function sameVideo(a: VideoIdentity | undefined, b: VideoIdentity): boolean {
  if (a === undefined) return false;
  if (a.sha256 !== '' && b.sha256 !== '') return a.sha256 === b.sha256;
  return a.id === b.id;
}

/** Reads a record; a file of that name that is not one is someone else's, and vidpipe will not write there. */
export function parseRecord(text: string, where: string): PackageRecord {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const record = data as Partial<PackageRecord> | undefined;
  const strings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');
  const video = record?.video as Partial<VideoIdentity> | undefined;
  if (
    record === undefined || record === null || typeof record !== 'object' || record.format !== RECORD_FORMAT ||
    !strings(record.entries) || !strings(record.releases) ||
    (video !== undefined && (typeof video.id !== 'string' || typeof video.sha256 !== 'string')) ||
    (record.live !== undefined && typeof record.live !== 'string') ||
    (record.claims !== undefined && (typeof record.claims !== 'object' || record.claims === null || !Object.values(record.claims).every((time) => typeof time === 'string')))
  ) {
    throw new VidpipeError('USAGE', `${where} is not a vidpipe package record (format ${RECORD_FORMAT}); vidpipe did not write it and will not publish there`, {
      hint: 'move that file away, or choose another package name with --name',
    });
  }
  return {
    format: RECORD_FORMAT,
    ...(video ? { video: { id: video.id!, sha256: video.sha256! } } : {}),
    ...(record.live ? { live: record.live } : {}),
    entries: [...record.entries],
    releases: [...record.releases],
    ...(record.claims ? { claims: { ...record.claims } } : {}),
    updatedAt: typeof record.updatedAt === 'string' ? record.updatedAt : '',
  };
}

/** The claim times of `releases` only (a release that leaves the record takes its time along). */
function claimsOf(record: PackageRecord | undefined, releases: readonly string[], added?: { release: string; at: Date }): { claims?: Record<string, string> } {
  const claims: Record<string, string> = {};
  for (const release of releases) {
    const time = release === added?.release ? added.at.toISOString() : record?.claims?.[release];
    if (time !== undefined) claims[release] = time;
  }
  return Object.keys(claims).length > 0 ? { claims } : {};
}

export function formatRecord(record: PackageRecord, now = new Date()): string {
  return `${JSON.stringify({ ...record, updatedAt: now.toISOString() }, null, 2)}\n`;
}

/**
 * A package published by vidpipe before records existed: entry manifests at the root whose
 * references point into a job-id release folder (`jmww3o1n1fb584d14/…`). Those entries and that
 * release are taken as vidpipe's; nothing else in the folder is. `video` comes from the release's
 * own vidpipe.json when it has one.
 */
export function adoptedRecord(referencedBy: ReadonlyMap<string, string | undefined>, video: VideoIdentity | undefined): PackageRecord | undefined {
  const entries = [...referencedBy].filter(([, release]) => release !== undefined && isJobRelease(release)).map(([key]) => key).sort();
  if (entries.length === 0) return undefined;
  const releases = [...new Set(entries.map((key) => referencedBy.get(key)!))].sort(compareReleases);
  return { format: RECORD_FORMAT, ...(video ? { video } : {}), live: releases.at(-1)!, entries, releases, updatedAt: '' };
}

/** Whose a package root is, for a video about to publish: no one's, this video's, or another's. */
export type Standing = 'free' | 'ours' | 'other';

export function standingOf(record: PackageRecord | undefined, video: VideoIdentity): Standing {
  if (record === undefined) return 'free';
  if (sameVideo(record.video, video)) return 'ours';
  // A record with nothing in it (a first publish that failed and could not tidy up) holds nothing.
  if (record.live === undefined && record.releases.length === 0 && record.entries.length === 0) return 'free';
  return 'other';
}

/**
 * Names to try for a package, in order. A name given on purpose (--name, a watch sidecar) is
 * the only one. A derived name is followed by the same name with the first hex digits of the
 * video's SHA-256: deterministic, so the same input lands in the same package on every run
 * whatever else is published and in which order.
 */
export function candidateNames(name: string, video: VideoIdentity, given: boolean): string[] {
  if (given) return [name];
  const hex = video.sha256 !== '' ? video.sha256 : video.id.replace(/^v/, '');
  return [...new Set([name, `${name}-${hex.slice(0, 8)}`, `${name}-${hex.slice(0, 16)}`, `${name}-${hex}`])];
}

/**
 * Picks among candidates whose standings are known so far (in candidate order): the first that
 * already holds this video, else the first free one. Undefined means "look at the next candidate
 * first". The name with 8 hex digits is always looked at (the video may have been given it while
 * the plain name was taken, and the plain name be free again since); longer ones only when every
 * shorter one holds another video. -1: every name is taken.
 */
export function pickCandidate(standings: readonly Standing[], total: number): number | undefined {
  const ours = standings.indexOf('ours');
  if (ours >= 0) return ours;
  const lookFurther = standings.length < total && (standings.length < 2 || standings.at(-1) === 'other');
  if (lookFurther) return undefined;
  return standings.indexOf('free');
}

/** Names among `needed` that something other than vidpipe put at the root. */
export function foreignNames(needed: readonly string[], present: ReadonlySet<string>, record: PackageRecord | undefined, recordWritten: boolean): string[] {
  const ours = new Set([...(record?.entries ?? []), ...(recordWritten ? [RECORD_KEY] : [])]);
  return [...new Set(needed)].filter((name) => present.has(name) && !ours.has(name)).sort();
}

/**
 * The record once release `release` of `video` has been started (it lists the release, and when,
 * before any file of it is written), or its claim renewed (only its time changes; a claim lost to
 * a racing write is listed again).
 */
export function withClaim(record: PackageRecord | undefined, video: VideoIdentity, release: string, now = new Date()): PackageRecord {
  const claim = { release, at: now };
  if (record === undefined || standingOf(record, video) === 'free') {
    return { format: RECORD_FORMAT, video, entries: [], releases: [release], ...claimsOf(undefined, [release], claim), updatedAt: '' };
  }
  // The owner changes only when the new release goes live (see wentLive).
  const releases = [...new Set([...record.releases, release])].sort(compareReleases);
  const { claims: _claims, ...rest } = record;
  return { ...rest, releases, ...claimsOf(record, releases, claim) };
}

/**
 * A record with nothing in it: what is written where the last release left the record (a first
 * publish that failed, a sweep of leftovers). It holds nothing (standingOf: free), and unlike a
 * deleted record it cannot take another job's claim written a moment before away with it.
 */
export function emptyRecord(): PackageRecord {
  return { format: RECORD_FORMAT, entries: [], releases: [], updatedAt: '' };
}

/** The record after a release was given up (failed, interrupted, superseded); undefined when nothing is left to record. */
export function withoutRelease(record: PackageRecord | undefined, release: string): PackageRecord | undefined {
  if (record === undefined) return undefined;
  const { claims: _claims, ...rest } = record;
  const releases = record.releases.filter((name) => name !== release);
  const next: PackageRecord = { ...rest, releases, ...claimsOf(record, releases) };
  return next.live === undefined && next.releases.length === 0 && next.entries.length === 0 ? undefined : next;
}

export interface LiveChange {
  /** Still lists the stale releases: they leave the record once they are deleted (withoutRelease). */
  record: PackageRecord;
  /**
   * Older releases whose jobs are done with them: the one live before, and ones whose claim was
   * not renewed for `leaseMs` (leftovers of publishes that died). Newer ones, and older ones claimed
   * lately (a job still sending, or switching the entry files at this very moment), stay: two
   * jobs racing never delete each other's release. The sweep also keeps any an entry file points at.
   */
  staleReleases: string[];
  /** Entry files of the previous release that this one does not have (e.g. master-ts.m3u8). */
  staleEntries: string[];
}

/** The entry files of `release` now point at it: it is live, and it is the package of `video`. */
export function wentLive(record: PackageRecord | undefined, video: VideoIdentity, release: string, entries: readonly string[], now = new Date(), leaseMs = CLAIM_LEASE_MS): LiveChange {
  const releases = [...new Set([...(record?.releases ?? []), release])].sort(compareReleases);
  const settled = (name: string): boolean => {
    if (name === record?.live) return true;
    const claimed = Date.parse(record?.claims?.[name] ?? '');
    return Number.isNaN(claimed) || now.getTime() - claimed > leaseMs;
  };
  return {
    record: { format: RECORD_FORMAT, video, live: release, entries: [...entries].sort(), releases, ...claimsOf(record, releases), updatedAt: '' },
    staleReleases: releases.filter((name) => compareReleases(name, release) < 0 && settled(name)),
    staleEntries: (record?.entries ?? []).filter((name) => !entries.includes(name)),
  };
}
