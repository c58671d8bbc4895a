import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { VidpipeError } from '../../src/errors.js';
import { entryManifestFor, releaseReferencedBy } from '../../src/storage/release.js';
import { applyOverrides, overridesFromMetadata, overridesFromSidecar, UPLOAD_LIMITS } from '../../src/watch/overrides.js';
import { parseS3Notification } from '../../src/watch/sqs.js';
import { trackKeyBeside, trackKeysOfSidecar } from '../../src/watch/upload-tracks.js';
import { WatchStore } from '../../src/watch/store.js';
import { packageNameFor, Watcher, type WatchOutcome } from '../../src/watch/watcher.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseLocation } from '../../src/storage/index.js';
import { parseTranscodeOptions } from '../../src/settings/job-settings.js';
import { tempDir } from '../helpers/media.js';

const OBJECT = { bucket: 'inbox', key: 'uploads/a.mp4', etag: 'e1', size: 10 };

/** Two watchers (two connections) on one database file, on a clock the test moves. */
async function twoWatchers(t: { after(fn: () => unknown): void }, options = { leaseMs: 10_000, maxAttempts: 2 }) {
  const { dir, cleanup } = await tempDir();
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const now = () => new Date(clock.now);
  const file = path.join(dir, 'w.db');
  const a = await WatchStore.open(file, { owner: 'watcher-a', now, ...options });
  const b = await WatchStore.open(file, { owner: 'watcher-b', now, ...options });
  t.after(async () => {
    await a.close();
    await b.close();
    await cleanup();
  });
  return { a, b, clock };
}

describe('WatchStore claims', () => {
  it('lets exactly one of two watchers on one database claim an object, and never redoes a done one', async (t) => {
    const { a, b, clock } = await twoWatchers(t);
    assert.deepEqual(await a.claim(OBJECT), { claimed: true, attempt: 1 });
    assert.deepEqual(await b.claim(OBJECT), { claimed: false, reason: 'busy' });
    assert.equal(await b.renew(OBJECT), false, 'only the holder renews');
    assert.equal(await a.renew(OBJECT), true);
    await a.finish(OBJECT, 'done', { jobId: 'j1', outputs: { hls: 's3://vod/a/master.m3u8' } });
    assert.deepEqual(await b.claim(OBJECT), { claimed: false, reason: 'finished' });
    assert.equal(await b.isFinished(OBJECT), true);
    clock.now += 3_600_000;
    assert.deepEqual(await a.claim(OBJECT), { claimed: false, reason: 'finished' }, 'done stays done');
    // A re-upload (new ETag) is new work.
    assert.deepEqual(await b.claim({ ...OBJECT, etag: 'e2' }), { claimed: true, attempt: 1 });
    assert.equal((await a.get('inbox', OBJECT.key))?.jobId, null);
  });

  it('retries an object whose lease expired, then gives up with the reason', async (t) => {
    const { a, b, clock } = await twoWatchers(t);
    assert.equal((await a.claim(OBJECT)).claimed, true);
    clock.now += 9_000;
    assert.deepEqual(await b.claim(OBJECT), { claimed: false, reason: 'busy' });
    clock.now += 2_000; // a was killed: its lease ran out
    assert.deepEqual(await b.claim(OBJECT), { claimed: true, attempt: 2 });
    clock.now += 11_000;
    const gaveUp = await a.claim(OBJECT);
    assert.equal(gaveUp.claimed, false);
    assert.equal(gaveUp.claimed === false && gaveUp.reason, 'gave-up');
    const row = (await a.get('inbox', OBJECT.key))!;
    assert.equal(row.status, 'failed');
    assert.match(row.error ?? '', /gave up after 2 attempt\(s\): .*lease expired/);
  });

  it('a clean release costs no attempt; a transient failure does', async (t) => {
    const { a, b, clock } = await twoWatchers(t);
    await a.claim(OBJECT);
    await a.release(OBJECT, { countAttempt: false });
    assert.deepEqual(await b.claim(OBJECT), { claimed: true, attempt: 1 });
    await b.release(OBJECT, { countAttempt: true, error: 'publishing failed' });
    assert.deepEqual(await a.claim(OBJECT), { claimed: true, attempt: 2 });
    assert.equal((await a.get('inbox', OBJECT.key))?.error, 'publishing failed');
  });
});

describe('per-upload overrides', () => {
  const base = parseTranscodeOptions({ codecs: 'h264', preset: 'medium', concurrency: '2', segmentDuration: '6', audioBitrate: '128', thumbnails: true, stallTimeout: '300', out: 's3://b/vod/' }).settings;

  it('reads metadata and sidecars into validated settings, the sidecar winning', () => {
    const metadata = overridesFromMetadata({ 'vidpipe-preset': 'fast', 'vidpipe-segment-duration': '4', 'vidpipe-tag-team': 'news', other: 'x' }, 'meta');
    const sidecar = overridesFromSidecar('{"ladder": [{"size": 360, "kbps": 700}, "144p"], "preset": "ultrafast", "thumbnails": false, "name": "Intro"}', 'sidecar');
    const applied = applyOverrides(base, metadata, sidecar);
    assert.equal(applied.settings.preset, 'ultrafast');
    assert.equal(applied.settings.segmentDurationSeconds, 4);
    const rungs = applied.settings.rungs;
    assert.ok(Array.isArray(rungs));
    assert.deepEqual(rungs.map((r) => r.size), [360, 144]);
    assert.equal(rungs[0]?.kbps, 700);
    assert.equal(applied.settings.thumbnails, false);
    assert.equal(applied.name, 'Intro');
    assert.deepEqual(metadata.tags, { team: 'news' });
  });

  it('rejects unknown settings, bad values and file paths with the place and the flag named', () => {
    const usage = (fn: () => unknown, pattern: RegExp) =>
      assert.throws(fn, (e: unknown) => e instanceof VidpipeError && e.code === 'USAGE' && pattern.test(e.message));
    usage(() => overridesFromSidecar('{"ladr": "720p"}', 's3://b/a.mp4.vidpipe.json'), /a\.mp4\.vidpipe\.json: unknown setting "ladr"/);
    usage(() => overridesFromSidecar('[1]', 'sc'), /expected a JSON object/);
    usage(() => overridesFromSidecar('{"ladder": "/etc/profile.json"}', 'sc'), /"ladder" must be rungs, not a file path/);
    usage(() => applyOverrides(base, overridesFromSidecar('{"segmentDuration": 99}', 'sc')), /^sc: --segment-duration/);
    usage(() => applyOverrides(base, overridesFromSidecar('{"preset": "warp"}', 'sc')), /^sc: /);
  });

  it('reads audio tracks as objects beside the upload, never paths out of its folder', () => {
    const sidecar = overridesFromSidecar(JSON.stringify({ audioTracks: ['film.fr.m4a:fr:dub', { file: 'tracks/ad.mp3', language: 'en', role: 'description', offset: 1.5 }] }), 'sc');
    assert.deepEqual(sidecar.settings.audioTracks, [
      { path: 'film.fr.m4a', language: 'fr', role: 'dub' },
      { path: 'tracks/ad.mp3', language: 'en', role: 'description', offsetSeconds: 1.5 },
    ]);
    assert.deepEqual(overridesFromMetadata({ 'vidpipe-audio-track': 'dub.m4a:de' }, 'meta').settings.audioTracks, [{ path: 'dub.m4a', language: 'de' }]);
    assert.deepEqual(trackKeysOfSidecar(JSON.stringify({ audioTracks: ['dub.m4a', { file: 'x/ad.mp3' }] }), 'in/films/film.mp4.vidpipe.json'), ['in/films/dub.m4a', 'in/films/x/ad.mp3']);
    assert.equal(trackKeyBeside('film.mp4', 'dub.m4a'), 'dub.m4a');
    const usage = (text: string, pattern: RegExp) =>
      assert.throws(() => overridesFromSidecar(text, 'sc'), (e: unknown) => e instanceof VidpipeError && e.code === 'USAGE' && pattern.test(e.message));
    for (const name of ['/etc/passwd', '../other/dub.m4a', 'a/../../b.m4a', 's3://elsewhere/dub.m4a', 'file:///etc/passwd', 'a//b.m4a']) {
      usage(JSON.stringify({ audioTracks: [name] }), /is not the name of an object beside the upload/);
    }
    usage(JSON.stringify({ audioTracks: [{ file: 'dub.m4a', role: 'karaoke' }] }), /"karaoke" is not one of main, dub, description, commentary/);
    usage(JSON.stringify({ audioTracks: [{ file: 'dub.m4a', lang: 'fr' }] }), /unknown field "lang"/);
  });

  it('bounds what a sidecar or metadata may store: whole size, each text, tags, nesting; refused with the place and the limit', () => {
    const usage = (fn: () => unknown, pattern: RegExp) =>
      assert.throws(fn, (e: unknown) => e instanceof VidpipeError && e.code === 'USAGE' && pattern.test(e.message) && /not processed/.test(e.message));
    const where = 's3://b/a.mp4.vidpipe.json';
    const tags = (count: number, value = 'v') => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, value]));
    // A huge sidecar is refused by its size, before it is parsed (this one is not even JSON).
    usage(() => overridesFromSidecar(`{"tags": {"a": "${'x'.repeat(5_000_000)}`, where), /a\.mp4\.vidpipe\.json: a sidecar is at most 65536 bytes; this one is 5000016 bytes/);
    // One huge value, under the sidecar's size: a tag, the package name, a key.
    usage(() => overridesFromSidecar(JSON.stringify({ tags: { note: 'x'.repeat(5000) } }), where), /"tags\.note" is 5000 characters long, more than the 1024 allowed/);
    usage(() => overridesFromSidecar(JSON.stringify({ name: 'n'.repeat(2000) }), where), /"name" is 2000 characters/);
    usage(() => overridesFromSidecar(JSON.stringify({ tags: { ['k'.repeat(2000)]: 'v' } }), where), /a key of "tags" is 2000 characters/);
    usage(() => overridesFromMetadata({ 'vidpipe-tag-note': 'x'.repeat(5000) }, 'metadata of s3://b/a.mp4'), /^metadata of s3:\/\/b\/a\.mp4: "tags\.note" is 5000 characters/);
    // Too many tags, from a sidecar or from metadata.
    usage(() => overridesFromSidecar(JSON.stringify({ tags: tags(65) }), where), /sets 65 tags, more than the 64 allowed/);
    usage(() => overridesFromMetadata(Object.fromEntries(Object.entries(tags(100)).map(([k, v]) => [`vidpipe-tag-${k}`, v])), 'meta'), /^meta: sets 100 tags/);
    // Deep nesting, shallow (a few levels) and deeper than any recursion could follow.
    usage(() => overridesFromSidecar('{"tags": {"a": {"b": {"c": {"d": "e"}}}}}', where), /"tags\.a\.b\.c" is nested more than 4 levels deep/);
    usage(() => overridesFromSidecar(`{"ladder": ${'['.repeat(30_000)}${']'.repeat(30_000)}}`, where), /nested more than 4 levels deep/);
    // At the limits, still accepted.
    const atLimits = overridesFromSidecar(JSON.stringify({ ladder: [{ size: 360, kbps: 700 }], name: 'n'.repeat(UPLOAD_LIMITS.textLength), tags: tags(UPLOAD_LIMITS.tags, 'x'.repeat(500)) }), where);
    assert.equal(Object.keys(atLimits.tags!).length, 64);
  });

  it('derives package names from the key below the watched prefix', () => {
    assert.equal(packageNameFor('uploads/talks/My Talk.mp4', 'uploads/'), 'talks-My-Talk');
    assert.equal(packageNameFor('clip.mov', ''), 'clip');
  });
});

describe('S3 event notifications', () => {
  const record = (key: string, eventName = 'ObjectCreated:Put') => ({
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    eventName,
    s3: { bucket: { name: 'inbox' }, object: { key, size: 5, eTag: '"abc"' } },
  });

  it('parses records (decoding keys), SNS envelopes and the test event', () => {
    const direct = parseS3Notification(JSON.stringify({ Records: [record('uploads/My+Talk%C3%A9.mp4'), record('x.mp4', 'ObjectRemoved:Delete')] }));
    assert.deepEqual(direct, { isTestEvent: false, objects: [{ bucket: 'inbox', key: 'uploads/My Talké.mp4', etag: 'abc', size: 5 }] });
    const viaSns = parseS3Notification(JSON.stringify({ Type: 'Notification', Message: JSON.stringify({ Records: [record('a.mp4')] }) }));
    assert.equal(viaSns.objects[0]?.key, 'a.mp4');
    assert.deepEqual(parseS3Notification('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"inbox"}'), { objects: [], isTestEvent: true });
    assert.throws(() => parseS3Notification('not json'), /not JSON/);
    assert.throws(() => parseS3Notification('{"hello":1}'), /no "Records"/);
  });
});

describe('release entry manifests', () => {
  it('point every relative reference into the release folder and can be read back', () => {
    const master = '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI="audio/aac/index.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nvideo/v/index.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="https://cdn/x.m3u8"\n';
    const entry = entryManifestFor('master.m3u8', master, 'jmww3tnc0cda7b07f');
    assert.match(entry, /URI="jmww3tnc0cda7b07f\/audio\/aac\/index\.m3u8"/);
    assert.match(entry, /^jmww3tnc0cda7b07f\/video\/v\/index\.m3u8$/m);
    assert.match(entry, /URI="https:\/\/cdn\/x\.m3u8"/, 'absolute URIs untouched');
    assert.equal(releaseReferencedBy('master.m3u8', entry), 'jmww3tnc0cda7b07f');
    const mpd = entryManifestFor('manifest.mpd', '<?xml version="1.0"?>\n<MPD type="static">\n  <Period/>\n</MPD>', 'jmww3tnc0cda7b07f');
    assert.match(mpd, /<MPD type="static">\n {2}<BaseURL>jmww3tnc0cda7b07f\/<\/BaseURL>\n {2}<Period\/>/);
    assert.equal(releaseReferencedBy('manifest.mpd', mpd), 'jmww3tnc0cda7b07f');
    assert.equal(releaseReferencedBy('master.m3u8', master), undefined, 'a flat package has no release');
  });
});

/** An S3 client that answers ListObjectsV2 with `listed` and HEAD with `head()` (an answer, or a thrown error). */
function fakeS3(listed: Array<{ key: string; etag: string; size: number }>, head: () => unknown) {
  const calls: string[] = [];
  const client = {
    send: async (command: { constructor: { name: string } }) => {
      const kind = command.constructor.name;
      calls.push(kind);
      if (kind === 'ListObjectsV2Command') return { Contents: listed.map((o) => ({ Key: o.key, ETag: `"${o.etag}"`, Size: o.size, LastModified: new Date(0) })) };
      if (kind === 'HeadObjectCommand') {
        const answer = head();
        if (answer instanceof Error) throw answer;
        return answer;
      }
      throw new Error(`unexpected ${kind}`);
    },
  } as unknown as S3Client;
  return { client, calls };
}

function s3Error(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

/** A watcher over inbox/up/ with a fake client and its own database. */
async function watcherWith(t: { after(fn: () => unknown): void }, client: S3Client, options: { once?: boolean; intervalMs?: number; leaseMs?: number } = {}) {
  const { dir, cleanup } = await tempDir();
  const store = await WatchStore.open(path.join(dir, 'w.db'), { owner: 'w', leaseMs: options.leaseMs ?? 10_000, maxAttempts: 2 });
  t.after(async () => {
    await store.close();
    await cleanup();
  });
  const settings = parseTranscodeOptions({ codecs: 'h264', preset: 'medium', concurrency: '1', segmentDuration: '6', audioBitrate: '128', thumbnails: true, stallTimeout: '300', out: 's3://vod/' }).settings;
  const lines: string[] = [];
  const outcomes: WatchOutcome[] = [];
  const watcher = new Watcher(
    { bucket: 'inbox', prefix: 'up/', out: parseLocation('s3://vod/'), outText: 's3://vod/', intervalMs: options.intervalMs ?? 10_000, maxAttempts: 2, settings, request: {} as never, once: options.once },
    store,
    client,
    { log: (line) => lines.push(line), onOutcome: (outcome) => outcomes.push(outcome) },
    options.leaseMs ?? 10_000,
  );
  return { watcher, store, lines, outcomes };
}

describe('the watcher and a HEAD that fails', () => {
  const OBJ = { bucket: 'inbox', key: 'up/a.mp4', etag: 'e1', size: 10 };
  const transient = { 'a 503 SlowDown': () => s3Error('SlowDown', 503), 'a 500': () => s3Error('InternalError', 500), 'a reset connection': () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) };

  for (const [label, failure] of Object.entries(transient)) {
    it(`${label}: a running watcher never skips the upload, it asks again at later polls; --once still ends`, async (t) => {
      const { client } = fakeS3([OBJ], failure);
      const { watcher, lines, outcomes } = await watcherWith(t, client);
      const stop = new AbortController().signal;
      for (let i = 0; i < 4; i++) assert.equal(await watcher.processObject(OBJ, stop), 'busy');
      assert.deepEqual(outcomes, [], 'never skipped');
      assert.ok(lines.every((line) => /tried again at the next poll/.test(line)), lines.join('\n'));
      await watcher.poll(stop);
      assert.deepEqual((await watcher.poll(stop)).ready.map((o) => o.key), ['up/a.mp4'], 'still taken up at the next poll');

      const once = await watcherWith(t, fakeS3([OBJ], failure).client, { once: true });
      for (let i = 0; i < 2; i++) await once.watcher.processObject(OBJ, stop);
      assert.deepEqual(once.outcomes.map((o) => o.watchStatus), ['skipped'], '--once is bounded');
    });
  }

  for (const [label, failure] of Object.entries({ 'a 403 AccessDenied': () => s3Error('AccessDenied', 403), 'a 400': () => s3Error('BadRequest', 400) })) {
    it(`${label} counts toward skipping: after --max-attempts polls it is skipped`, async (t) => {
      const { client } = fakeS3([OBJ], failure);
      const { watcher, outcomes } = await watcherWith(t, client);
      const stop = new AbortController().signal;
      for (let i = 0; i < 2; i++) await watcher.processObject(OBJ, stop);
      assert.deepEqual(outcomes.map((o) => o.watchStatus), ['skipped']);
      await watcher.poll(stop);
      assert.deepEqual((await watcher.poll(stop)).ready, [], 'left alone until its listing changes');
    });
  }
});

describe('the watcher and an upload another vidpipe is running (BUSY)', () => {
  const OBJ = { bucket: 'inbox', key: 'up/a.mp4', etag: 'e1', size: 10 };
  const busy = new VidpipeError('BUSY', 'another vidpipe (pid 1) is running this job right now');

  for (const once of [false, true]) {
    it(`is left alone for a while after each BUSY, backing off (${once ? '--once' : 'a running watcher'}), not downloaded again at every poll`, async (t) => {
      const { client } = fakeS3([OBJ], () => ({ ETag: '"e1"', ContentLength: 10 }));
      const { watcher, store } = await watcherWith(t, client, { once, intervalMs: 150, leaseMs: 5000 });
      const stop = new AbortController().signal;
      const settle = (watcher as unknown as { settle: (...args: unknown[]) => Promise<WatchOutcome> }).settle.bind(watcher);
      await watcher.poll(stop);
      assert.equal((await store.claim(OBJ)).claimed, true);
      assert.equal((await settle(OBJ, 1, stop, () => false, busy)).watchStatus, 'retry');
      const held = await watcher.poll(stop);
      assert.deepEqual(held, { ready: [], settling: 1 }, 'held off, and still waited for');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual((await watcher.poll(stop)).ready.map((o) => o.key), ['up/a.mp4'], 'tried again after the interval');
      assert.equal((await store.claim(OBJ)).claimed, true);
      await settle(OBJ, 1, stop, () => false, busy);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual((await watcher.poll(stop)).ready, [], 'the second wait is longer (twice the interval)');
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.deepEqual((await watcher.poll(stop)).ready.map((o) => o.key), ['up/a.mp4']);
    });
  }
});

describe('the watcher and an upload deleted while it was processed', () => {
  const OBJ = { bucket: 'inbox', key: 'up/a.mp4', etag: 'e1', size: 10 };
  const changed = new VidpipeError('SOURCE_CHANGED', 's3://inbox/up/a.mp4 changed while it was being processed (it was deleted); nothing was published');

  it('finishes its row with a true reason; a newer version leaves it pending for that version', async (t) => {
    let head: unknown = s3Error('NotFound', 404);
    const { client } = fakeS3([OBJ], () => head);
    const { watcher, store, lines } = await watcherWith(t, client);
    const stop = new AbortController().signal;
    const settle = (watcher as unknown as { settle: (...args: unknown[]) => Promise<WatchOutcome> }).settle.bind(watcher);
    assert.equal((await store.claim(OBJ)).claimed, true);
    const outcome = await settle(OBJ, 1, stop, () => false, changed);
    assert.equal(outcome.watchStatus, 'superseded');
    assert.match(outcome.error!.message, /deleted while it was processed; nothing was published, and nothing is left to process/);
    assert.equal((await store.get('inbox', OBJ.key))?.status, 'failed', 'finished, not pending for good');
    assert.equal(await store.isFinished(OBJ), true);
    assert.doesNotMatch(lines.join('\n'), /new version is processed/);

    head = { ETag: '"e2"', ContentLength: 12 };
    const other = { ...OBJ, key: 'up/b.mp4' };
    assert.equal((await store.claim(other)).claimed, true);
    await settle(other, 1, stop, () => false, changed);
    assert.equal((await store.get('inbox', other.key))?.status, 'pending');
    assert.match(lines.at(-1)!, /the new version is processed once it has settled/);
  });
});
