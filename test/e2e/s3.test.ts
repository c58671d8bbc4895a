import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, headObject, readTextObject } from '../../src/storage/s3.js';
import { startFaultProxy } from '../helpers/bad-servers.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { decodeFrames, downloadPrefix, hlsReferences, keysUnder, putFile, S3_ENV } from '../helpers/s3-package.js';

const FAST = ['--ladder', '90p', '--preset', 'ultrafast', '--concurrency', '2', '--segment-duration', '2'];
const CLIP_FRAMES = 90; // 3 s at 30 fps

describe('vidpipe transcode with S3 input and output (s3rver)', { timeout: 300_000 }, () => {
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  let db: string;
  const cli = (args: string[]) => runCli([...args, '--s3-endpoint', s3.endpoint, '--db', db, '--json', '--progress', 'none'], { env: S3_ENV });

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-s3-e2e-'));
    s3 = await startS3Server({ buckets: ['media', 'vod'] });
    client = createS3Client(s3.clientOptions());
    db = path.join(dir, 'meta.db');
    clip = await makeClip(path.join(dir, 'talk.mp4'), { durationSeconds: 3, width: 160, height: 90 });
    await putFile(client, 'media', 'uploads/talk.mp4', clip);
  });
  after(async () => {
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  let first: any;
  it('S3 → S3: publishes a package with the right headers that plays when fetched back', async () => {
    const run = await cli(['transcode', 's3://media/uploads/talk.mp4', '--out', 's3://vod/site/', ...FAST]);
    assert.equal(run.code, 0, run.stderr);
    first = JSON.parse(run.stdout);
    assert.equal(first.outputs.hls, 's3://vod/site/talk/master.m3u8');
    assert.equal(first.outputs.dash, 's3://vod/site/talk/manifest.mpd');
    assert.equal(first.outputs.root, `s3://vod/site/talk/${first.jobId}/`);
    assert.equal(first.outputs.poster, `s3://vod/site/talk/${first.jobId}/poster.jpg`);

    const expected: Record<string, [string, RegExp]> = {
      'master.m3u8': ['application/vnd.apple.mpegurl', /max-age=10\b/],
      'manifest.mpd': ['application/dash+xml', /max-age=10\b/],
      [`${first.jobId}/video/h264-90p/index.m3u8`]: ['application/vnd.apple.mpegurl', /max-age=10\b/],
      [`${first.jobId}/video/h264-90p/init.mp4`]: ['video/mp4', /immutable/],
      [`${first.jobId}/video/h264-90p/seg_00001.m4s`]: ['video/iso.segment', /immutable/],
      [`${first.jobId}/audio/aac-128k/init.mp4`]: ['audio/mp4', /immutable/],
      [`${first.jobId}/poster.jpg`]: ['image/jpeg', /immutable/],
      [`${first.jobId}/storyboard/storyboard.vtt`]: ['text/vtt', /immutable/],
    };
    for (const [key, [contentType, cacheControl]] of Object.entries(expected)) {
      const head = await headObject(client, 'vod', `site/talk/${key}`);
      assert.ok(head, `${key} was uploaded`);
      assert.equal(head.contentType, contentType, key);
      assert.match(head.cacheControl ?? '', cacheControl, key);
    }

    // Every object the entry playlist reaches exists (strict parse all the way down).
    const referenced = await hlsReferences(client, 'vod', 'site/talk/');
    const keys = await keysUnder(client, 'vod', 'site/talk/');
    assert.ok(referenced.length >= 6, referenced.join(' '));
    for (const key of referenced) assert.ok(keys.includes(key), `${key} referenced and present`);

    const local = path.join(dir, 'fetched-1');
    await downloadPrefix(client, 'vod', 'site/talk/', local);
    assert.equal(await decodeFrames(path.join(local, 'master.m3u8')), CLIP_FRAMES);
    assert.equal(await decodeFrames(path.join(local, 'manifest.mpd')), CLIP_FRAMES);
  });

  it('records the s3:// input and the final s3:// URIs in the database', () => {
    const sqlite = new Database(db, { readonly: true });
    try {
      const job = sqlite.prepare('SELECT input, status, outputs FROM jobs WHERE id = ?').get(first.jobId) as any;
      assert.equal(job.input, 's3://media/uploads/talk.mp4');
      assert.equal(job.status, 'succeeded');
      assert.deepEqual(JSON.parse(job.outputs), first.outputs);
      const video = sqlite.prepare('SELECT source, status FROM videos WHERE id = ?').get(first.id) as any;
      assert.deepEqual({ ...video }, { source: 's3://media/uploads/talk.mp4', status: 'ready' });
    } finally {
      sqlite.close();
    }
  });

  it('republishing switches the entry manifests to a new release folder and deletes the old one', async () => {
    const run = await cli(['transcode', 's3://media/uploads/talk.mp4', '--out', 's3://vod/site/', ...FAST, '--no-thumbnails']);
    assert.equal(run.code, 0, run.stderr);
    const second = JSON.parse(run.stdout);
    assert.notEqual(second.jobId, first.jobId);
    const keys = await keysUnder(client, 'vod', 'site/talk/');
    const topLevel = [...new Set(keys.map((key) => key.split('/')[0]))].sort();
    assert.deepEqual(topLevel, [second.jobId, 'manifest.mpd', 'master.m3u8', 'vidpipe-record.json'], 'only the new release, the entry points and the record remain');
    const record = JSON.parse((await readTextObject(client, 'vod', 'site/talk/vidpipe-record.json'))!);
    assert.deepEqual([record.live, record.releases, record.video.id], [second.jobId, [second.jobId], first.id]);
    assert.ok(!keys.some((key) => key.endsWith('poster.jpg')), 'nothing of the old release (its poster) is left');
    const master = (await readTextObject(client, 'vod', 'site/talk/master.m3u8'))!;
    assert.match(master, new RegExp(`^${second.jobId}/video/h264-90p/index\\.m3u8$`, 'm'));
    const mpd = (await readTextObject(client, 'vod', 'site/talk/manifest.mpd'))!;
    assert.match(mpd, new RegExp(`<BaseURL>${second.jobId}/</BaseURL>`));
    const local = path.join(dir, 'fetched-2');
    await downloadPrefix(client, 'vod', 'site/talk/', local);
    assert.equal(await decodeFrames(path.join(local, 'manifest.mpd')), CLIP_FRAMES);
  });

  it('local → S3 and S3 → local', async () => {
    const up = await cli(['transcode', clip, '--out', 's3://vod/from-disk', '--name', 'clip', ...FAST, '--no-thumbnails']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(JSON.parse(up.stdout).outputs.hls, 's3://vod/from-disk/clip/master.m3u8');
    const fetched = path.join(dir, 'fetched-3');
    await downloadPrefix(client, 'vod', 'from-disk/clip/', fetched);
    assert.equal(await decodeFrames(path.join(fetched, 'master.m3u8')), CLIP_FRAMES);

    const down = await cli(['transcode', 's3://media/uploads/talk.mp4', '--out', path.join(dir, 'out'), ...FAST, '--no-thumbnails']);
    assert.equal(down.code, 0, down.stderr);
    const result = JSON.parse(down.stdout);
    assert.equal(result.outputs.hls, path.join(dir, 'out', 'talk', 'master.m3u8'));
    assert.equal(await decodeFrames(result.outputs.hls), CLIP_FRAMES);
  });

  it('a missing object or bucket is a usage error (exit 2) naming what is missing', async () => {
    const noKey = await cli(['transcode', 's3://media/uploads/nope.mp4', '--out', 's3://vod/x/', ...FAST]);
    assert.equal(noKey.code, 2, noKey.stderr);
    assert.equal(JSON.parse(noKey.stdout).error.code, 'INPUT_NOT_FOUND');
    assert.match(JSON.parse(noKey.stdout).error.message, /s3:\/\/media\/uploads\/nope\.mp4.*no such object/);
    const noBucket = await cli(['transcode', 's3://no-such-bucket/talk.mp4', '--out', 's3://vod/x/', ...FAST]);
    assert.equal(noBucket.code, 2, noBucket.stderr);
    assert.match(JSON.parse(noBucket.stdout).error.message, /bucket does not exist/);
    assert.deepEqual(await keysUnder(client, 'vod', 'x/'), [], 'nothing published');
  });

  it('a source download dropped mid-body is resumed and said so; one that keeps failing exits 1 naming attempts and causes', async () => {
    const proxy = await startFaultProxy(Number(new URL(s3.endpoint).port));
    const viaProxy = (args: string[]) => runCli([...args, '--s3-endpoint', proxy.endpoint, '--s3-timeout', '5', '--db', db, '--json', '--progress', 'plain'], { env: S3_ENV });
    const source = /^GET \/media\/uploads\/talk\.mp4/;
    try {
      proxy.script({ match: source, faults: [{ kind: 'reset', afterBytes: 20_000 }] });
      const out = path.join(dir, 'out-retried');
      const run = await viaProxy(['transcode', 's3://media/uploads/talk.mp4', '--out', out, ...FAST, '--no-thumbnails']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /downloading s3:\/\/media\/uploads\/talk\.mp4: attempt 1 of 5 failed: the connection was dropped after 20000 of \d+ bytes .*; retrying from byte 20000/);
      const gets = proxy.requests.filter((r) => source.test(`${r.method} ${r.url}`));
      assert.deepEqual(gets.map((r) => r.headers.range), [undefined, 'bytes=20000-']);
      assert.equal(await decodeFrames(JSON.parse(run.stdout).outputs.hls), CLIP_FRAMES);

      proxy.script({ match: source, faults: [], then: { kind: 'reset', afterBytes: 1000 } });
      const started = Date.now();
      const failing = await viaProxy(['transcode', 's3://media/uploads/talk.mp4', '--out', path.join(dir, 'out-failing'), ...FAST]);
      const elapsed = Date.now() - started;
      assert.equal(failing.code, 1, failing.stderr);
      const error = JSON.parse(failing.stdout).error;
      assert.equal(error.code, 'STORAGE_FAILED');
      assert.match(error.message, /^downloading s3:\/\/media\/uploads\/talk\.mp4 failed after 5 attempts: 1\) the connection was dropped after 1000 of \d+ bytes .*; 5\) the connection was dropped after 5000 of/);
      assert.doesNotMatch(failing.stderr, /credentials/);
      assert.ok(elapsed < 20_000, `exited after ${elapsed} ms`);
    } finally {
      await proxy.close();
    }
  });
});
