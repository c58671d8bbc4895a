/**
 * The publish protocol, written once above ObjectStore (a local folder or an S3 prefix; see
 * docs/publishing.md). A package lives at `<out>/<name>/`; each publish is a release, the job's
 * own folder `<name>/<jobId>/`, and the entry manifests at the root point into the live one.
 *
 *  1. Choose the package: the name asked for if it is free or already holds this video, else
 *     `<name>-<sha256 prefix>` (a name given on purpose is used as it is). Any name vidpipe
 *     needs at the root that something else put there stops the publish (USAGE, exit 2).
 *  2. Claim: the package record lists the new release before any file of it is written, so
 *     even a killed publish leaves nothing vidpipe would not find and remove later. The claim is
 *     a lease, renewed while the job sends (keepClaim); one not renewed for CLAIM_LEASE_MS is a
 *     dead publish's, and its release goes with the next sweep.
 *  3. Send the release: media first, then manifests deepest first (or one rename, locally).
 *  4. Go live, unless a newer job already did, or this job's release was taken for a leftover
 *     while its claim lapsed (checked, never assumed): each entry manifest is rewritten whole to
 *     point into the release, then the record names it live.
 *  5. Sweep: older releases and entry files the record lists and nothing uses any more.
 *
 * A failure or Ctrl-C before step 4 leaves the previous package live and complete, removes this
 * release and takes it off the record. Only what the record lists is ever replaced or deleted.
 *
 * Two jobs may publish one package at once (two watchers, two runs) and neither storage offers a
 * lock, so every step assumes another job may be between any two of its requests: a record or
 * entry file that appears meanwhile is read again, never taken for a stranger's; a job deletes
 * only its own release and releases whose jobs are certainly done with them (wentLive), never
 * one an entry file points at; the loser stands down with STORAGE_FAILED. Two jobs that both
 * passed the check before going live both switch; each then reads the package again, and the
 * newest release wins: every entry file is made to point at it (never HLS at one release and
 * DASH at another), and an older job that finds a newer one live stands down after all.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import { VidpipeError } from '../errors.js';
import { contentTypeFor, objectHeadersFor } from './content-types.js';
import { openDestination, type Destination } from './index.js';
import { putFiles, type ObjectStore } from './object-store.js';
import { describeFsError, inPublishOrder, listPackageFiles, sumBytes, type PackageFile } from './package-files.js';
import {
  adoptedRecord,
  candidateNames,
  CLAIM_LEASE_MS,
  emptyRecord,
  foreignNames,
  formatRecord,
  parseRecord,
  pickCandidate,
  RECORD_KEY,
  sameVideo,
  standingOf,
  type PackageRecord,
  type Standing,
  type VideoIdentity,
  withClaim,
  wentLive,
  withoutRelease,
} from './package-record.js';
import { assertReleaseName, compareReleases, entryManifestFor, isEntryKey, isJobRelease, releaseReferencedBy, supersededError } from './release.js';
import { isTimeoutFailure } from './timeout-failure.js';
import type { PublishedFile } from './storage.js';
import type { Location, StorageConfig } from './backend.js';
import { locationBelow, uriBelow } from './backends.js';

/** Entry files vidpipe has ever written at a package root (read to adopt packages from before the record). */
const KNOWN_ENTRIES = ['master.m3u8', 'manifest.mpd', 'master-ts.m3u8'];
/** Clean-up after Ctrl-C gets at most this long: the user wants the process to end. */
const INTERRUPTED_CLEANUP_MS = 3000;

/** Which package a job wants; plain data, so a queue worker on another machine applies the same rule. */
export interface PackageRequest {
  /** From --name or a watch sidecar (`given`), else derived from the input's name. */
  name: string;
  /** Named on purpose: the package is written there even if it holds another video. */
  given: boolean;
  video: VideoIdentity;
}

export interface PublishTarget {
  /** Where packages go (--out); each is `<location>/<name>/`. */
  location: Location;
  request: PackageRequest;
  /** The job id: this publish's release folder. */
  release: string;
  /** Each backend's settings (S3 endpoint, region …), resolved where the process started. */
  storage?: StorageConfig;
}

export interface ChosenPackage {
  /** The package's name below the location, as written. */
  name: string;
  /** Why it is not the name asked for, or that another video's package is replaced as asked. */
  note?: string;
}

export interface PublishOptions {
  signal?: AbortSignal;
  /** Called as files are sent, with the bytes sent so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /**
   * 'move' (default): the local folder is consumed (one rename when it is on the destination's
   * filesystem, else copied and removed). 'copy': the local folder is left as it was.
   */
  transfer?: 'move' | 'copy';
  /** Runs once the name is final, before anything is sent (to write files that name the package's URIs). */
  beforeTransfer?: (chosen: ChosenPackage) => Promise<void>;
  /** Runs once everything is sent, right before going live; throwing gives the release up. */
  beforeGoLive?: () => Promise<void>;
  /**
   * Tests only: awaited at each step where another job may step in (see PublishStep), to make
   * races deterministic. Unset, the VIDPIPE_TEST_PUBLISH_HOLD variable may set it (holdFromEnv).
   */
  pause?: (step: PublishStep) => Promise<void>;
  /** Tests only: the lease on claims (default CLAIM_LEASE_MS), both this job's own and the one its sweep applies to others'. */
  claimLeaseMs?: number;
}

/**
 * The moments of a publish where another job racing for the same package may come between two
 * requests: 'chosen' (the record was read, the names at the root are not checked yet), 'claim'
 * (between reading the record and writing the claim), 'live' (checked that no newer job is live,
 * entry files not written yet), 'entry' (the first entry file written, not the others),
 * 'switched' (entry files written, the record not yet naming them), 'sweep' (live, old releases
 * not deleted yet).
 */
export type PublishStep = 'chosen' | 'claim' | 'live' | 'entry' | 'switched' | 'sweep';

/** Set only by tests: `<step>:<file>` holds a publish at that step while `<file>` exists (it writes `<file>.reached` first). */
export const HOLD_VARIABLE = 'VIDPIPE_TEST_PUBLISH_HOLD';
/** A hold never lasts longer than this: a test that forgets its file still ends. */
const HOLD_LIMIT_MS = 60_000;

/** The test-only hold of HOLD_VARIABLE, or undefined (always, outside tests). */
export function holdFromEnv(env: NodeJS.ProcessEnv = process.env): PublishOptions['pause'] {
  const match = /^(chosen|claim|live|entry|switched|sweep):(.+)$/.exec(env[HOLD_VARIABLE] ?? '');
  if (match === null) return undefined;
  const [, at, file] = match as unknown as [string, PublishStep, string];
  return async (step) => {
    if (step !== at || !existsSync(file)) return;
    await writeFile(`${file}.reached`, `${process.pid}\n`);
    const until = Date.now() + HOLD_LIMIT_MS;
    while (existsSync(file) && Date.now() < until) await delay(20);
  };
}

export interface PublishedRelease extends ChosenPackage {
  /** Media first, then manifests with the root ones last. */
  files: PublishedFile[];
}

/** Where a package and its release are, and the final URI of each of its files. */
export interface PackageUris {
  root: string;
  releaseRoot: string;
  /** Entry manifests are at the root; everything else is in the release folder. */
  uriFor(key: string): string;
}

export function packageUris(location: Location, name: string, release: string): PackageUris {
  const root = locationBelow(location, name);
  const releaseRoot = locationBelow(root, release);
  return { root: root.text, releaseRoot: releaseRoot.text, uriFor: (key) => uriBelow(isEntryKey(key) ? root : releaseRoot, key) };
}

function describeLocation(location: Location): string {
  return location.text;
}

/**
 * Checks before any work is done that the job can publish where it is asked to: chooses the
 * package name (as publishRelease will), refuses entry names taken by files vidpipe did not
 * write, a read-only local folder and an unreachable or missing bucket. Writes nothing.
 */
export async function preflightPublish(target: PublishTarget, entries: readonly string[], signal?: AbortSignal): Promise<ChosenPackage> {
  assertReleaseName(target.release);
  let destination: Destination | undefined;
  try {
    destination = await openDestination(target.location, target.storage);
    const chosen = await choosePackage(destination, target, entries, signal);
    await chosen.store.assertWritable();
    return { name: chosen.name, ...(chosen.note ? { note: chosen.note } : {}) };
  } catch (error) {
    if (signal?.aborted) throw new VidpipeError('INTERRUPTED', 'interrupted while checking the destination', { cause: error });
    if (error instanceof VidpipeError && error.code === 'INPUT_NOT_FOUND') {
      throw new VidpipeError('USAGE', `--out ${describeLocation(target.location)}: ${error.message}`, { cause: error, hint: error.hint });
    }
    if (error instanceof VidpipeError && error.code === 'STORAGE_FAILED') {
      throw new VidpipeError('STORAGE_FAILED', `cannot check the destination ${describeLocation(target.location)} before encoding: ${error.message}`, { cause: error, hint: error.hint });
    }
    if (error instanceof VidpipeError) throw error;
    throw new VidpipeError('STORAGE_FAILED', `cannot check the destination ${describeLocation(target.location)} before encoding: ${describeFsError(error)}`, { cause: error });
  } finally {
    destination?.close();
  }
}

/** Publishes the package folder `localDir` as release `target.release` (see the steps above). */
export async function publishRelease(target: PublishTarget, localDir: string, options: PublishOptions = {}): Promise<PublishedRelease> {
  let destination: Destination | undefined;
  try {
    destination = await openDestination(target.location, target.storage);
    return await publishWith(destination, target, localDir, options);
  } catch (error) {
    // publishWith's errors already name the package; this is for opening the destination.
    throw error instanceof VidpipeError ? error : publishError(error, describeLocation(target.location), undefined, options.signal);
  } finally {
    destination?.close();
  }
}

/** publishRelease over stores the caller opened (and closes). */
export async function publishWith(destination: Destination, target: PublishTarget, localDir: string, options: PublishOptions = {}): Promise<PublishedRelease> {
  const { signal } = options;
  assertReleaseName(target.release);
  options = { ...options, pause: options.pause ?? holdFromEnv() };
  let store: ObjectStore | undefined;
  try {
    signal?.throwIfAborted();
    const entries = (await listPackageFiles(localDir)).filter((file) => isEntryKey(file.key)).map((file) => file.key);
    const chosen = await choosePackage(destination, target, entries, signal, options.pause);
    store = chosen.store;
    // Again (the preflight ran before the encode): mkdir on a read-only filesystem would say "ENOENT".
    await store.assertWritable();
    await options.beforeTransfer?.({ name: chosen.name, note: chosen.note });
    const files = await sendAndGoLive(chosen, target, localDir, await listPackageFiles(localDir), options);
    return { name: chosen.name, ...(chosen.note ? { note: chosen.note } : {}), files };
  } catch (error) {
    throw publishError(error, store?.root ?? describeLocation(target.location), store?.failureHint, signal);
  }
}

interface Candidate {
  name: string;
  store: ObjectStore;
  record: PackageRecord | undefined;
  /** False for no record, or one adopted from an older vidpipe's package and not written yet. */
  recordWritten: boolean;
  standing: Standing;
}

interface Chosen extends Candidate {
  note?: string;
}

/** Choices made again when another job's publish changed a package while it was looked at. */
const CHOICE_ATTEMPTS = 3;

async function choosePackage(
  destination: Destination,
  target: PublishTarget,
  entries: readonly string[],
  signal: AbortSignal | undefined,
  pause?: PublishOptions['pause'],
): Promise<Chosen> {
  const { request } = target;
  const names = candidateNames(request.name, request.video, request.given);
  for (let attempt = 1; ; attempt++) {
    const seen: Candidate[] = [];
    let pick: number | undefined;
    while (pick === undefined) {
      const name = names[seen.length]!;
      const store = destination.storeFor(name);
      const state = await readPackageState(store, signal);
      seen.push({ name, store, ...state, standing: standingOf(state.record, request.video) });
      pick = request.given ? 0 : pickCandidate(seen.map((candidate) => candidate.standing), names.length);
    }
    if (pick < 0) {
      throw new VidpipeError('USAGE', `every package name tried for ${request.name} below ${describeLocation(target.location)} holds another video (${names.join(', ')})`, {
        hint: 'choose a package name with --name',
      });
    }
    const chosen = seen[pick]!;
    await pause?.('chosen');
    // Only names vidpipe does not already own need looking at.
    const owned = new Set([...(chosen.record?.entries ?? []), ...(chosen.recordWritten ? [RECORD_KEY] : [])]);
    const present = new Set<string>();
    for (const name of [...new Set([...entries, RECORD_KEY])]) {
      if (!owned.has(name) && (await chosen.store.exists(name, signal)) && !(await isSwitchingEntry(chosen, name, signal))) present.add(name);
    }
    const foreign = foreignNames([...entries, RECORD_KEY], present, chosen.record, chosen.recordWritten);
    if (foreign.length === 0) return { ...chosen, ...noteFor(request, chosen) };
    // A name that was not there a moment ago may be another job's publish of this package (its
    // record, then its entry files): if the package looks different now, choose again.
    const changed = changedSince(chosen, await readPackageState(chosen.store, signal));
    if (!changed) throw takenError(chosen.store, foreign);
    if (attempt >= CHOICE_ATTEMPTS) throw changingError(chosen.store);
  }
}

/**
 * An entry file the record does not list yet, pointing into a release the record does, or into a
 * job's release folder that is there (a claim lost from the record to a racing write): another job
 * going live this very moment (it writes the entry files, then the record), not a stranger's.
 */
async function isSwitchingEntry(chosen: Candidate, name: string, signal: AbortSignal | undefined): Promise<boolean> {
  if (!chosen.recordWritten || !isEntryKey(name)) return false;
  const text = await chosen.store.readText(name, signal);
  const release = text === undefined ? undefined : releaseReferencedBy(name, text);
  if (release === undefined) return false;
  if (chosen.record?.releases.includes(release)) return true;
  return isJobRelease(release) && (await chosen.store.exists(release, signal));
}

/** Other jobs kept publishing this package while this one looked: theirs to finish, nothing wrong with the request. */
function changingError(store: ObjectStore): VidpipeError {
  return new VidpipeError('STORAGE_FAILED', `cannot publish to ${store.root}: other jobs kept publishing there while this one read it (${CHOICE_ATTEMPTS} times); nothing of this job was published`, {
    hint: 'run it again once they have finished',
  });
}

function changedSince(seen: Candidate, now: { record: PackageRecord | undefined; recordWritten: boolean }): boolean {
  return seen.recordWritten !== now.recordWritten || JSON.stringify(seen.record) !== JSON.stringify(now.record);
}

function noteFor(request: PackageRequest, chosen: Candidate): { note?: string } {
  if (chosen.name !== request.name) return { note: `"${request.name}" holds another video, so this one's package is "${chosen.name}"` };
  if (request.given && chosen.standing === 'other') {
    return { note: `replaces the package of another video (${chosen.record?.video?.id ?? 'unknown'}) in "${chosen.name}", as named` };
  }
  return {};
}

function takenError(store: ObjectStore, names: string[]): VidpipeError {
  const list = names.map((name) => store.uriOf(name)).join(', ');
  return new VidpipeError('USAGE', `cannot publish to ${store.root}: ${list} ${names.length === 1 ? 'is' : 'are'} already there and vidpipe did not write ${names.length === 1 ? 'it' : 'them'}`, {
    hint: 'vidpipe never replaces files it did not write: move them away, or choose another package name with --name',
  });
}

/** The package's record, or one adopted from a package an older vidpipe wrote, or none. */
async function readPackageState(store: ObjectStore, signal: AbortSignal | undefined): Promise<{ record: PackageRecord | undefined; recordWritten: boolean }> {
  const { text, record } = await loadRecord(store, signal);
  if (text !== undefined) return { record, recordWritten: true };
  const referenced = new Map<string, string | undefined>();
  for (const key of KNOWN_ENTRIES) {
    const entry = await store.readText(key, signal);
    if (entry !== undefined) referenced.set(key, releaseReferencedBy(key, entry));
  }
  const releases = [...referenced.values()].filter((release): release is string => release !== undefined && isJobRelease(release));
  if (releases.length === 0) return { record: undefined, recordWritten: false };
  const newest = releases.sort(compareReleases).at(-1)!;
  return { record: adoptedRecord(referenced, await legacyVideo(store, newest, signal)), recordWritten: false };
}

/** The video of an older vidpipe's release, from the vidpipe.json it carries (its `result.id`). */
async function legacyVideo(store: ObjectStore, release: string, signal: AbortSignal | undefined): Promise<VideoIdentity | undefined> {
  const text = await store.readText(`${release}/vidpipe.json`, signal);
  try {
    const id = (JSON.parse(text ?? 'null') as { result?: { id?: unknown } } | null)?.result?.id;
    return typeof id === 'string' && /^v[0-9a-f]{12}$/.test(id) ? { id, sha256: '' } : undefined;
  } catch {
    return undefined;
  }
}

/** Reads of a record that does not parse before it counts as someone else's file (loadRecord). */
const TORN_READ_ATTEMPTS = 4;

/**
 * The record's text as stored (undefined: none) and the record it holds. One that does not parse
 * is read again, 0.1, 0.3 and 0.9 s later, before it counts as a file vidpipe did not write: a
 * server that writes an object in place (s3rver truncates the file and writes it again; S3 itself
 * replaces an object whole) can answer a read made during another job's write with part of it.
 */
async function loadRecord(store: ObjectStore, signal: AbortSignal | undefined): Promise<{ text: string | undefined; record: PackageRecord | undefined }> {
  for (let attempt = 1; ; attempt++) {
    const text = await store.readText(RECORD_KEY, signal);
    if (text === undefined) return { text, record: undefined };
    try {
      return { text, record: parseRecord(text, store.uriOf(RECORD_KEY)) };
    } catch (error) {
      if (attempt >= TORN_READ_ATTEMPTS) throw error;
      await delay(100 * 3 ** (attempt - 1), undefined, { signal });
    }
  }
}

async function readRecord(store: ObjectStore, fallback: PackageRecord | undefined, signal: AbortSignal | undefined): Promise<PackageRecord | undefined> {
  const { text, record } = await loadRecord(store, signal);
  return text === undefined ? fallback : record;
}

/**
 * Read, change, write: the record is re-read right before every write, so concurrent jobs lose as
 * little as possible. What a lost update can cost is bounded: a release missing from the record
 * (left behind, never deleted wrongly), or a stale `live` (the sweep also asks the entry files).
 * The record is never deleted (another job may have written its claim a moment ago): a record
 * with nothing left in it is written empty, which holds nothing (standingOf: free). `change`
 * answering the record it was given unchanged writes nothing.
 */
async function updateRecord(
  store: ObjectStore,
  fallback: PackageRecord | undefined,
  change: (record: PackageRecord | undefined) => PackageRecord | undefined,
  signal?: AbortSignal,
  beforeWrite?: () => Promise<void>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { text, record } = await loadRecord(store, signal);
    const current = text === undefined ? fallback : record;
    const changed = change(current);
    if (changed === current && text !== undefined) return;
    if (changed === undefined && text === undefined) return;
    const next = changed ?? emptyRecord();
    await beforeWrite?.();
    // No record a moment ago: create it only if another job has not meanwhile, else change theirs.
    if (text === undefined && attempt < CHOICE_ATTEMPTS) {
      if (await store.createText(RECORD_KEY, formatRecord(next), objectHeadersFor(RECORD_KEY), signal)) return;
      continue;
    }
    return store.putText(RECORD_KEY, formatRecord(next), objectHeadersFor(RECORD_KEY), signal);
  }
}

async function sendAndGoLive(chosen: Chosen, target: PublishTarget, localDir: string, files: PackageFile[], options: PublishOptions): Promise<PublishedFile[]> {
  const { store } = chosen;
  const { release, request } = target;
  const { signal } = options;
  const { media, manifests } = inPublishOrder(files);
  const entries = manifests.filter((file) => isEntryKey(file.key));
  const entryTexts = new Map<string, string>();
  for (const file of entries) entryTexts.set(file.key, await readFile(file.absPath, 'utf8'));
  const total = sumBytes(files);
  let done = 0;
  const onBytes = (bytes: number): void => {
    done += bytes;
    options.onProgress?.(done, total);
  };
  const inRelease = (file: PackageFile): string => `${release}/${file.key}`;
  const move = (options.transfer ?? 'move') === 'move';
  const state = { claimed: false, moved: false };
  const leaseMs = options.claimLeaseMs ?? CLAIM_LEASE_MS;
  let lease: ClaimLease | undefined;
  try {
    const claimedAt = new Date();
    await updateRecord(store, chosen.record, (record) => withClaim(record, request.video, release, claimedAt), signal, () => options.pause?.('claim') ?? Promise.resolve());
    state.claimed = true;
    lease = keepClaim(store, chosen.record, request.video, release, claimedAt, leaseMs, signal);
    if (move && store.moveIn) state.moved = await store.moveIn(localDir, release);
    if (state.moved) {
      onBytes(total);
    } else {
      const sending = { signal, onBytes, keyOf: inRelease, headersFor: (file: PackageFile) => objectHeadersFor(file.key) };
      await putFiles(store, media, sending);
      // One at a time, deepest first: the master playlist / MPD is the very last file written.
      await putFiles(store, manifests, { ...sending, concurrency: 1 });
    }
    // The last moment a Ctrl-C is honoured: after this the new package goes live.
    signal?.throwIfAborted();
    await options.beforeGoLive?.();
    const record = await readRecord(store, chosen.record, signal);
    if (!request.given && record?.video !== undefined && !sameVideo(record.video, request.video)) {
      throw new VidpipeError('STORAGE_FAILED', `${store.root} was taken by another video (${record.video.id}) while this job ran; nothing of this job was published there`, {
        hint: 'run it again: it will choose a free package name',
      });
    }
    const current = await currentRelease(store, record, signal);
    if (current !== undefined && compareReleases(current, release) > 0) throw supersededError(store.root, release, current, sameVideo(record?.video, request.video));
    await options.pause?.('live');
    if (await lease.end()) {
      await assertReleaseWhole(store, release, files.map(inRelease), leaseMs, signal).catch((error: unknown) => {
        // A moved folder that was swept cannot be moved back: what is left goes like sent files.
        state.moved = false;
        throw error;
      });
    }
  } catch (error) {
    await lease?.stop();
    await giveUp(store, chosen, release, localDir, state, error, signal);
    throw error;
  }
  // Going live is a few small writes: a Ctrl-C now gets them finished if the server answers within
  // a few seconds, so the entry files and the record agree; a stalled server does not hold the exit.
  const switching = afterGrace(signal, INTERRUPTED_CLEANUP_MS);
  let change: ReturnType<typeof wentLive> | undefined;
  let newer: string | undefined;
  try {
    let first = true;
    for (const [key, text] of entryTexts) {
      await store.putText(key, entryManifestFor(key, text, release), objectHeadersFor(key), switching);
      if (first) await options.pause?.('entry');
      first = false;
    }
    await options.pause?.('switched');
    // A newer job that went live since the check keeps the record's `live` (and its video).
    await updateRecord(store, chosen.record, (record) => (isNewer(record?.live, release) ? record : (change = wentLive(record, request.video, release, [...entryTexts.keys()], new Date(), leaseMs)).record), switching);
    newer = await agreeOnNewest(store, chosen.record, request.video, release, entryTexts, switching);
  } catch (error) {
    if (!switching?.aborted) throw error;
    throw new SwitchInterrupted('INTERRUPTED', `interrupted while ${store.root} was switching to release ${release}; its entry manifests point at the previous release or at this one, both complete`, { cause: error });
  }
  if (newer !== undefined) {
    // Superseded after all: the entry files point at the newer release now, so this one goes.
    const record = await readRecord(store, chosen.record, signal).catch(() => undefined);
    const error = supersededError(store.root, release, newer, sameVideo(record?.video, request.video));
    await giveUp(store, chosen, release, localDir, state, error, signal);
    throw error;
  }
  // A local destination consumes the folder either way (moved, or copied across filesystems).
  if (move && store.moveIn && !state.moved) await rm(localDir, { recursive: true, force: true });
  await options.pause?.('sweep');
  await sweep(store, change ?? wentLive(await readRecord(store, chosen.record, signal), request.video, release, [...entryTexts.keys()], new Date(), leaseMs), signal);
  return [...media, ...manifests].map((file) => ({ key: file.key, uri: store.uriOf(inRelease(file)), bytes: file.bytes, contentType: contentTypeFor(file.key) }));
}

interface ClaimLease {
  /**
   * Stops renewing and writes the claim once more (this failing fails the publish: it cannot go
   * live without writing the record anyway). True when the claim may have looked expired to
   * another job meanwhile, so its sweep may have deleted the release: renewals more than half the
   * lease apart (the process was paused, the machine slept, storage did not answer), or the
   * release gone from the record.
   */
  end(): Promise<boolean>;
  /** Stops renewing (a renewal under way is waited for, so it cannot land after the give-up's write). */
  stop(): Promise<void>;
}

/**
 * Renews this job's claim every third of the lease until it goes live or gives up. A renewal is
 * a read-modify-write of the record that changes only this release's time; a failed one is
 * ignored (the claim only looks older), and one still under way skips the next turn.
 */
function keepClaim(store: ObjectStore, fallback: PackageRecord | undefined, video: VideoIdentity, release: string, claimedAt: Date, leaseMs: number, signal: AbortSignal | undefined): ClaimLease {
  let lastRenewed = claimedAt.getTime();
  let lapsed = false;
  let renewing: Promise<void> | undefined;
  const renew = async (): Promise<void> => {
    const at = new Date();
    const change = (record: PackageRecord | undefined): PackageRecord => {
      if (!record?.releases.includes(release)) lapsed = true;
      return withClaim(record, video, release, at);
    };
    await updateRecord(store, fallback, change, withBudget(signal, store.operationTimeoutMs));
    if (at.getTime() - lastRenewed > leaseMs / 2) lapsed = true;
    lastRenewed = at.getTime();
  };
  const timer = setInterval(() => {
    renewing ??= renew().catch(() => undefined).finally(() => (renewing = undefined));
  }, leaseMs / 3);
  const stop = async (): Promise<void> => {
    clearInterval(timer);
    await renewing;
  };
  return {
    stop,
    end: async () => {
      await stop();
      await renew();
      return lapsed;
    },
  };
}

/** After a lapsed claim: every file of the release must still be there, or it must not go live. */
async function assertReleaseWhole(store: ObjectStore, release: string, keys: readonly string[], leaseMs: number, signal: AbortSignal | undefined): Promise<void> {
  for (const key of keys) {
    if (await store.exists(key, signal)) continue;
    throw new VidpipeError('STORAGE_FAILED', `release ${release} in ${store.root} lost files (${store.uriOf(key)} is gone) while this job's claim on it was not renewed for over ${Math.round(leaseMs / 2000)} s (the process was paused, or storage did not answer), so another job's publish took it for a leftover; nothing of this job went live and the package is unchanged`, {
      hint: 'run it again; if the process is often paused this long while publishing (a sleeping machine), keep it awake',
    });
  }
}

function isNewer(candidate: string | undefined, than: string): boolean {
  return candidate !== undefined && compareReleases(candidate, than) > 0;
}

/**
 * After switching, the package is read again: another job that passed its check at the same time
 * may have switched between two of this job's writes. The newest release wins, and every entry
 * file is made to point at it, so HLS and DASH never show two releases (two videos, with a given
 * name). Answers the newer release when it is another job's (this one stands down), else undefined.
 */
async function agreeOnNewest(
  store: ObjectStore,
  fallback: PackageRecord | undefined,
  video: VideoIdentity,
  release: string,
  entryTexts: ReadonlyMap<string, string>,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const record = await readRecord(store, fallback, signal);
  const current = await currentRelease(store, record, signal);
  const newest = current !== undefined && isNewer(current, release) ? current : release;
  const keys = new Set([...KNOWN_ENTRIES, ...(record?.entries ?? []), ...entryTexts.keys()]);
  const entries: string[] = [];
  for (const key of keys) {
    // The newest release's own copy of the entry manifest (every release holds its manifests).
    const own = newest === release ? entryTexts.get(key) : await store.readText(`${newest}/${key}`, signal);
    const now = await store.readText(key, signal);
    const pointsAt = now === undefined ? undefined : releaseReferencedBy(key, now);
    if (own !== undefined) {
      entries.push(key);
      if (pointsAt !== newest) await store.putText(key, entryManifestFor(key, own, newest), objectHeadersFor(key), signal);
    } else if (pointsAt === release && newest !== release) {
      // This job's entry file that the newer release does not have (e.g. master-ts.m3u8).
      await store.deleteKeys([key], signal);
    }
  }
  if (newest === release) {
    // A record written over ours by an older job (a lost update) names it live again.
    if (record?.live !== release) {
      await updateRecord(store, fallback, (now) => (isNewer(now?.live, release) ? now : wentLive(now, video, release, [...entryTexts.keys()]).record), signal);
    }
    return undefined;
  }
  await updateRecord(store, fallback, (now) => {
    if (now === undefined || now.live === newest || isNewer(now.live, newest)) return now;
    return { ...now, live: newest, entries: entries.sort(), releases: [...new Set([...now.releases, newest])].sort(compareReleases) };
  }, signal);
  return newest;
}

/** The newest release the package points at: the record's live one, or what its entry files reference. */
async function currentRelease(store: ObjectStore, record: PackageRecord | undefined, signal: AbortSignal | undefined): Promise<string | undefined> {
  const found = record?.live === undefined ? [] : [record.live];
  // Every entry file, not only the record's: a record lost to a racing write must not hide a newer live release.
  for (const key of new Set([...KNOWN_ENTRIES, ...(record?.entries ?? [])])) {
    const text = await store.readText(key, signal);
    const release = text === undefined ? undefined : releaseReferencedBy(key, text);
    // A file the record does not list counts only if it points at a job's release (not a user's "jazzfestival/").
    if (release !== undefined && (record?.entries.includes(key) || isJobRelease(release))) found.push(release);
  }
  return found.sort(compareReleases).at(-1);
}

/**
 * After going live: deletes what the record lists and nothing uses any more. A leftover wastes
 * space but must not fail a publish that is live; it stays on the record for the next one.
 */
async function sweep(store: ObjectStore, change: ReturnType<typeof wentLive>, signal: AbortSignal | undefined): Promise<void> {
  const budget = withBudget(signal, store.operationTimeoutMs);
  try {
    if (change.staleEntries.length > 0) await store.deleteKeys(change.staleEntries, budget);
    // Read now, after the switch: a job that went live at the same moment may point them elsewhere.
    const referenced = new Set<string>();
    for (const key of new Set([...KNOWN_ENTRIES, ...change.record.entries])) {
      const text = await store.readText(key, budget);
      const release = text === undefined ? undefined : releaseReferencedBy(key, text);
      if (release !== undefined) referenced.add(release);
    }
    const removed: string[] = [];
    for (const release of change.staleReleases.filter((name) => !referenced.has(name))) {
      await store.deleteBelow(`${release}/`, budget);
      removed.push(release);
    }
    if (removed.length > 0) await updateRecord(store, undefined, (record) => removed.reduce(withoutRelease, record), budget);
  } catch {
    // See above: the next publish sweeps what is left.
  }
}

/**
 * A publish that did not go live takes its release back: a moved folder is returned (so a retry
 * needs no re-encode), sent files are deleted and the release leaves the record. After a timeout
 * the server is not asked again (the record still lists the release; the next publish removes
 * it); after Ctrl-C the clean-up gets a few seconds at most.
 */
async function giveUp(
  store: ObjectStore,
  chosen: Chosen,
  release: string,
  localDir: string,
  state: { claimed: boolean; moved: boolean },
  error: unknown,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (!state.moved && isTimeoutFailure(error)) return;
  const limit = signal?.aborted ? Math.min(store.operationTimeoutMs ?? INTERRUPTED_CLEANUP_MS, INTERRUPTED_CLEANUP_MS) : store.operationTimeoutMs;
  const budget = limit === undefined ? undefined : AbortSignal.timeout(limit);
  try {
    if (state.moved) await store.moveOut!(release, localDir);
    else if (state.claimed) await store.deleteBelow(`${release}/`, budget);
    if (state.claimed) await updateRecord(store, chosen.record, (record) => withoutRelease(record, release), budget);
    await store.pruneRoot?.();
  } catch {
    // The original failure is the one worth reporting; what is left is on the record.
  }
}

/** Ctrl-C once going live had begun: its message says which state the package is in. */
class SwitchInterrupted extends VidpipeError {}

/** Fires `ms` after `signal` does: work that should finish if it can, but not hold a Ctrl-C for long. */
function afterGrace(signal: AbortSignal | undefined, ms: number): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const controller = new AbortController();
  const later = (): void => void setTimeout(() => controller.abort(signal.reason), ms).unref();
  if (signal.aborted) later();
  else signal.addEventListener('abort', later, { once: true });
  return controller.signal;
}

/** The caller's signal, limited to `ms` when given (clean-ups must end even if the server does not). */
function withBudget(signal: AbortSignal | undefined, ms: number | undefined): AbortSignal | undefined {
  if (ms === undefined) return signal;
  return signal ? AbortSignal.any([signal, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms);
}

function publishError(error: unknown, root: string, hint: string | undefined, signal: AbortSignal | undefined): VidpipeError {
  if (error instanceof SwitchInterrupted) return error;
  if (signal?.aborted) {
    return new VidpipeError('INTERRUPTED', `publishing to ${root} was interrupted; no manifest was written and the previous package is unchanged`, { cause: error });
  }
  if (error instanceof VidpipeError) {
    // A bucket that vanished after the preflight is a storage failure, not a bad input.
    if (error.code === 'INPUT_NOT_FOUND') return new VidpipeError('STORAGE_FAILED', `publishing to ${root} failed: ${error.message}`, { cause: error, hint: error.hint });
    return error;
  }
  return new VidpipeError('STORAGE_FAILED', `publishing to ${root} failed: ${describeFsError(error)}`, { cause: error, hint });
}
