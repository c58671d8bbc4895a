/**
 * Two jobs publishing one package at once (two watchers, two runs), made deterministic by holding
 * one publish at a step (PublishOptions.pause) until the other has finished: on a local folder and
 * on s3rver. Whoever wins, the package is whole afterwards (every entry manifest points at a
 * release whose files are all there), the loser stands down with STORAGE_FAILED and a true
 * reason (never USAGE), and nothing the winner published is deleted.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { VidpipeError } from '../../src/errors.js';
import { parseRecord, RECORD_KEY } from '../../src/storage/package-record.js';
import type { PublishStep } from '../../src/storage/publish.js';
import { releaseReferencedBy } from '../../src/storage/release.js';
import { createS3Client, listObjects, readTextObject } from '../../src/storage/s3.js';
import { tempDir } from '../helpers/media.js';
import { nextRelease, publishTo, readTree, SMALL_PACKAGE, versioned, VIDEO_A, VIDEO_B, writePackage } from '../helpers/publish.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

/** A publish held at `step` until `releaseWhen(p)` is called and p settles; `reached` settles when it gets there. */
function holdAt(step: PublishStep) {
  let reach!: () => void;
  let resume!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  return {
    reached,
    releaseWhen: <T>(other: Promise<T>): Promise<T> => (other.then(resume, resume), other),
    pause: async (at: PublishStep) => {
      if (at !== step) return;
      reach();
      await resumed;
    },
  };
}

const RELEASE_FILES = Object.keys(SMALL_PACKAGE);

describe('two jobs racing for one package', { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let s3: S3TestServer;
  let client: S3Client;
  let n = 0;
  const work = (version: string) => writePackage(path.join(dir, `work-${n++}`), versioned(SMALL_PACKAGE, version));

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-race-'));
    s3 = await startS3Server({ buckets: ['vod'] });
    client = createS3Client(s3.clientOptions());
  });
  after(async () => {
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  interface Place {
    out: string;
    s3?: ReturnType<S3TestServer['clientOptions']>;
    tree(name: string): Promise<Record<string, string>>;
  }
  const local = (): Place => {
    const out = path.join(dir, `out-${n++}`);
    return { out, tree: (name) => readTree(path.join(out, name)) };
  };
  const onS3 = (): Place => {
    const prefix = `p${n++}/`;
    return {
      out: `s3://vod/${prefix}`,
      s3: s3.clientOptions(),
      tree: async (name) => {
        const tree: Record<string, string> = {};
        for (const object of await listObjects(client, 'vod', `${prefix}${name}/`)) tree[object.key.slice(`${prefix}${name}/`.length)] = (await readTextObject(client, 'vod', object.key))!;
        return tree;
      },
    };
  };

  /** Every entry manifest points at a release all of whose files are there, of one version; returns that release. */
  async function assertWhole(place: Place, name: string): Promise<string> {
    const tree = await place.tree(name);
    const record = parseRecord(tree[RECORD_KEY] ?? 'missing', RECORD_KEY);
    const pointed = new Set<string>();
    for (const entry of ['master.m3u8', 'manifest.mpd']) {
      assert.ok(tree[entry] !== undefined, `${entry} is there: ${Object.keys(tree).join(' ')}`);
      pointed.add(releaseReferencedBy(entry, tree[entry]!)!);
    }
    assert.equal(pointed.size, 1, `both entry manifests point at one release: ${[...pointed].join(' ')}`);
    const [release] = pointed as Set<string>;
    for (const key of RELEASE_FILES) assert.ok(tree[`${release}/${key}`] !== undefined, `${release}/${key} is there`);
    assert.equal(record.live, release, 'the record names the release the entry manifests point at');
    assert.ok(record.releases.includes(release!));
    return release!;
  }

  async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
    let caught: unknown;
    await assert.rejects(promise, (error: unknown) => ((caught = error), true));
    assert.ok(caught instanceof VidpipeError, String(caught));
    assert.equal(caught.code, code, caught.message);
    assert.match(caught.message, pattern);
  }

  for (const [label, place] of [['local', local], ['S3', onS3]] as const) {
    for (const held of ['older', 'newer'] as const) {
      it(`${label}: the record appears while the ${held} job looks at the package: it chooses again, never "vidpipe did not write it"`, async () => {
        const p = place();
        const [older, newer] = [nextRelease(), nextRelease()];
        const [heldRelease, freeRelease] = held === 'older' ? [older, newer] : [newer, older];
        const hold = holdAt('chosen');
        const slow = publishTo(p.out, 'talk', await work('slow'), { release: heldRelease, s3: p.s3, pause: hold.pause });
        await hold.reached;
        const finished = hold.releaseWhen(publishTo(p.out, 'talk', await work('fast'), { release: freeRelease, s3: p.s3 }));
        assert.equal((await finished).name, 'talk');
        if (held === 'older') await rejectsWith(slow, 'STORAGE_FAILED', new RegExp(`republished by a newer job \\(${newer}\\) of the same source`));
        else assert.equal((await slow).name, 'talk', 'the newer job publishes over the older one');
        assert.equal(await assertWhole(p, 'talk'), newer, 'the newer job\'s package is live');
        assert.deepEqual(Object.keys(await p.tree('talk')).filter((key) => key.startsWith(older)), [], 'the older release is gone');
      });

      it(`${label}: the ${held} job passes its check, then the other goes live and sweeps: neither release an entry points at is deleted`, async () => {
        const p = place();
        const [older, newer] = [nextRelease(), nextRelease()];
        const [heldRelease, freeRelease] = held === 'older' ? [older, newer] : [newer, older];
        const hold = holdAt('live');
        const slow = publishTo(p.out, 'talk', await work('slow'), { release: heldRelease, s3: p.s3, pause: hold.pause });
        await hold.reached;
        const finished = hold.releaseWhen(publishTo(p.out, 'talk', await work('fast'), { release: freeRelease, s3: p.s3 }));
        await finished;
        await slow;
        // The held job switched last: its release is live, and whole.
        assert.equal(await assertWhole(p, 'talk'), heldRelease);
      });
    }

    for (const held of ['older', 'newer'] as const) {
      it(`${label}: the claim race: the ${held} job read no record, the other publishes before it writes its claim`, async () => {
        const p = place();
        const [older, newer] = [nextRelease(), nextRelease()];
        const [heldRelease, freeRelease] = held === 'older' ? [older, newer] : [newer, older];
        const hold = holdAt('claim');
        const slow = publishTo(p.out, 'talk', await work('slow'), { release: heldRelease, s3: p.s3, pause: hold.pause });
        await hold.reached;
        await hold.releaseWhen(publishTo(p.out, 'talk', await work('fast'), { release: freeRelease, s3: p.s3 }));
        if (held === 'older') await rejectsWith(slow, 'STORAGE_FAILED', new RegExp(`republished by a newer job \\(${newer}\\)`));
        else await slow;
        if (label === 'local') {
          // A create-only write: the held claim lands in the other job's record instead of over it.
          assert.equal(await assertWhole(p, 'talk'), newer);
        } else {
          // s3rver ignores If-None-Match, as some S3-compatible servers do: the record may be lost, the package never.
          const tree = await p.tree('talk');
          const release = releaseReferencedBy('master.m3u8', tree['master.m3u8']!);
          assert.equal(release, newer);
          assert.equal(releaseReferencedBy('manifest.mpd', tree['manifest.mpd']!), newer);
          for (const key of RELEASE_FILES) assert.ok(tree[`${newer}/${key}`] !== undefined, `${newer}/${key} is there`);
        }
      });
    }

    it(`${label}: the other job wrote its entry files but not yet its record: they are its, not a stranger's (never USAGE)`, async () => {
      const p = place();
      const [older, newer] = [nextRelease(), nextRelease()];
      const hold = holdAt('switched');
      const slow = publishTo(p.out, 'talk', await work('slow'), { release: older, s3: p.s3, pause: hold.pause });
      await hold.reached;
      const finished = hold.releaseWhen(publishTo(p.out, 'talk', await work('fast'), { release: newer, s3: p.s3 }));
      assert.equal((await finished).name, 'talk');
      await slow;
      const tree = await p.tree('talk');
      // The newer job switched the entry files last; the older one's record write came after (it names its own release live).
      for (const entry of ['master.m3u8', 'manifest.mpd']) assert.equal(releaseReferencedBy(entry, tree[entry]!), newer, entry);
      for (const release of [older, newer]) {
        for (const key of RELEASE_FILES) assert.ok(tree[`${release}/${key}`] !== undefined, `${release}/${key} is there`);
      }
      assert.deepEqual(parseRecord(tree[RECORD_KEY]!, RECORD_KEY).releases.sort(), [older, newer].sort());
    });

    it(`${label}: two videos under one derived name at once: the second takes the next name, both packages whole`, async () => {
      const p = place();
      const hold = holdAt('chosen');
      const slow = publishTo(p.out, 'talk', await work('b'), { video: VIDEO_B, s3: p.s3, pause: hold.pause });
      await hold.reached;
      const finished = hold.releaseWhen(publishTo(p.out, 'talk', await work('a'), { video: VIDEO_A, s3: p.s3 }));
      assert.equal((await finished).name, 'talk');
      const second = await slow;
      assert.equal(second.name, `talk-${VIDEO_B.sha256.slice(0, 8)}`);
      await assertWhole(p, 'talk');
      await assertWhole(p, second.name);
    });

    it(`${label}: two videos to one given name, the older switching last: the package is whole, the newer release kept`, async () => {
      const p = place();
      const [older, newer] = [nextRelease(), nextRelease()];
      const hold = holdAt('live');
      const slow = publishTo(p.out, 'talk', await work('b'), { video: VIDEO_B, given: true, release: older, s3: p.s3, pause: hold.pause });
      await hold.reached;
      const finished = hold.releaseWhen(publishTo(p.out, 'talk', await work('a'), { video: VIDEO_A, given: true, release: newer, s3: p.s3 }));
      await finished;
      await slow;
      assert.equal(await assertWhole(p, 'talk'), older);
      const tree = await p.tree('talk');
      for (const key of RELEASE_FILES) assert.ok(tree[`${newer}/${key}`] !== undefined, `${newer}/${key} kept (the record lists it for a later sweep)`);
      assert.ok(parseRecord(tree[RECORD_KEY]!, RECORD_KEY).releases.includes(newer));
    });

    it(`${label}: a sweep racing a fresh release of an older job never deletes it`, async () => {
      const p = place();
      const [first, older, newer] = [nextRelease(), nextRelease(), nextRelease()];
      await publishTo(p.out, 'talk', await work('1'), { release: first, s3: p.s3 });
      // The older job has claimed and sent its release and is about to switch; the newer one goes live and sweeps now.
      const hold = holdAt('live');
      const slow = publishTo(p.out, 'talk', await work('2'), { release: older, s3: p.s3, pause: hold.pause });
      await hold.reached;
      const finished = hold.releaseWhen(publishTo(p.out, 'talk', await work('3'), { release: newer, s3: p.s3 }));
      await finished;
      const tree = await p.tree('talk');
      assert.deepEqual(Object.keys(tree).filter((key) => key.startsWith(first)), [], 'the release live before is swept');
      for (const key of RELEASE_FILES) assert.ok(tree[`${older}/${key}`] !== undefined, `${older}/${key} survives the sweep`);
      await slow;
      assert.equal(await assertWhole(p, 'talk'), older);
    });
  }
});
