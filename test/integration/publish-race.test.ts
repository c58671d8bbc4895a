/**
 * Two jobs publishing one package at once (two watchers, two runs), made deterministic by holding
 * one publish at a step (PublishOptions.pause) until the other has finished: on a local folder and
 * on s3rver. The newest release wins, whichever job switches last; the package is whole
 * afterwards (every entry manifest points at that one release, whose files are all there), the
 * loser stands down with STORAGE_FAILED and a true reason (never USAGE), and nothing the winner
 * published is deleted.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { VidpipeError } from '../../src/errors.js';
import { emptyRecord, formatRecord, parseRecord, RECORD_KEY } from '../../src/storage/package-record.js';
import type { PublishStep } from '../../src/storage/publish.js';
import { releaseReferencedBy } from '../../src/storage/release.js';
import { createS3Client, listObjects, readTextObject } from '../../src/storage/s3.js';
import { tempDir } from '../helpers/media.js';
import { nextRelease, publishTo, readTree, SMALL_PACKAGE, versioned, VIDEO_A, VIDEO_B, writePackage } from '../helpers/publish.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

/** A publish held at `step` until `releaseWhen(p)` is called and p settles; `reached` settles when it gets there. */
/**
 * Holds not released yet. A test that fails while it holds a job lets it go on (afterEach below):
 * a held publish keeps renewing its claim, and its timer would keep the file from ever ending.
 */
const openHolds = new Set<() => void>();

function holdAt(step: PublishStep) {
  let reach!: () => void;
  let resume!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  openHolds.add(resume);
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
  afterEach(() => {
    for (const resume of openHolds) resume();
    openHolds.clear();
  });

  interface Place {
    out: string;
    s3?: ReturnType<S3TestServer['clientOptions']>;
    tree(name: string): Promise<Record<string, string>>;
    put(name: string, key: string, text: string): Promise<void>;
  }
  const local = (): Place => {
    const out = path.join(dir, `out-${n++}`);
    return {
      out,
      tree: (name) => readTree(path.join(out, name)),
      put: async (name, key, text) => {
        await mkdir(path.dirname(path.join(out, name, key)), { recursive: true });
        await writeFile(path.join(out, name, key), text);
      },
    };
  };
  const onS3 = (): Place => {
    const prefix = `p${n++}/`;
    return {
      out: `s3://vod/${prefix}`,
      s3: s3.clientOptions(),
      put: async (name, key, text) => void (await client.send(new PutObjectCommand({ Bucket: 'vod', Key: `${prefix}${name}/${key}`, Body: text }))),
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

      for (const step of ['live', 'entry'] as const) {
        it(`${label}: the ${held} job ${step === 'live' ? 'passes its check' : 'has written one entry file'}, then the other goes live and sweeps: the newest release is live, every entry file points at it`, async () => {
          const p = place();
          const [older, newer] = [nextRelease(), nextRelease()];
          const [heldRelease, freeRelease] = held === 'older' ? [older, newer] : [newer, older];
          const hold = holdAt(step);
          const slow = publishTo(p.out, 'talk', await work('slow'), { release: heldRelease, s3: p.s3, pause: hold.pause });
          await hold.reached;
          const finished = hold.releaseWhen(publishTo(p.out, 'talk', await work('fast'), { release: freeRelease, s3: p.s3 }));
          const stoodDown = new RegExp(`republished by a newer job \\(${newer}\\) of the same source`);
          // The older job stands down: at its check when the newer one's first entry file is there already, else after switching.
          if (held === 'newer' && step === 'entry') await rejectsWith(finished, 'STORAGE_FAILED', stoodDown);
          else await finished;
          if (held === 'older') await rejectsWith(slow, 'STORAGE_FAILED', stoodDown);
          else await slow;
          // Whichever switched last, the newer release is live, and whole.
          assert.equal(await assertWhole(p, 'talk'), newer);
          if (held === 'older') assert.deepEqual(Object.keys(await p.tree('talk')).filter((key) => key.startsWith(older)), [], 'the older job took its release back');
        });
      }
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

    it(`${label}: the other job wrote its entry files but not yet its record: they are its, not a stranger's (never USAGE); the newer one stays live`, async () => {
      const p = place();
      const [older, newer] = [nextRelease(), nextRelease()];
      const hold = holdAt('switched');
      const slow = publishTo(p.out, 'talk', await work('slow'), { release: older, s3: p.s3, pause: hold.pause });
      await hold.reached;
      const finished = hold.releaseWhen(publishTo(p.out, 'talk', await work('fast'), { release: newer, s3: p.s3 }));
      assert.equal((await finished).name, 'talk');
      // The older job writes its record after the newer one went live: it finds it, and stands down.
      await rejectsWith(slow, 'STORAGE_FAILED', new RegExp(`republished by a newer job \\(${newer}\\)`));
      assert.equal(await assertWhole(p, 'talk'), newer);
      assert.deepEqual(Object.keys(await p.tree('talk')).filter((key) => key.startsWith(older)), [], 'the older release is gone');
    });

    it(`${label}: the newer job switched, then the older one wrote its entry files and record over it: the newer one points them back`, async () => {
      const p = place();
      const [older, newer] = [nextRelease(), nextRelease()];
      // The older job has passed its check; the newer one writes its entry files and holds before its record.
      const olderHold = holdAt('live');
      const slow = publishTo(p.out, 'talk', await work('slow'), { release: older, s3: p.s3, pause: olderHold.pause });
      await olderHold.reached;
      const newerHold = holdAt('switched');
      const fast = publishTo(p.out, 'talk', await work('fast'), { release: newer, s3: p.s3, pause: newerHold.pause });
      await newerHold.reached;
      // The older job switches all the way now (it sees no newer release live: the record does not name one yet).
      await olderHold.releaseWhen(Promise.resolve());
      await slow;
      await newerHold.releaseWhen(Promise.resolve());
      await fast;
      assert.equal(await assertWhole(p, 'talk'), newer);
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

    for (const step of ['live', 'entry'] as const) {
      it(`${label}: two videos to one given name, the older switching last (held ${step === 'live' ? 'before' : 'between'} its entry files): one video, the newer, in every entry file`, async () => {
        const p = place();
        const [older, newer] = [nextRelease(), nextRelease()];
        const hold = holdAt(step);
        const slow = publishTo(p.out, 'talk', await work('b'), { video: VIDEO_B, given: true, release: older, s3: p.s3, pause: hold.pause });
        await hold.reached;
        const finished = hold.releaseWhen(publishTo(p.out, 'talk', await work('a'), { video: VIDEO_A, given: true, release: newer, s3: p.s3 }));
        await finished;
        await rejectsWith(slow, 'STORAGE_FAILED', new RegExp(`republished by a newer job \\(${newer}\\) while this job`));
        assert.equal(await assertWhole(p, 'talk'), newer);
        const tree = await p.tree('talk');
        assert.deepEqual(parseRecord(tree[RECORD_KEY]!, RECORD_KEY).video, VIDEO_A, 'the record names the video that is live');
        assert.deepEqual(Object.keys(tree).filter((key) => key.startsWith(older)), [], 'the older video\'s release is gone');
      });
    }

    it(`${label}: a failed first publish leaves an empty record, never none (another job's claim may be in it); the name stays free`, async () => {
      const p = place();
      const controller = new AbortController();
      const failed = publishTo(p.out, 'talk', await work('a'), { video: VIDEO_A, s3: p.s3, signal: controller.signal, transfer: 'copy', onProgress: () => controller.abort() });
      await rejectsWith(failed, 'INTERRUPTED', /previous package is unchanged/);
      const record = parseRecord((await p.tree('talk'))[RECORD_KEY] ?? 'no record', RECORD_KEY);
      assert.deepEqual({ ...record, updatedAt: '' }, emptyRecord());
      // Free for any video: another one takes the plain name.
      assert.equal((await publishTo(p.out, 'talk', await work('b'), { video: VIDEO_B, s3: p.s3 })).name, 'talk');
      await assertWhole(p, 'talk');
    });

    it(`${label}: a claim lost from the record: entry files pointing at a job's release folder that is there are vidpipe's (never exit 2), one whose folder is not there is a stranger's`, async () => {
      const p = place();
      const [lost, ours] = [nextRelease(), nextRelease()];
      await publishTo(p.out, 'talk', await work('lost'), { release: lost, s3: p.s3 });
      // The record was written over by a job that took its own claim back: it lists nothing.
      await p.put('talk', RECORD_KEY, formatRecord(emptyRecord()));
      assert.equal((await publishTo(p.out, 'talk', await work('ours'), { release: ours, s3: p.s3 })).name, 'talk');
      assert.equal(await assertWhole(p, 'talk'), ours);
      // A job-like name with no folder behind it is not vidpipe's.
      const q = place();
      await q.put('talk', RECORD_KEY, formatRecord(emptyRecord()));
      await q.put('talk', 'master.m3u8', `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n${lost}/video/h264-720p/index.m3u8\n`);
      await rejectsWith(publishTo(q.out, 'talk', await work('ours'), { s3: q.s3 }), 'USAGE', /master\.m3u8 is already there and vidpipe did not write it/);
    });

    it(`${label}: a sweep racing a fresh release of an older job never deletes it`, async () => {
      const p = place();
      const [first, older, newer] = [nextRelease(), nextRelease(), nextRelease()];
      await publishTo(p.out, 'talk', await work('1'), { release: first, s3: p.s3 });
      // The older job has claimed and sent its release and is about to switch; the newer one goes live and sweeps now.
      const hold = holdAt('live');
      const slow = publishTo(p.out, 'talk', await work('2'), { release: older, s3: p.s3, pause: hold.pause });
      await hold.reached;
      await publishTo(p.out, 'talk', await work('3'), { release: newer, s3: p.s3 });
      const tree = await p.tree('talk');
      assert.deepEqual(Object.keys(tree).filter((key) => key.startsWith(first)), [], 'the release live before is swept');
      for (const key of RELEASE_FILES) assert.ok(tree[`${older}/${key}`] !== undefined, `${older}/${key} survives the sweep`);
      // Then the older job goes on: it finds the newer one live, and stands down.
      await hold.releaseWhen(Promise.resolve());
      await rejectsWith(slow, 'STORAGE_FAILED', new RegExp(`republished by a newer job \\(${newer}\\)`));
      assert.equal(await assertWhole(p, 'talk'), newer);
    });

    it(`${label}: a job held longer than the claim lease keeps renewing it: the newer job's sweep leaves its release, which is whole when it switches`, async () => {
      const p = place();
      // Renewed every third of the lease, lapsed when two renewals are more than half of it apart:
      // 300 ms left an S3 renewal (a read and a conditional write) 150 ms, which a loaded machine
      // sometimes took (two test files at once); 1 s leaves it 500 ms.
      const claimLeaseMs = 1000;
      const [first, older, newer] = [nextRelease(), nextRelease(), nextRelease()];
      await publishTo(p.out, 'talk', await work('1'), { release: first, s3: p.s3 });
      const hold = holdAt('live');
      let atSwitch: Record<string, string> | undefined;
      const pause = async (step: PublishStep): Promise<void> => {
        await hold.pause(step);
        if (step === 'switched') atSwitch = await p.tree('talk');
      };
      const slow = publishTo(p.out, 'talk', await work('2'), { release: older, s3: p.s3, pause, claimLeaseMs });
      await hold.reached;
      const heldSince = Date.now();
      await delay(3 * claimLeaseMs);
      await publishTo(p.out, 'talk', await work('3'), { release: newer, s3: p.s3, claimLeaseMs });
      const tree = await p.tree('talk');
      assert.deepEqual(Object.keys(tree).filter((key) => key.startsWith(first)), [], 'the release live before is swept');
      for (const key of RELEASE_FILES) assert.ok(tree[`${older}/${key}`] !== undefined, `${older}/${key} survives the sweep`);
      const claimed = Date.parse(parseRecord(tree[RECORD_KEY]!, RECORD_KEY).claims?.[older] ?? '');
      assert.ok(claimed >= heldSince, 'the held job renewed its claim while held');
      await hold.releaseWhen(Promise.resolve());
      await rejectsWith(slow, 'STORAGE_FAILED', new RegExp(`republished by a newer job \\(${newer}\\)`));
      // When it switched, its entry files pointed at its release, every file of which was there.
      assert.equal(releaseReferencedBy('master.m3u8', atSwitch!['master.m3u8']!), older);
      for (const key of RELEASE_FILES) assert.ok(atSwitch![`${older}/${key}`] !== undefined, `${older}/${key} was there when it switched`);
      assert.equal(await assertWhole(p, 'talk'), newer);
    });

    it(`${label}: a job whose claim lapsed while it was held, and whose release was swept meanwhile, stands down before going live`, async () => {
      const p = place();
      const [older, newer] = [nextRelease(), nextRelease()];
      const hold = holdAt('live');
      const reached: PublishStep[] = [];
      const pause = async (step: PublishStep): Promise<void> => {
        reached.push(step);
        await hold.pause(step);
      };
      // A lease far longer than the hold: this job does not renew, as if its process was paused.
      const slow = publishTo(p.out, 'talk', await work('old'), { release: older, s3: p.s3, pause, claimLeaseMs: 3600_000 });
      await hold.reached;
      await delay(400);
      await publishTo(p.out, 'talk', await work('new'), { release: newer, s3: p.s3, claimLeaseMs: 300 });
      assert.deepEqual(Object.keys(await p.tree('talk')).filter((key) => key.startsWith(older)), [], 'the lapsed release was taken for a leftover');
      await hold.releaseWhen(Promise.resolve());
      await rejectsWith(slow, 'STORAGE_FAILED', new RegExp(`release ${older} in \\S+ lost files .*nothing of this job went live`));
      assert.ok(!reached.includes('entry') && !reached.includes('switched'), `no entry file ever pointed at the missing release: ${reached.join(' ')}`);
      assert.equal(await assertWhole(p, 'talk'), newer);
      assert.deepEqual(parseRecord((await p.tree('talk'))[RECORD_KEY]!, RECORD_KEY).releases, [newer]);
    });

    it(`${label}: a job whose claim was lost from the record while it was held, its files all there, still goes live`, async () => {
      const p = place();
      const [first, ours] = [nextRelease(), nextRelease()];
      await publishTo(p.out, 'talk', await work('1'), { release: first, s3: p.s3 });
      const before = (await p.tree('talk'))[RECORD_KEY]!;
      const hold = holdAt('live');
      const slow = publishTo(p.out, 'talk', await work('2'), { release: ours, s3: p.s3, pause: hold.pause, claimLeaseMs: 3600_000 });
      await hold.reached;
      // Another job's write of the record, from a read made before this job's claim.
      await p.put('talk', RECORD_KEY, before);
      await hold.releaseWhen(Promise.resolve());
      assert.equal((await slow).name, 'talk');
      assert.equal(await assertWhole(p, 'talk'), ours);
    });

    it(`${label}: leftovers of dead publishes: one whose claim was not renewed for the lease goes with the next publish, a fresh one stays`, async () => {
      const p = place();
      const [expired, fresh, first, ours] = [nextRelease(), nextRelease(), nextRelease(), nextRelease()];
      await publishTo(p.out, 'talk', await work('1'), { release: first, s3: p.s3 });
      for (const release of [expired, fresh]) for (const key of RELEASE_FILES) await p.put('talk', `${release}/${key}`, 'leftover');
      const record = parseRecord((await p.tree('talk'))[RECORD_KEY]!, RECORD_KEY);
      const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
      // The default lease: three minutes without renewal is a dead job's, one minute may be a live one's.
      const claims = { ...record.claims, [expired]: ago(3 * 60_000), [fresh]: ago(60_000) };
      await p.put('talk', RECORD_KEY, formatRecord({ ...record, releases: [expired, fresh, first], claims }));
      await publishTo(p.out, 'talk', await work('2'), { release: ours, s3: p.s3 });
      const tree = await p.tree('talk');
      const folders = new Set(Object.keys(tree).filter((key) => key.includes('/')).map((key) => key.split('/')[0]));
      assert.deepEqual([...folders].sort(), [fresh, ours].sort());
      assert.deepEqual(parseRecord(tree[RECORD_KEY]!, RECORD_KEY).releases, [fresh, ours]);
      assert.equal(await assertWhole(p, 'talk'), ours);
    });

    it(`${label}: a record of an earlier version (no claims): its unclaimed leftovers go, except one an entry file points at`, async () => {
      const p = place();
      const [leftover, pointed, first, ours] = [nextRelease(), nextRelease(), nextRelease(), nextRelease()];
      await publishTo(p.out, 'talk', await work('1'), { release: first, s3: p.s3 });
      for (const release of [leftover, pointed]) for (const key of RELEASE_FILES) await p.put('talk', `${release}/${key}`, 'old');
      await p.put('talk', 'master-ts.m3u8', `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n${pointed}/video/h264-720p/index.m3u8\n`);
      const { claims: _claims, ...record } = parseRecord((await p.tree('talk'))[RECORD_KEY]!, RECORD_KEY);
      await p.put('talk', RECORD_KEY, formatRecord({ ...record, releases: [leftover, pointed, first] }));
      await publishTo(p.out, 'talk', await work('2'), { release: ours, s3: p.s3 });
      const tree = await p.tree('talk');
      const folders = new Set(Object.keys(tree).filter((key) => key.includes('/')).map((key) => key.split('/')[0]));
      assert.deepEqual([...folders].sort(), [pointed, ours].sort(), 'the unclaimed leftover and the release live before go; the one master-ts.m3u8 points at stays');
      for (const key of RELEASE_FILES) assert.equal(tree[`${pointed}/${key}`], 'old');
      const after = parseRecord(tree[RECORD_KEY]!, RECORD_KEY);
      assert.deepEqual(after.releases, [pointed, ours]);
      assert.deepEqual(Object.keys(after.claims ?? {}), [ours], 'no claim time is made up for a release of an earlier version');
      assert.equal(await assertWhole(p, 'talk'), ours);
    });
  }
});
