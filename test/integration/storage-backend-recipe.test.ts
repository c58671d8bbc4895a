/**
 * The "Adding a storage backend" recipe of docs/architecture.md, followed in a test: an in-memory
 * `mem://bucket/prefix` backend, written as one object and registered with one call, receives a
 * real publish (the whole release protocol of src/storage/publish.ts, run twice) and serves an
 * input to fetchInput, with no other file of vidpipe changed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Location, StorageBackend } from '../../src/storage/backend.js';
import { registerBackend } from '../../src/storage/backends.js';
import { fetchInput, parseLocation } from '../../src/storage/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { RECORD_KEY } from '../../src/storage/package-record.js';
import { packageUris } from '../../src/storage/publish.js';
import { joinKey, normalisePrefix } from '../../src/storage/uri.js';
import { SMALL_PACKAGE, nextRelease, publishTo, versioned, writePackage } from '../helpers/publish.js';

/** Every object of every mem:// bucket: "bucket/key" → bytes. */
const objects = new Map<string, Buffer>();

class MemStore implements ObjectStore {
  readonly root: string;
  readonly concurrency = 4;
  readonly failureHint = 'mem:// lives in this process';
  constructor(private readonly bucket: string, private readonly prefix: string) {
    this.root = `mem://${bucket}/${prefix}`;
  }
  private at(key: string): string {
    return `${this.bucket}/${joinKey(this.prefix, key)}`;
  }
  uriOf(key: string): string {
    return `mem://${this.at(key)}`;
  }
  async readText(key: string): Promise<string | undefined> {
    return objects.get(this.at(key))?.toString('utf8');
  }
  async readBytes(key: string): Promise<Buffer | undefined> {
    return objects.get(this.at(key));
  }
  async exists(key: string): Promise<boolean> {
    const full = this.at(key);
    return objects.has(full) || [...objects.keys()].some((k) => k.startsWith(`${full}/`));
  }
  async putFile(key: string, file: string, bytes: number, _headers: unknown, _signal?: AbortSignal, onBytes?: (bytes: number) => void): Promise<void> {
    objects.set(this.at(key), await readFile(file));
    onBytes?.(bytes);
  }
  async putText(key: string, text: string): Promise<void> {
    objects.set(this.at(key), Buffer.from(text));
  }
  async createText(key: string, text: string): Promise<boolean> {
    if (objects.has(this.at(key))) return false;
    objects.set(this.at(key), Buffer.from(text));
    return true;
  }
  async deleteKeys(keys: readonly string[]): Promise<void> {
    for (const key of keys) objects.delete(this.at(key));
  }
  async deleteBelow(prefix: string): Promise<void> {
    const below = `${this.bucket}/${normalisePrefix(this.prefix + prefix)}`;
    for (const key of [...objects.keys()]) if (key.startsWith(below)) objects.delete(key);
  }
  async assertWritable(): Promise<void> {}
  close(): void {}
}

const memLocation = (bucket: string, prefix: string): Location => ({ backend: 'mem', text: `mem://${bucket}/${prefix}`, parts: { bucket, prefix } });
const split = (uri: string) => {
  const [bucket = '', ...rest] = uri.replace(/^mem:\/\//, '').split('/');
  return { bucket, rest: rest.join('/') };
};

const memBackend: StorageBackend = {
  name: 'mem',
  schemes: ['mem'],
  shared: true,
  parseLocation: (text) => {
    const { bucket, rest } = split(text);
    return memLocation(bucket, normalisePrefix(rest));
  },
  below: (location, name) => memLocation(location.parts.bucket!, `${joinKey(location.parts.prefix!, name)}/`),
  uriOf: (location, key) => `mem://${location.parts.bucket}/${joinKey(location.parts.prefix!, key)}`,
  holds: (location, uri) => split(uri).bucket === location.parts.bucket && split(uri).rest.startsWith(location.parts.prefix!),
  inputName: (uri) => uri.split('/').at(-1) || 'input',
  connect: async () => ({
    storeAt: (location) => new MemStore(location.parts.bucket!, location.parts.prefix!),
    download: async (uri, localPath) => {
      const { bucket, rest } = split(uri);
      const bytes = objects.get(`${bucket}/${rest}`);
      if (!bytes) throw new Error(`${uri}: no such object`);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(localPath, bytes);
      return { etag: String(bytes.length), size: bytes.length };
    },
    close: () => undefined,
  }),
};

registerBackend(memBackend);

describe('a storage backend added by the recipe (mem://)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vidpipe-mem-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('receives a real publish: media in the release folder, entry manifests and the record at the root; a republish sweeps the old release', async () => {
    const first = nextRelease();
    const published = await publishTo('mem://vod/talks/', 'talk', await writePackage(path.join(dir, 'a'), versioned(SMALL_PACKAGE, 'v1')), { release: first });
    assert.equal(published.name, 'talk');
    assert.ok(objects.has(`vod/talks/talk/${first}/video/h264-720p/seg_00001.m4s`));
    assert.match(objects.get('vod/talks/talk/master.m3u8')!.toString(), new RegExp(`^${first}/video/h264-720p/index\\.m3u8$`, 'm'));
    assert.equal(JSON.parse(objects.get(`vod/talks/talk/${RECORD_KEY}`)!.toString()).live, first);
    const uris = packageUris(parseLocation('mem://vod/talks'), 'talk', first);
    assert.equal(uris.root, 'mem://vod/talks/talk/');
    assert.equal(uris.uriFor('master.m3u8'), 'mem://vod/talks/talk/master.m3u8');
    assert.ok(published.files.every((file) => file.uri.startsWith(uris.releaseRoot)), 'every file sent is in the release folder');

    const second = nextRelease();
    await publishTo('mem://vod/talks/', 'talk', await writePackage(path.join(dir, 'b'), versioned(SMALL_PACKAGE, 'v2')), { release: second });
    const keys = [...objects.keys()].filter((key) => key.startsWith('vod/talks/talk/'));
    assert.ok(keys.some((key) => key.startsWith(`vod/talks/talk/${second}/`)));
    assert.ok(!keys.some((key) => key.startsWith(`vod/talks/talk/${first}/`)), 'the old release is swept');
  });

  it('serves an input: fetchInput downloads a mem:// object and keeps its version', async () => {
    objects.set('inbox/raw/My Talk.mov', Buffer.from('not really a movie'));
    const fetched = await fetchInput('mem://inbox/raw/My Talk.mov', path.join(dir, 'fetch'));
    try {
      assert.equal(fetched.inPlace, false);
      assert.equal(path.basename(fetched.localPath), 'My-Talk.mov');
      assert.equal(await readFile(fetched.localPath, 'utf8'), 'not really a movie');
      assert.deepEqual(fetched.object, { etag: '18', size: 18 });
    } finally {
      await fetched.cleanup();
    }
  });
});
