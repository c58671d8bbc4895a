/** The package record's rules (src/storage/package-record.ts): ownership, names, claims, sweeps, adoption. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VidpipeError } from '../../src/errors.js';
import {
  adoptedRecord,
  candidateNames,
  CLAIM_LEASE_MS,
  emptyRecord,
  foreignNames,
  formatRecord,
  parseRecord,
  pickCandidate,
  RECORD_FORMAT,
  RECORD_KEY,
  sameVideo,
  standingOf,
  type PackageRecord,
  wentLive,
  withClaim,
  withoutRelease,
} from '../../src/storage/package-record.js';
import { isJobRelease } from '../../src/storage/release.js';

const A = { id: 'v3f2a9c0d1e4b', sha256: '3f2a9c0d1e4b'.padEnd(64, '7') };
const B = { id: 'v8e1d2c3b4a59', sha256: '8e1d2c3b4a59'.padEnd(64, '1') };
const R1 = 'jmww3aaaa00000001';
const R2 = 'jmww3bbbb00000002';
const R3 = 'jmww3cccc00000003';

function record(fields: Partial<PackageRecord>): PackageRecord {
  return { format: RECORD_FORMAT, entries: [], releases: [], updatedAt: '', ...fields };
}

describe('package record', () => {
  it('round-trips, and refuses a file of that name that is not a record', () => {
    const written = record({ video: A, live: R1, entries: ['manifest.mpd', 'master.m3u8'], releases: [R1] });
    const parsed = parseRecord(formatRecord(written, new Date('2026-01-02T03:04:05Z')), 'x');
    assert.deepEqual(parsed, { ...written, updatedAt: '2026-01-02T03:04:05.000Z' });
    for (const text of ['not json', '{}', '{"format":"vidpipe-record/2","entries":[],"releases":[]}', `{"format":"${RECORD_FORMAT}","entries":"master.m3u8","releases":[]}`]) {
      assert.throws(() => parseRecord(text, '/out/talk/vidpipe-record.json'), (error: unknown) => error instanceof VidpipeError && error.code === 'USAGE' && /vidpipe-record\.json is not a vidpipe package record/.test(error.message), text);
    }
  });

  it('tells videos apart by SHA-256, or by id when a hash is unknown', () => {
    assert.equal(sameVideo(A, A), true);
    assert.equal(sameVideo(A, B), false);
    assert.equal(sameVideo({ id: A.id, sha256: '' }, A), true, 'an adopted package knows only the id');
    assert.equal(sameVideo({ id: A.id, sha256: B.sha256 }, A), false, 'hashes decide when both are known');
    assert.equal(sameVideo(undefined, A), false);
  });

  it('says whose a package root is', () => {
    assert.equal(standingOf(undefined, A), 'free');
    assert.equal(standingOf(record({ video: A, live: R1, releases: [R1] }), A), 'ours');
    assert.equal(standingOf(record({ video: B, live: R1, releases: [R1] }), A), 'other');
    assert.equal(standingOf(record({ live: R1, entries: ['master.m3u8'], releases: [R1] }), A), 'other', 'an adopted package of an unknown video');
    assert.equal(standingOf(record({ video: B }), A), 'free', 'a record with nothing in it holds nothing');
    assert.equal(standingOf(record({ video: B, releases: [R1] }), A), 'other', 'a first publish in flight reserves the name');
  });
});

describe('the empty record (written where the last release left, never a deleted record)', () => {
  it('reads back, holds nothing, and a claim on it makes the package the claiming video\'s', () => {
    const empty = parseRecord(formatRecord(emptyRecord()), RECORD_KEY);
    assert.deepEqual({ ...empty, updatedAt: '' }, emptyRecord());
    const video = { id: 'va1a1a1a1a1a1', sha256: 'a1'.repeat(32) };
    assert.equal(standingOf(empty, video), 'free');
    const claimed = withClaim(empty, video, 'jmxd0000000000001');
    assert.deepEqual(claimed.video, video);
    assert.equal(withoutRelease(claimed, 'jmxd0000000000001'), undefined, 'nothing left: the caller writes the empty record');
  });
});

describe('package names', () => {
  it('are the name asked for, then the same with the first hex digits of the SHA-256', () => {
    assert.deepEqual(candidateNames('clip', A, false), ['clip', 'clip-3f2a9c0d', 'clip-3f2a9c0d1e4b7777', `clip-${A.sha256}`]);
    assert.deepEqual(candidateNames('clip', A, true), ['clip'], 'a name given on purpose is the only one');
    assert.deepEqual(candidateNames('clip', { id: 'v0123456789ab', sha256: '' }, false), ['clip', 'clip-01234567', 'clip-0123456789ab']);
    assert.deepEqual(candidateNames('clip', A, false), candidateNames('clip', A, false), 'deterministic');
  });

  it('pick the video\'s own package first, else the first free name, whatever order videos came in', () => {
    // Nothing known yet about later names: look further before settling on a free one.
    assert.equal(pickCandidate(['free'], 4), undefined);
    assert.equal(pickCandidate(['ours'], 4), 0);
    assert.equal(pickCandidate(['other', 'ours'], 4), 1);
    assert.equal(pickCandidate(['free', 'ours'], 4), 1, 'the package it already has, even if the plain name is free again');
    assert.equal(pickCandidate(['free', 'free'], 4), 0, 'longer names are only looked at when shorter ones are taken');
    assert.equal(pickCandidate(['other', 'free'], 4), 1);
    assert.equal(pickCandidate(['other', 'other'], 4), undefined);
    assert.equal(pickCandidate(['other', 'other', 'ours'], 4), 2);
    assert.equal(pickCandidate(['other', 'other', 'free'], 4), 2);
    assert.equal(pickCandidate(['other', 'other', 'other', 'other'], 4), -1);
    assert.equal(pickCandidate(['other'], 1), -1);
  });

  it('find names at the root that vidpipe needs and did not write', () => {
    const needed = ['master.m3u8', 'manifest.mpd', RECORD_KEY];
    const present = new Set(['master.m3u8', 'index.html', RECORD_KEY]);
    assert.deepEqual(foreignNames(needed, present, undefined, false), ['master.m3u8', RECORD_KEY]);
    assert.deepEqual(foreignNames(needed, present, record({ entries: ['master.m3u8'] }), true), [], 'its own entries and record');
    assert.deepEqual(foreignNames([...needed, 'master-ts.m3u8'], new Set(['master-ts.m3u8']), record({ entries: ['master.m3u8'] }), true), ['master-ts.m3u8']);
  });
});

describe('record changes', () => {
  it('a claim lists the release before anything is sent; the owner changes only when it goes live', () => {
    const now = new Date('2026-12-01T10:00:00.000Z');
    assert.deepEqual(withClaim(undefined, A, R1, now), record({ video: A, releases: [R1], claims: { [R1]: now.toISOString() } }));
    const live = record({ video: B, live: R1, entries: ['manifest.mpd', 'master.m3u8'], releases: [R1] });
    assert.deepEqual(withClaim(live, A, R2, now), { ...live, releases: [R1, R2], claims: { [R2]: now.toISOString() } }, 'still B\'s until A goes live');
    assert.deepEqual(withClaim(record({ video: B }), A, R2, now), record({ video: A, releases: [R2], claims: { [R2]: now.toISOString() } }), 'an empty record is taken over');
  });

  it('giving a release up takes it off the record, and drops a record left with nothing', () => {
    assert.equal(withoutRelease(record({ video: A, releases: [R1] }), R1), undefined);
    const live = record({ video: A, live: R1, entries: ['master.m3u8'], releases: [R1, R2] });
    assert.deepEqual(withoutRelease(live, R2), { ...live, releases: [R1] });
    assert.equal(withoutRelease(undefined, R1), undefined);
  });

  it('going live names the new owner and what the sweep removes: older releases and unused entries, never newer ones', () => {
    const before = record({ video: B, live: R1, entries: ['manifest.mpd', 'master-ts.m3u8', 'master.m3u8'], releases: [R1, R2, R3] });
    const change = wentLive(before, A, R2, ['master.m3u8', 'manifest.mpd']);
    assert.deepEqual(change.record, record({ video: A, live: R2, entries: ['manifest.mpd', 'master.m3u8'], releases: [R1, R2, R3] }));
    assert.deepEqual(change.staleReleases, [R1]);
    assert.deepEqual(change.staleEntries, ['master-ts.m3u8']);
  });

  it('a release claimed lately by a job that may still be sending or switching is never stale; the one live before and old leftovers are', () => {
    const now = new Date('2026-12-01T10:00:00.000Z');
    const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();
    const R0 = 'jmww3999900000000';
    // R1 was live; R0 is a leftover of a day-old killed publish; R2 (older than ours, claimed a minute ago) is a racing job's.
    const before = record({ video: A, live: R1, entries: ['master.m3u8'], releases: [R0, R1, R2, R3], claims: { [R0]: minutesAgo(25 * 60), [R1]: minutesAgo(30), [R2]: minutesAgo(1) } });
    const change = wentLive(before, A, R3, ['master.m3u8'], now);
    assert.deepEqual(change.staleReleases, [R0, R1].sort(), 'R2 stays for its job');
    assert.deepEqual(change.record.claims, { [R0]: minutesAgo(25 * 60), [R1]: minutesAgo(30), [R2]: minutesAgo(1) });
    assert.deepEqual(withoutRelease(change.record, R2)?.claims, { [R0]: minutesAgo(25 * 60), [R1]: minutesAgo(30) }, 'a release leaves with its claim');
    assert.deepEqual(parseRecord(formatRecord(change.record), 'r').claims, change.record.claims, 'claims round-trip');
    // A lease not renewed: R2's claim, a minute old, is a dead job's under a shorter lease, and after CLAIM_LEASE_MS under the default.
    assert.deepEqual(wentLive(before, A, R3, ['master.m3u8'], now, 30_000).staleReleases, [R0, R1, R2].sort());
    assert.deepEqual(wentLive(before, A, R3, ['master.m3u8'], new Date(now.getTime() + CLAIM_LEASE_MS)).staleReleases, [R0, R1, R2].sort());
    assert.deepEqual(withClaim(before, A, R2, now).claims?.[R2], now.toISOString(), 'a renewal moves only its own time');
    assert.deepEqual(withClaim(before, A, R2, now).releases, before.releases);
  });
});

describe('packages written before the record', () => {
  it('are adopted by entry manifests that point into a job-id release folder', () => {
    const adopted = adoptedRecord(new Map([['master.m3u8', R1], ['manifest.mpd', R1], ['master-ts.m3u8', undefined]]), { id: A.id, sha256: '' });
    assert.deepEqual(adopted, record({ video: { id: A.id, sha256: '' }, live: R1, entries: ['manifest.mpd', 'master.m3u8'], releases: [R1] }));
    assert.equal(adoptedRecord(new Map([['master.m3u8', undefined]]), undefined), undefined, 'a playlist of the user\'s own');
    assert.equal(adoptedRecord(new Map([['master.m3u8', 'jazzfestival']]), undefined), undefined, 'a folder that merely starts with j');
  });

  it('recognise release folders strictly: a job id of a plausible time', () => {
    const now = Date.UTC(2026, 11, 1);
    assert.equal(isJobRelease(`j${now.toString(36)}0a1b2c3d`, now), true);
    assert.equal(isJobRelease('jmww3tnc0cda7b07f', now), true);
    for (const name of ['jazzfestival', 'jazzfestival2024', 'j12345678zzzzzzzz', `j${(now + 7 * 86400_000).toString(36)}0a1b2c3d`, 'Jmww3tnc0cda7b07f', `j${Date.UTC(2015, 0, 1).toString(36)}0a1b2c3d`]) {
      assert.equal(isJobRelease(name, now), false, name);
    }
  });
});
