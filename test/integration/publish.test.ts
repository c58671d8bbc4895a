/**
 * The publish protocol (src/storage/publish.ts) on a local folder and on s3rver: it owns only
 * what it wrote, keeps one package per video, stops on names it did not write, adopts packages
 * of the previous version, and never waits without bound on a server that stops answering.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { VidpipeError } from '../../src/errors.js';
import { objectHeadersFor } from '../../src/storage/content-types.js';
import { RECORD_KEY } from '../../src/storage/package-record.js';
import { preflightPublish, type PublishTarget } from '../../src/storage/publish.js';
import { entryManifestFor } from '../../src/storage/release.js';
import { createS3Client, downloadObject, listObjects, readTextObject, S3Store, type S3Options } from '../../src/storage/s3.js';
import { parseLocation } from '../../src/storage/index.js';
import { startMidBodyStallServer, startSilentServer, startStallingProxy } from '../helpers/bad-servers.js';
import { tempDir } from '../helpers/media.js';
import { nextRelease, packageTree, publishTo, SMALL_PACKAGE, versioned, VIDEO_A, VIDEO_B, writePackage } from '../helpers/publish.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const exec = promisify(execFile);

async function rejectsWith(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<VidpipeError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => ((caught = error), true));
  assert.ok(caught instanceof VidpipeError, String(caught));
  assert.equal(caught.code, code, caught.message);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

/** A destination as the tests see it: publish into it, and read or write a package root from the outside. */
interface Place {
  out: string;
  s3?: S3Options;
  /** Every file of package `name` (the record without its timestamp). */
  tree(name: string): Promise<Record<string, string>>;
  put(name: string, key: string, content: string): Promise<void>;
}

const USER_FILES = { 'notes.txt': 'hi\n', 'index.html': '<!doctype html><title>mine</title>\n', 'captions/en.vtt': 'WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n' };

describe('the publish protocol', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let s3: S3TestServer;
  let client: S3Client;
  let n = 0;
  const work = (files = SMALL_PACKAGE) => writePackage(path.join(dir, `work-${n++}`), files);

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-publish-'));
    s3 = await startS3Server({ buckets: ['vod'] });
    client = createS3Client(s3.clientOptions());
  });
  after(async () => {
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  const local = (): Place => {
    const out = path.join(dir, `out-${n++}`);
    return {
      out,
      tree: (name) => packageTree(path.join(out, name)),
      put: async (name, key, content) => {
        const file = path.join(out, name, ...key.split('/'));
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, content);
      },
    };
  };
  const onS3 = (): Place => {
    const prefix = `p${n++}/`;
    return {
      out: `s3://vod/${prefix}`,
      s3: s3.clientOptions(),
      tree: async (name) => {
        const tree: Record<string, string> = {};
        for (const object of await listObjects(client, 'vod', `${prefix}${name}/`)) {
          const key = object.key.slice(`${prefix}${name}/`.length);
          const text = (await readTextObject(client, 'vod', object.key))!;
          tree[key] = key === RECORD_KEY ? JSON.stringify({ ...JSON.parse(text), updatedAt: undefined }) : text;
        }
        return tree;
      },
      put: (name, key, content) => new S3Store(client, 'vod', `${prefix}${name}/`).putText(key, content, objectHeadersFor(key)),
    };
  };

  for (const [label, place] of [['local', local], ['S3', onS3]] as const) {

    it(`${label}: files vidpipe did not write survive a first publish and a republish, byte for byte`, async () => {
      const p = place();
      for (const [key, content] of Object.entries(USER_FILES)) await p.put('talk', key, content);
      const r1 = nextRelease();
      await publishTo(p.out, 'talk', await work(versioned(SMALL_PACKAGE, 'v1')), { release: r1, s3: p.s3 });
      const r2 = nextRelease();
      await publishTo(p.out, 'talk', await work(versioned(SMALL_PACKAGE, 'v2')), { release: r2, s3: p.s3 });
      const tree = await p.tree('talk');
      for (const [key, content] of Object.entries(USER_FILES)) assert.equal(tree[key], content, key);
      const top = [...new Set(Object.keys(tree).map((key) => key.split('/')[0]))].sort();
      assert.deepEqual(top, [r2, 'captions', 'index.html', 'manifest.mpd', 'master.m3u8', 'notes.txt', RECORD_KEY].sort(), 'the old release went, nothing else did');
      assert.match(tree['master.m3u8']!, new RegExp(`^${r2}/video/h264-720p/index\\.m3u8$`, 'm'));
      const record = JSON.parse(tree[RECORD_KEY]!);
      assert.deepEqual([record.video, record.live, record.entries, record.releases], [VIDEO_A, r2, ['manifest.mpd', 'master.m3u8'], [r2]]);
    });

    it(`${label}: an entry name taken by a file vidpipe did not write stops before anything is written`, async () => {
      const p = place();
      await p.put('talk', 'master.m3u8', '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmy/own.m3u8\n');
      await p.put('talk', 'notes.txt', 'mine');
      const before = await p.tree('talk');
      const target: PublishTarget = { location: parseLocation(p.out), request: { name: 'talk', given: false, video: VIDEO_A }, release: nextRelease(), storage: { s3: p.s3 } };
      const error = await rejectsWith(preflightPublish(target, ['master.m3u8', 'manifest.mpd']), 'USAGE', /talk\/master\.m3u8 is already there and vidpipe did not write it/);
      assert.equal(new VidpipeError(error.code, '').exitCode, 2);
      await rejectsWith(publishTo(p.out, 'talk', await work(), { s3: p.s3 }), 'USAGE', /master\.m3u8 is already there/);
      // Not even a name given on purpose replaces a file vidpipe did not write.
      await rejectsWith(publishTo(p.out, 'talk', await work(), { s3: p.s3, given: true }), 'USAGE', /master\.m3u8 is already there/);
      assert.deepEqual(await p.tree('talk'), before, 'nothing written, nothing removed');

      await p.put('other', RECORD_KEY, '{"mine": true}');
      await rejectsWith(publishTo(p.out, 'other', await work(), { s3: p.s3 }), 'USAGE', /vidpipe-record\.json is not a vidpipe package record/);
    });

    it(`${label}: a record read while another job rewrites it (empty, or cut short, as s3rver serves it mid-write) is read again, not taken for a stranger's`, async () => {
      const p = place();
      const r1 = nextRelease();
      await publishTo(p.out, 'torn', await work(versioned(SMALL_PACKAGE, 'v1')), { release: r1, s3: p.s3 });
      const whole = (await p.tree('torn'))[RECORD_KEY]!;
      for (const part of ['', whole.slice(0, Math.floor(whole.length / 2))]) {
        await p.put('torn', RECORD_KEY, part);
        // The other job's write completes a moment later.
        const completed = delay(250).then(() => p.put('torn', RECORD_KEY, whole));
        const release = nextRelease();
        await publishTo(p.out, 'torn', await work(versioned(SMALL_PACKAGE, `v-${part.length}`)), { release, s3: p.s3 });
        await completed;
        const tree = await p.tree('torn');
        assert.match(tree['master.m3u8']!, new RegExp(`^${release}/`, 'm'), 'the new release went live');
        assert.equal(JSON.parse(tree[RECORD_KEY]!).live, release);
      }
    });

    it(`${label}: another video's package is never replaced by a derived name; --name replaces it on purpose`, async () => {
      const p = place();
      await p.put('clip', 'notes.txt', 'mine');
      await publishTo(p.out, 'clip', await work(versioned(SMALL_PACKAGE, 'a')), { video: VIDEO_A, s3: p.s3 });
      const a = await p.tree('clip');

      const target: PublishTarget = { location: parseLocation(p.out), request: { name: 'clip', given: false, video: VIDEO_B }, release: nextRelease(), storage: { s3: p.s3 } };
      assert.deepEqual(await preflightPublish(target, ['master.m3u8', 'manifest.mpd']), { name: 'clip-b2b2b2b2', note: '"clip" holds another video, so this one\'s package is "clip-b2b2b2b2"' });
      const b = await publishTo(p.out, 'clip', await work(versioned(SMALL_PACKAGE, 'b')), { video: VIDEO_B, s3: p.s3 });
      assert.equal(b.name, 'clip-b2b2b2b2');
      assert.ok(b.files.every((file) => file.uri.includes('/clip-b2b2b2b2/')));
      assert.deepEqual(await p.tree('clip'), a, 'the first video\'s package is untouched');

      // The same videos again, in the other order: each updates its own package.
      const b2 = await publishTo(p.out, 'clip', await work(versioned(SMALL_PACKAGE, 'b2')), { video: VIDEO_B, s3: p.s3 });
      const a2 = await publishTo(p.out, 'clip', await work(versioned(SMALL_PACKAGE, 'a2')), { video: VIDEO_A, s3: p.s3 });
      assert.deepEqual([b2.name, a2.name], ['clip-b2b2b2b2', 'clip']);
      assert.equal(JSON.parse((await p.tree('clip-b2b2b2b2'))[RECORD_KEY]!).releases.length, 1, 'its older release was swept');

      // Named on purpose: B replaces A's package; the user's file stays.
      const replaced = await publishTo(p.out, 'clip', await work(versioned(SMALL_PACKAGE, 'b3')), { video: VIDEO_B, given: true, s3: p.s3 });
      assert.equal(replaced.name, 'clip');
      assert.match(replaced.note ?? '', /replaces the package of another video \(va1a1a1a1a1a1\)/);
      const tree = await p.tree('clip');
      assert.equal(tree['notes.txt'], 'mine');
      assert.deepEqual(JSON.parse(tree[RECORD_KEY]!).video, VIDEO_B);
      assert.equal(Object.keys(tree).filter((key) => key.includes('seg_00001.m4s')).length, 2, 'one release: both renditions of it, nothing of A');
    });

    it(`${label}: a video keeps the package it has even when the plain name is free again`, async () => {
      const p = place();
      await publishTo(p.out, 'intro', await work(), { video: VIDEO_A, s3: p.s3 });
      assert.equal((await publishTo(p.out, 'intro', await work(), { video: VIDEO_B, s3: p.s3 })).name, 'intro-b2b2b2b2');
      // The first video's package is removed by hand; the second stays where it is.
      if (p.s3) {
        const store = new S3Store(client, 'vod', `${new URL(p.out).pathname.slice(1)}intro/`);
        await store.deleteBelow('');
      } else {
        await rm(path.join(p.out, 'intro'), { recursive: true });
      }
      assert.equal((await publishTo(p.out, 'intro', await work(), { video: VIDEO_B, s3: p.s3 })).name, 'intro-b2b2b2b2');
    });

    it(`${label}: a package of the previous version (releases, entry manifests, no record) is adopted`, async () => {
      const p = place();
      const old = 'jmww3aaaa00000001';
      for (const [key, content] of Object.entries(SMALL_PACKAGE)) await p.put('talk', `${old}/${key}`, content.toString());
      await p.put('talk', `${old}/vidpipe.json`, JSON.stringify({ format: 'vidpipe-package/1', result: { id: VIDEO_A.id } }));
      for (const key of ['master.m3u8', 'manifest.mpd']) await p.put('talk', key, entryManifestFor(key, SMALL_PACKAGE[key]!.toString(), old));
      await p.put('talk', 'notes.txt', 'mine');
      await p.put('talk', 'jazzfestival2024/poster.jpg', 'not a release');

      assert.equal((await publishTo(p.out, 'talk', await work(), { video: VIDEO_B, s3: p.s3 })).name, 'talk-b2b2b2b2', 'it holds video A');
      const release = nextRelease();
      assert.equal((await publishTo(p.out, 'talk', await work(), { video: VIDEO_A, release, s3: p.s3 })).name, 'talk');
      const tree = await p.tree('talk');
      const top = [...new Set(Object.keys(tree).map((key) => key.split('/')[0]))].sort();
      assert.deepEqual(top, [release, 'jazzfestival2024', 'manifest.mpd', 'master.m3u8', 'notes.txt', RECORD_KEY].sort(), 'the old release went; the user\'s folder did not');

      // Without a vidpipe.json the video is unknown: only a name given on purpose replaces it.
      const q = place();
      for (const [key, content] of Object.entries(SMALL_PACKAGE)) await q.put('talk', `${old}/${key}`, content.toString());
      for (const key of ['master.m3u8', 'manifest.mpd']) await q.put('talk', key, entryManifestFor(key, SMALL_PACKAGE[key]!.toString(), old));
      assert.equal((await publishTo(q.out, 'talk', await work(), { video: VIDEO_A, s3: q.s3 })).name, 'talk-a1a1a1a1');
      assert.equal((await publishTo(q.out, 'talk', await work(), { video: VIDEO_A, given: true, s3: q.s3 })).name, 'talk');
      assert.ok(!Object.keys(await q.tree('talk')).some((key) => key.startsWith(`${old}/`)));
    });

    it(`${label}: a release left by a killed publish is on the record and goes with the next publish; old entry files too`, async () => {
      const p = place();
      await publishTo(p.out, 'talk', await work({ ...SMALL_PACKAGE, 'master-ts.m3u8': '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nvideo/ts/index.m3u8\n' }), { s3: p.s3 });
      // What a publish killed after its claim leaves: a half-sent release the record lists.
      const killed = nextRelease();
      const record = JSON.parse((await p.tree('talk'))[RECORD_KEY]!);
      await p.put('talk', RECORD_KEY, JSON.stringify({ ...record, releases: [...record.releases, killed] }));
      await p.put('talk', `${killed}/video/h264-720p/seg_00001.m4s`, 'half');
      const release = nextRelease();
      await publishTo(p.out, 'talk', await work(), { release, s3: p.s3 });
      const tree = await p.tree('talk');
      assert.deepEqual([...new Set(Object.keys(tree).map((key) => key.split('/')[0]))].sort(), [release, 'manifest.mpd', 'master.m3u8', RECORD_KEY].sort());
      assert.deepEqual(JSON.parse(tree[RECORD_KEY]!).releases, [release]);
    });
  }

  it('local: a destination below a file is refused before anything is written', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'x');
    const target: PublishTarget = { location: parseLocation(path.join(file, 'out')), request: { name: 'talk', given: false, video: VIDEO_A }, release: nextRelease() };
    await rejectsWith(preflightPublish(target, ['master.m3u8']), 'USAGE', /a-file is not a folder/);
  });

  it('local: a read-only --out is refused before anything is written', async (t) => {
    const readOnly = path.join(dir, 'read-only');
    await mkdir(readOnly);
    try {
      await exec('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', readOnly]);
    } catch (error) {
      // test/e2e/publish.test.ts covers a folder the user may not write to, without a mount.
      t.skip(`cannot mount a read-only tmpfs here: ${(error as Error).message.split('\n')[0]}`);
      return;
    }
    try {
      const target: PublishTarget = { location: parseLocation(path.join(readOnly, 'out')), request: { name: 'talk', given: false, video: VIDEO_A }, release: nextRelease() };
      await rejectsWith(preflightPublish(target, ['master.m3u8']), 'USAGE', /cannot publish to \S+\/read-only\/out\/talk: \S+\/read-only is on a read-only filesystem/);
      await rejectsWith(publishTo(path.join(readOnly, 'out'), 'talk', await work()), 'USAGE', /read-only filesystem/);
    } finally {
      await exec('umount', [readOnly]);
    }
  });

  it('S3: a missing bucket is a usage error before any work', async () => {
    const target: PublishTarget = { location: parseLocation('s3://no-such-bucket/vod/'), request: { name: 'talk', given: false, video: VIDEO_A }, release: nextRelease(), storage: { s3: s3.clientOptions() } };
    await rejectsWith(preflightPublish(target, ['master.m3u8']), 'USAGE', /^--out s3:\/\/no-such-bucket\/vod\/: .*bucket does not exist/);
  });

  describe('a server that stops answering', () => {
    const viaProxy = (endpoint: string, timeoutSeconds: number): S3Options => ({ endpoint, credentials: S3RVER_CREDENTIALS, maxAttempts: 2, timeoutSeconds });

    it('fails a stalled upload with STORAGE_FAILED within --s3-timeout and leaves the previous package live', async () => {
      const proxy = await startStallingProxy(Number(new URL(s3.endpoint).port));
      try {
        const v1 = await publishTo('s3://vod/stall/', 'talk', await work(versioned(SMALL_PACKAGE, 'v1')), { s3: viaProxy(proxy.endpoint, 2) });
        const before = await listObjects(client, 'vod', 'stall/talk/');
        const master = await readTextObject(client, 'vod', 'stall/talk/master.m3u8');
        proxy.stallOn(/^PUT \/vod\/stall\/talk\/j\w+\/video\//);
        const started = Date.now();
        const error = await rejectsWith(publishTo('s3://vod/stall/', 'talk', await work(versioned(SMALL_PACKAGE, 'v2')), { s3: viaProxy(proxy.endpoint, 2) }), 'STORAGE_FAILED', /uploading .* failed: .*(did not answer within|timed out)/);
        const elapsed = Date.now() - started;
        assert.ok(proxy.stalled, 'the server did stall');
        assert.ok(elapsed >= 1000 && elapsed < 6000, `ended after ${elapsed} ms (bound: 2 s per operation)`);
        assert.match(error.hint ?? '', /--s3-timeout/);
        assert.equal(await readTextObject(client, 'vod', 'stall/talk/master.m3u8'), master, 'the entry points were not touched');
        const after = await listObjects(client, 'vod', 'stall/talk/');
        for (const object of before.filter((o) => !o.key.endsWith(RECORD_KEY))) assert.ok(after.some((o) => o.key === object.key && o.etag === object.etag), `${object.key} still there`);
        // The record names the unfinished release (for the next publish to remove), and the old one live.
        const record = JSON.parse((await readTextObject(client, 'vod', `stall/talk/${RECORD_KEY}`))!);
        assert.equal(record.live, v1.files[0]!.uri.split('/')[5]);
        assert.equal(record.releases.length, 2);
      } finally {
        await proxy.close();
      }
    });

    it('aborts requests in flight at once on Ctrl-C', async () => {
      const proxy = await startStallingProxy(Number(new URL(s3.endpoint).port));
      try {
        proxy.stallOn(/^PUT \/vod\/ctrlc\/talk\/j\w+\/video\//);
        const controller = new AbortController();
        const publishing = publishTo('s3://vod/ctrlc/', 'talk', await work(), { s3: viaProxy(proxy.endpoint, 60), signal: controller.signal });
        while (!proxy.stalled) await new Promise((resolve) => setTimeout(resolve, 20));
        await new Promise((resolve) => setTimeout(resolve, 200));
        const started = Date.now();
        controller.abort();
        await rejectsWith(publishing, 'INTERRUPTED');
        const elapsed = Date.now() - started;
        // The requests end at once; the clean-up of its partial release gets a few seconds at most.
        assert.ok(elapsed < 4500, `ended ${elapsed} ms after Ctrl-C, with a 60 s --s3-timeout`);
      } finally {
        await proxy.close();
      }
    });

    it('Ctrl-C while the entry manifests switch over to a stalled server ends within seconds', async () => {
      const proxy = await startStallingProxy(Number(new URL(s3.endpoint).port));
      try {
        const v1 = await publishTo('s3://vod/switch/', 'talk', await work(versioned(SMALL_PACKAGE, 'v1')), { s3: viaProxy(proxy.endpoint, 60) });
        proxy.stallOn(/^PUT \/vod\/switch\/talk\/manifest\.mpd/);
        const controller = new AbortController();
        const publishing = publishTo('s3://vod/switch/', 'talk', await work(versioned(SMALL_PACKAGE, 'v2')), { s3: viaProxy(proxy.endpoint, 60), signal: controller.signal });
        while (!proxy.stalled) await new Promise((resolve) => setTimeout(resolve, 20));
        const started = Date.now();
        controller.abort();
        await rejectsWith(publishing, 'INTERRUPTED', /while \S+ was switching to release j\w+; its entry manifests point at the previous release or at this one, both complete/);
        const elapsed = Date.now() - started;
        assert.ok(elapsed < 4500, `ended ${elapsed} ms after Ctrl-C`);
        const mpd = (await readTextObject(client, 'vod', 'switch/talk/manifest.mpd'))!;
        const release = /<BaseURL>(j\w+)\/<\/BaseURL>/.exec(mpd)![1]!;
        assert.equal(release, v1.files[0]!.uri.split('/')[5], 'the stalled write did not land: still the first release');
        assert.ok((await listObjects(client, 'vod', `switch/talk/${release}/`)).length > 0, 'and it is whole');
      } finally {
        await proxy.close();
      }
    });

    it('gives up on a server that accepts connections and never answers (the preflight read)', async () => {
      const silent = await startSilentServer();
      try {
        const started = Date.now();
        const target: PublishTarget = { location: parseLocation('s3://vod/x/'), request: { name: 'talk', given: false, video: VIDEO_A }, release: nextRelease(), storage: { s3: viaProxy(silent.endpoint, 2) } };
        await rejectsWith(preflightPublish(target, ['master.m3u8']), 'STORAGE_FAILED', /^cannot check the destination s3:\/\/vod\/x\/ before encoding: reading \S+vidpipe-record\.json failed after 2 attempts: 1\) no answer within 1 s; 2\) no progress for 2 s/);
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 1000 && elapsed < 6000, `ended after ${elapsed} ms`);
        assert.ok(silent.connections() >= 1);
      } finally {
        await silent.close();
      }
    });

    it('gives up on a download whose body stalls midway, and leaves no partial file', async () => {
      const stalling = await startMidBodyStallServer();
      const stallClient = createS3Client(viaProxy(stalling.endpoint, 3));
      try {
        const started = Date.now();
        const dest = path.join(dir, 'download.mp4');
        await rejectsWith(downloadObject(stallClient, 'vod', 'big.mp4', dest), 'STORAGE_FAILED', /downloading s3:\/\/vod\/big\.mp4 failed/);
        const elapsed = Date.now() - started;
        assert.ok(elapsed < 6000, `ended after ${elapsed} ms`);
        await rejectsWith(readTextObject(stallClient, 'vod', 'small.txt'), 'STORAGE_FAILED', /reading s3:\/\/vod\/small\.txt failed/);
        assert.ok(Date.now() - started < 12_000);
      } finally {
        stallClient.destroy();
        await stalling.close();
      }
    });
  });
});
