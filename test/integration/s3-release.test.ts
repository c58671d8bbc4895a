/**
 * Release folders (src/storage/release.ts, publish.ts) on both stores with a small fake package:
 * the entry manifests switch last, older releases are removed, an older job that finishes after a
 * newer one stands down, and a failed release never touches the live entry points.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { VidpipeError } from '../../src/errors.js';
import { RECORD_KEY } from '../../src/storage/package-record.js';
import { packageUris, type PublishedRelease } from '../../src/storage/publish.js';
import { createS3Client, readTextObject } from '../../src/storage/s3.js';
import { parseLocation } from '../../src/storage/index.js';
import { tempDir } from '../helpers/media.js';
import { publishTo } from '../helpers/publish.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { keysUnder } from '../helpers/s3-package.js';

const OLDER = 'jmww3aaaa00000001';
const NEWER = 'jmww3bbbb00000002';
const NEWEST = 'jmww3cccc00000003';

async function writePackage(dir: string, version: string): Promise<string> {
  const files: Record<string, string> = {
    'master.m3u8': '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nvideo/v/index.m3u8\n',
    'manifest.mpd': '<?xml version="1.0"?>\n<MPD type="static">\n  <Period/>\n</MPD>\n',
    'video/v/index.m3u8': '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2,\nseg_00001.m4s\n#EXT-X-ENDLIST\n',
    'video/v/init.mp4': `init ${version}`,
    'video/v/seg_00001.m4s': `segment ${version}`,
  };
  for (const [key, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, key)), { recursive: true });
    await writeFile(path.join(dir, key), content);
  }
  return dir;
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof VidpipeError && error.code === code && pattern.test(error.message));
}

describe('release folders', { timeout: 120_000 }, () => {
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let n = 0;
  const work = (version: string) => writePackage(path.join(dir, `work-${n++}`), version);

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-release-'));
    s3 = await startS3Server({ buckets: ['vod'] });
    client = createS3Client(s3.clientOptions());
  });
  after(async () => {
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  type At = (release: string) => { publish(dir: string, options?: Parameters<typeof publishTo>[3]): Promise<PublishedRelease>; uriFor(key: string): string };
  const s3At: At = (release) => ({
    publish: (work, options) => publishTo('s3://vod/', 'talk', work, { release, s3: s3.clientOptions(), ...options }),
    uriFor: (key) => packageUris(parseLocation('s3://vod/'), 'talk', release).uriFor(key),
  });
  const localAt: At = (release) => ({
    publish: (work, options) => publishTo(path.join(dir, 'out'), 'talk', work, { release, ...options }),
    uriFor: (key) => packageUris(parseLocation(path.join(dir, 'out')), 'talk', release).uriFor(key),
  });
  const listS3 = async () => keysUnder(client, 'vod', 'talk/');
  const listLocal = async () =>
    (await readdir(path.join(dir, 'out', 'talk'), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.relative(path.join(dir, 'out', 'talk'), path.join(e.parentPath, e.name)))
      .sort();
  const entryS3 = async (key: string) => (await readTextObject(client, 'vod', `talk/${key}`))!;
  const entryLocal = async (key: string) => readFile(path.join(dir, 'out', 'talk', key), 'utf8');

  for (const [label, at, list, entry] of [
    ['S3', s3At, listS3, entryS3],
    ['local', localAt, listLocal, entryLocal],
  ] as const) {
    it(`${label}: switches entry points to the newest release, removes older ones, and an older job stands down`, async () => {
      const first = at(OLDER);
      const published = await first.publish(await work('v1'));
      assert.equal(published.files.find((f) => f.key === 'video/v/init.mp4')?.uri, first.uriFor('video/v/init.mp4'));
      assert.match(first.uriFor('video/v/init.mp4'), new RegExp(`talk/${OLDER}/video/v/init\\.mp4$`));
      assert.match(first.uriFor('master.m3u8'), /talk\/master\.m3u8$/);
      assert.match(await entry('master.m3u8'), new RegExp(`^${OLDER}/video/v/index\\.m3u8$`, 'm'));

      await at(NEWEST).publish(await work('v3'));
      const expected = ['manifest.mpd', 'master.m3u8', RECORD_KEY, ...['index.m3u8', 'init.mp4', 'seg_00001.m4s'].map((f) => `${NEWEST}/video/v/${f}`), `${NEWEST}/manifest.mpd`, `${NEWEST}/master.m3u8`].sort();
      assert.deepEqual(await list(), expected, 'the older release is gone');
      assert.match(await entry('manifest.mpd'), new RegExp(`<BaseURL>${NEWEST}/</BaseURL>`));

      // A job started before NEWEST finishes after it: it must not roll the package back.
      await rejectsWith(at(NEWER).publish(await work('v2')), 'STORAGE_FAILED', /republished by a newer job \(jmww3cccc00000003\)/);
      assert.deepEqual(await list(), expected, 'its release folder was removed, the live one untouched');
    });
  }

  it('S3: a publish that fails midway leaves the live entry points and their release alone', async () => {
    const before = await listS3();
    const master = await entryS3('master.m3u8');
    await rejectsWith(publishTo('s3://missing-bucket/', 'talk', await work('v4'), { s3: s3.clientOptions(), release: 'jmww3dddd00000004' }), 'STORAGE_FAILED', /bucket does not exist/);
    const controller = new AbortController();
    await rejectsWith(
      s3At('jmww3dddd00000005').publish(await work('v5'), { signal: controller.signal, onProgress: () => controller.abort() }),
      'INTERRUPTED',
      /no manifest was written/,
    );
    assert.equal(await entryS3('master.m3u8'), master);
    assert.deepEqual(await listS3(), before, 'the partial release was deleted');
  });
});
