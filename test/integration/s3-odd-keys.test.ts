/**
 * Keys that XML listings mangle, against s3rver (what it supports) and a key-faithful fake S3
 * (what s3rver cannot do: encoding-type=url, keys starting with '/' or holding '//'): listings
 * give the exact keys, and a polling watcher with --once ends when a listed key cannot be read.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client, listObjects } from '../../src/storage/s3.js';
import { parseLocation } from '../../src/storage/index.js';
import { DEFAULT_SETTINGS } from '../../src/settings/job-settings.js';
import { WatchStore } from '../../src/watch/store.js';
import { Watcher, type WatchConfig, type WatchOutcome } from '../../src/watch/watcher.js';
import { tempDir } from '../helpers/media.js';
import { ODD_KEY_NAMES, startKeyFaithfulS3, type KeyFaithfulS3 } from '../helpers/key-faithful-s3.js';
import { startS3Server, S3RVER_CREDENTIALS } from '../helpers/s3-server.js';
import { putText } from '../helpers/s3-package.js';

const ODD_KEYS = ODD_KEY_NAMES.map((name) => `in/${name}`);
const objectsOf = (keys: readonly string[]) => new Map(keys.map((key, i) => [key, Buffer.from(`body ${i}`)]));

describe('listing odd keys', () => {
  const servers: KeyFaithfulS3[] = [];
  const clients: S3Client[] = [];
  const clientFor = (endpoint: string): S3Client => {
    const client = createS3Client({ endpoint, credentials: S3RVER_CREDENTIALS, maxAttempts: 1 });
    clients.push(client);
    return client;
  };
  after(async () => {
    for (const client of clients) client.destroy();
    await Promise.all(servers.map((server) => server.close()));
  });

  it('asks for encoding-type=url and decodes every key exactly, across pages', async () => {
    const keys = [...ODD_KEYS, '/lead/a.mp4', 'a//x/b.mp4', 'in/a\r\nb.mp4'];
    const server = await startKeyFaithfulS3({ bucket: 'inbox', objects: objectsOf(keys), encoding: 'url' });
    servers.push(server);
    const listed = await listObjects(clientFor(server.endpoint), 'inbox', '', { pageSize: 2 });
    assert.deepEqual(listed.map((o) => o.key), [...keys].sort());
    assert.ok(server.listings.length >= 5, 'several pages');
    assert.ok(server.listings.every((query) => query.get('encoding-type') === 'url'));
    const underLead = await listObjects(clientFor(server.endpoint), 'inbox', '/lead/');
    assert.deepEqual(underLead.map((o) => o.key), ['/lead/a.mp4'], 'a prefix with a leading / is sent as it is');
  });

  it('takes the keys as sent when the server does not encode them ("+" and "%" stay)', async () => {
    const server = await startKeyFaithfulS3({ bucket: 'inbox', objects: objectsOf(['in/a+b%41 c.mp4', 'in/tab\tx.mp4']), encoding: 'ignore' });
    servers.push(server);
    const listed = await listObjects(clientFor(server.endpoint), 'inbox', 'in/');
    assert.deepEqual(listed.map((o) => o.key), ['in/a+b%41 c.mp4', 'in/tab\tx.mp4']);
  });

  it('s3rver (no encoding-type=url): every key but CR lists and reads back exactly', async () => {
    const s3 = await startS3Server({ buckets: ['inbox'] });
    try {
      const client = clientFor(s3.endpoint);
      const keys = ODD_KEYS.filter((key) => !key.includes('\r'));
      for (const key of keys) await putText(client, 'inbox', key, key);
      const listed = (await listObjects(client, 'inbox', 'in/')).map((o) => o.key);
      assert.deepEqual(listed, [...keys].sort());
      for (const key of listed) await client.send(new HeadObjectCommand({ Bucket: 'inbox', Key: key }));
    } finally {
      await s3.stop();
    }
  });
});

describe('watch --once with keys that cannot be read', { timeout: 60_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('vidpipe-odd-keys-')));
  after(async () => cleanup());

  async function watchOnce(server: KeyFaithfulS3, name: string): Promise<{ outcomes: WatchOutcome[]; log: string[]; ended: boolean }> {
    const client = createS3Client({ endpoint: server.endpoint, credentials: S3RVER_CREDENTIALS, maxAttempts: 1 });
    const store = await WatchStore.open(path.join(dir, `${name}.db`), { owner: name, leaseMs: 10_000, maxAttempts: 3 });
    const outcomes: WatchOutcome[] = [];
    const log: string[] = [];
    const config: WatchConfig = {
      bucket: 'inbox',
      prefix: 'in/',
      out: parseLocation(path.join(dir, 'out')),
      outText: path.join(dir, 'out'),
      intervalMs: 50,
      maxAttempts: 3,
      settings: DEFAULT_SETTINGS,
      request: {} as WatchConfig['request'],
      once: true,
    };
    const watcher = new Watcher(config, store, client, { onOutcome: (o) => outcomes.push(o), log: (line) => log.push(line) }, 10_000);
    // The old watcher polled forever here; the bound only makes a regression fail instead of hang.
    const bound = AbortSignal.timeout(10_000);
    try {
      await watcher.runPolling(bound);
      return { outcomes, log, ended: !bound.aborted };
    } finally {
      await store.close();
      client.destroy();
    }
  }

  it('a key the listing changed (CR sent raw, read as LF) is tried, reported as skipped, and --once ends', async () => {
    const server = await startKeyFaithfulS3({ bucket: 'inbox', objects: objectsOf(['in/cr\rkey.mp4', 'in/cr\r\rtwice.mp4']), encoding: 'ignore' });
    try {
      const { outcomes, log, ended } = await watchOnce(server, 'mangled');
      assert.ok(ended, '--once ended on its own');
      assert.deepEqual(outcomes.map((o) => [o.key, o.watchStatus, o.attempt, o.error?.code]).sort(), [
        ['in/cr\n\ntwice.mp4', 'skipped', 3, 'INPUT_NOT_FOUND'],
        ['in/cr\nkey.mp4', 'skipped', 3, 'INPUT_NOT_FOUND'],
      ]);
      assert.equal(server.reads.filter((r) => r.method === 'HEAD').length, 6, 'three HEADs per key, then no more');
      assert.ok(log.some((line) => /no such object now.*\(try 1 of 3\)/.test(line)), 'each try is logged');
      assert.ok(log.some((line) => /skipped after 3 tries/.test(line)));
    } finally {
      await server.close();
    }
  });

  it('a key whose HEAD keeps failing (HTTP 500) is reported as skipped and --once ends', async () => {
    const server = await startKeyFaithfulS3({
      bucket: 'inbox',
      objects: objectsOf(['in/broken.mp4', 'in/also broken.mp4']),
      encoding: 'url',
      brokenKeys: new Set(['in/broken.mp4', 'in/also broken.mp4']),
    });
    try {
      const { outcomes, ended } = await watchOnce(server, 'failing');
      assert.ok(ended, '--once ended on its own');
      assert.deepEqual(outcomes.map((o) => [o.key, o.watchStatus, o.error?.code]).sort(), [
        ['in/also broken.mp4', 'skipped', 'STORAGE_FAILED'],
        ['in/broken.mp4', 'skipped', 'STORAGE_FAILED'],
      ]);
    } finally {
      await server.close();
    }
  });
});
