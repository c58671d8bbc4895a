/**
 * Two jobs of one video at once, as a user meets them (bin/vidpipe spawned): two `transcode` runs
 * sharing the default work folder, two with their own work folders racing at each step of the
 * publish (held there by VIDPIPE_TEST_PUBLISH_HOLD, so the interleaving is deterministic), and two
 * `watch --once` processes with their own databases over one prefix. Whoever loses stands down
 * with exit 1 and a true reason (never 2, which means bad input and makes `watch` give an upload
 * up); every package is whole and valid afterwards, and nothing beside the packages is touched.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseRecord, RECORD_KEY } from '../../src/storage/package-record.js';
import { isJobRelease, releaseReferencedBy } from '../../src/storage/release.js';
import { createS3Client } from '../../src/storage/s3.js';
import { makeClip, runCli, tempDir, type CliRun } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { keysUnder, putFile, S3_ENV } from '../helpers/s3-package.js';

const FAST = ['--ladder', '180p', '--preset', 'ultrafast', '--concurrency', '1', '--no-thumbnails'];
/** Every wait on the other process is bounded (the hold itself gives up after 60 s). */
const WAIT_MS = 50_000;

const jsonLines = (run: CliRun): any[] => run.stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));

/** Resolves once the held process reached its hold (it wrote `<hold>.reached`); fails if it ended first. */
async function reached(hold: string, held: Promise<CliRun>): Promise<void> {
  let ended: CliRun | undefined;
  void held.then((run) => (ended = run));
  const until = Date.now() + WAIT_MS;
  while (!existsSync(`${hold}.reached`)) {
    if (ended) assert.fail(`the held run ended (exit ${ended.code}) before its hold: ${ended.stderr}`);
    if (Date.now() > until) assert.fail(`${hold}.reached did not appear within ${WAIT_MS} ms`);
    await sleep(50);
  }
}

/** URIs a playlist references (lines and URI="…" attributes), resolved against its folder. */
async function playlistFiles(playlist: string, seen = new Set<string>()): Promise<Set<string>> {
  if (seen.has(playlist)) return seen;
  seen.add(playlist);
  const text = await readFile(playlist, 'utf8');
  const refs = [...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!);
  refs.push(...text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#')));
  for (const ref of refs) {
    const file = path.join(path.dirname(playlist), decodeURIComponent(ref.split('?')[0]!));
    if (file.endsWith('.m3u8')) await playlistFiles(file, seen);
    else seen.add(file);
  }
  return seen;
}

/**
 * A whole package: both entry manifests point at one release whose every file they reference is
 * there, `vidpipe validate` passes, and every release folder on disk is one the record lists.
 */
async function assertWhole(root: string): Promise<{ release: string; releases: string[]; recordLive?: string }> {
  const names = await readdir(root);
  const pointed = new Set<string | undefined>();
  for (const entry of ['master.m3u8', 'manifest.mpd']) {
    assert.ok(names.includes(entry), `${root}/${entry} is there: ${names.join(' ')}`);
    pointed.add(releaseReferencedBy(entry, await readFile(path.join(root, entry), 'utf8')));
  }
  assert.equal(pointed.size, 1, `both entry manifests point at one release: ${[...pointed].join(' ')}`);
  const [release] = pointed as Set<string>;
  assert.ok(release !== undefined && names.includes(release), `the release they point at (${release}) is there`);
  for (const file of await playlistFiles(path.join(root, 'master.m3u8'))) assert.ok(existsSync(file), `${path.relative(root, file)} is there`);
  const record = parseRecord(await readFile(path.join(root, RECORD_KEY), 'utf8'), RECORD_KEY);
  const releases = names.filter((name) => isJobRelease(name)).sort();
  for (const name of releases) assert.ok(record.releases.includes(name), `release ${name} on disk is on the record (${record.releases.join(' ')})`);
  assert.ok(record.releases.includes(release), 'the live release is on the record');
  const validation = await runCli(['validate', root]);
  assert.equal(validation.code, 0, `vidpipe validate ${root}:\n${validation.stdout}${validation.stderr}`);
  return { release, releases, recordLive: record.live };
}

describe('two jobs of one video at once, end to end', { timeout: 600_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  let n = 0;
  /** A fresh default work folder and database (nothing set but the XDG folders). */
  const defaults = (): NodeJS.ProcessEnv => {
    const home = path.join(dir, `home-${n++}`);
    return { XDG_CACHE_HOME: path.join(home, 'cache'), XDG_DATA_HOME: path.join(home, 'data'), VIDPIPE_WORK_DIR: undefined, VIDPIPE_DB: undefined };
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-race-e2e-'));
    clip = await makeClip(path.join(dir, 'talk.mp4'), { durationSeconds: 2, width: 320, height: 180 });
  });
  after(() => cleanup());

  describe('two transcode runs sharing the default work folder', () => {
    it('the second, started while the first works, exits 1 (BUSY, "running this job right now"), not 2; one package, whole', async () => {
      const out = path.join(dir, `out-${n++}`);
      await mkdir(out);
      await writeFile(path.join(out, 'notes.txt'), 'mine\n');
      const env = defaults();
      const hold = path.join(dir, `hold-${n++}`);
      await writeFile(hold, '');
      const args = ['transcode', clip, '--out', out, '--json', ...FAST];
      // The first holds its work folder at the start of its publish while the second runs.
      const first = runCli(args, { env: { ...env, VIDPIPE_TEST_PUBLISH_HOLD: `chosen:${hold}` } });
      await reached(hold, first);
      const second = await runCli(args, { env });
      await rm(hold);
      const one = await first;
      assert.equal(one.code, 0, one.stderr);
      assert.equal(second.code, 1, `exit 1, never 2 (bad input): ${second.stderr}`);
      const [result] = jsonLines(second);
      assert.equal(result.status, 'failed');
      assert.equal(result.error.code, 'BUSY');
      assert.match(result.error.message, /another vidpipe \(pid \d+ on [^)]+\) is running this job right now, in .*; this run did nothing/);
      assert.match(result.error.hint, /wait for it to finish .*--work-dir/);
      assert.doesNotMatch(second.stderr, /did not write/);
      const whole = await assertWhole(path.join(out, 'talk'));
      assert.equal(whole.release, jsonLines(one)[0].jobId, 'the first run\'s release is live');
      assert.deepEqual(whole.releases, [whole.release], 'the second run published nothing');
      assert.equal(await readFile(path.join(out, 'notes.txt'), 'utf8'), 'mine\n');
      // The turned-away run is on record as failed, but not as a run of that work a later run could resume.
      const sqlite = new Database(path.join(env.XDG_DATA_HOME!, 'vidpipe', 'vidpipe.db'), { readonly: true });
      try {
        const jobs = sqlite.prepare('SELECT id, status, resume_key AS resumeKey FROM jobs ORDER BY started_at').all() as Array<{ id: string; status: string; resumeKey: string | null }>;
        assert.deepEqual(jobs.map((job) => [job.id, job.status, job.resumeKey !== null]), [[jsonLines(one)[0].jobId, 'succeeded', true], [result.jobId, 'failed', false]]);
      } finally {
        sqlite.close();
      }
    });

    it('started at the same instant: each exits 0 or 1 (BUSY), at least one publishes, the package is whole', async () => {
      const out = path.join(dir, `out-${n++}`);
      const env = defaults();
      const args = ['transcode', clip, '--out', out, '--json', ...FAST];
      const runs = await Promise.all([runCli(args, { env }), runCli(args, { env })]);
      for (const run of runs) {
        assert.ok(run.code === 0 || run.code === 1, `exit 0 or 1, got ${run.code}: ${run.stderr}`);
        if (run.code === 1) assert.equal(jsonLines(run)[0].error.code, 'BUSY', run.stdout);
      }
      assert.ok(runs.some((run) => run.code === 0), 'one of them published');
      await assertWhole(path.join(out, 'talk'));
    });
  });

  describe('two transcode runs with their own work folders, one held at a step of its publish', () => {
    // The held run started first: its job (and release) is the older one.
    const cases: ReadonlyArray<{ step: string; held: 0 | 1; detail?: RegExp }> = [
      { step: 'chosen', held: 1, detail: /republished by a newer job \(j[0-9a-z]+\) of the same source/ },
      { step: 'claim', held: 1, detail: /republished by a newer job \(j[0-9a-z]+\) of the same source/ },
      // Past its check: it switches after the newer run went live, finds it, points the entry files back at it and stands down.
      { step: 'live', held: 1, detail: /republished by a newer job \(j[0-9a-z]+\) of the same source/ },
      // The held run's entry files are written, its record not yet: the other must not take them for a stranger's.
      { step: 'switched', held: 1, detail: /republished by a newer job \(j[0-9a-z]+\) of the same source/ },
    ];
    for (const { step, held: heldExit, detail } of cases) {
      it(`held at "${step}": the held run exits ${heldExit}, the other 0; the package is whole and valid`, async () => {
        const out = path.join(dir, `out-${n++}`);
        await mkdir(out);
        await writeFile(path.join(out, 'notes.txt'), 'mine\n');
        const hold = path.join(dir, `hold-${n++}`);
        await writeFile(hold, '');
        const env = (name: string) => ({ VIDPIPE_WORK_DIR: path.join(dir, `work-${name}-${n}`), VIDPIPE_DB: path.join(dir, `db-${name}-${n}.sqlite`) });
        const args = ['transcode', clip, '--out', out, '--json', ...FAST];
        const held = runCli(args, { env: { ...env('held'), VIDPIPE_TEST_PUBLISH_HOLD: `${step}:${hold}` } });
        await reached(hold, held);
        const free = await runCli(args, { env: env('free') });
        await rm(hold);
        const slow = await held;
        assert.equal(free.code, 0, `the free run: ${free.stderr}`);
        assert.equal(slow.code, heldExit, `the held run: ${slow.stderr}`);
        for (const run of [free, slow]) assert.doesNotMatch(run.stderr, /did not write/);
        const [heldResult] = jsonLines(slow);
        if (detail) {
          assert.equal(heldResult.error.code, 'STORAGE_FAILED');
          assert.match(heldResult.error.message, detail);
        }
        const whole = await assertWhole(path.join(out, 'talk'));
        const freeRelease = jsonLines(free)[0].jobId;
        // The newer run wins, whichever switched last.
        assert.equal(whole.release, freeRelease);
        if (heldExit === 1) assert.deepEqual(whole.releases, [freeRelease], 'the loser removed its own release, nothing else');
        else assert.deepEqual(whole.releases, [heldResult.jobId, freeRelease].sort(), 'neither deleted the other\'s release');
        assert.equal(await readFile(path.join(out, 'notes.txt'), 'utf8'), 'mine\n');
      });
    }
  });

  describe('two watchers with their own databases over one prefix', () => {
    let s3: S3TestServer;
    let client: S3Client;
    before(async () => {
      s3 = await startS3Server({ buckets: ['inbox'] });
      client = createS3Client(s3.clientOptions());
    });
    after(async () => {
      client.destroy();
      await s3.stop();
    });

    it('the one that finds the job busy tries again later, never gives up; three whole packages, nothing else touched', async () => {
      const uploads = ['a', 'b', 'c'];
      for (const [i, name] of uploads.entries()) {
        await putFile(client, 'inbox', `up/${name}.mp4`, await makeClip(path.join(dir, `${name}.mp4`), { durationSeconds: 2, width: 320 - 16 * i, height: 180 }));
      }
      const out = path.join(dir, `out-${n++}`);
      await mkdir(out);
      await writeFile(path.join(out, 'notes.txt'), 'mine\n');
      const env = { ...defaults(), ...S3_ENV };
      const dbs = [path.join(dir, 'watch-1.db'), path.join(dir, 'watch-2.db')];
      const args = (db: string) => ['watch', 's3://inbox/up/', '--out', out, '--s3-endpoint', s3.endpoint, '--db', db, '--json', '--progress', 'plain', '--once', '--interval', '0.5', ...FAST];
      const hold = path.join(dir, `hold-${n++}`);
      await writeFile(hold, '');
      // The first watcher holds its first publish (and that job's work folder) until the second
      // has met that job busy, so the second meets it busy every time, whatever the timing.
      const first = runCli(args(dbs[0]!), { env: { ...env, VIDPIPE_TEST_PUBLISH_HOLD: `chosen:${hold}` } });
      await reached(hold, first);
      const second = runCli(args(dbs[1]!), {
        env,
        onStderr: (text) => {
          if (/up\/a\.mp4: (another vidpipe is running this job|failed)/.test(text)) void rm(hold, { force: true });
        },
      });
      const [one, two] = await Promise.all([first, second]);
      await rm(hold, { force: true });
      assert.equal(one.code, 0, one.stderr);
      assert.equal(two.code, 0, two.stderr);
      assert.ok(jsonLines(two).some((line) => line.key === 'up/a.mp4' && line.watchStatus === 'retry' && line.error.code === 'BUSY'), `the second watcher met a.mp4 busy:\n${two.stdout}`);
      for (const run of [one, two]) {
        const outcomes = jsonLines(run);
        assert.deepEqual(outcomes.filter((line) => line.watchStatus === 'failed'), [], 'nothing failed');
        assert.deepEqual([...new Set(outcomes.filter((line) => line.watchStatus === 'done').map((line) => line.key))].sort(), uploads.map((name) => `up/${name}.mp4`));
      }
      for (const db of dbs) {
        const sqlite = new Database(db, { readonly: true });
        try {
          const rows = sqlite.prepare('SELECT key, status, error FROM watch_objects ORDER BY key').all() as Array<{ key: string; status: string }>;
          assert.deepEqual(rows.map((row) => [row.key, row.status]), uploads.map((name) => [`up/${name}.mp4`, 'done']), `${db}: every upload done, none given up`);
        } finally {
          sqlite.close();
        }
      }
      for (const name of uploads) await assertWhole(path.join(out, name));
      assert.deepEqual((await readdir(out)).sort(), [...uploads, 'notes.txt'], 'one package per upload, nothing else');
      assert.equal(await readFile(path.join(out, 'notes.txt'), 'utf8'), 'mine\n');
      assert.deepEqual((await keysUnder(client, 'inbox', 'up/')).sort(), ['a.mp4', 'b.mp4', 'c.mp4'], 'the uploads are untouched');
    });

    it('with --once, an upload busy for longer than a lease is left for a later run: the watcher ends, the other job publishes it', async () => {
      const prefix = `once-${n++}/`;
      await putFile(client, 'inbox', `${prefix}a.mp4`, await makeClip(path.join(dir, 'once-a.mp4'), { durationSeconds: 2, width: 320, height: 180 }));
      await putFile(client, 'inbox', `${prefix}b.mp4`, await makeClip(path.join(dir, 'once-b.mp4'), { durationSeconds: 2, width: 288, height: 180 }));
      const out = path.join(dir, `out-${n++}`);
      await mkdir(out);
      const env = { ...defaults(), ...S3_ENV };
      const args = (db: string) => ['watch', `s3://inbox/${prefix}`, '--out', out, '--s3-endpoint', s3.endpoint, '--db', db, '--json', '--progress', 'plain', '--once', '--interval', '0.5', ...FAST];
      const hold = path.join(dir, `hold-${n++}`);
      await writeFile(hold, '');
      // The first watcher holds its first publish (and that job's work folder) until the second has
      // ended: its lock stands for one that outlives the second's patience.
      const first = runCli(args(path.join(dir, `once-1-${n}.db`)), { env: { ...env, VIDPIPE_TEST_PUBLISH_HOLD: `chosen:${hold}` } });
      await reached(hold, first);
      const started = Date.now();
      const two = await runCli([...args(path.join(dir, `once-2-${n}.db`)), '--lease', '2'], { env });
      const waitedMs = Date.now() - started;
      await rm(hold, { force: true });
      const one = await first;
      assert.equal(two.code, 0, two.stderr);
      assert.ok(waitedMs < 60_000, `the second watcher ended in ${waitedMs} ms`);
      // The first watcher takes a.mp4 first (listing order) and is held there.
      assert.match(two.stderr, new RegExp(`${prefix}a\\.mp4: another vidpipe has been running this job for \\d+ s; left for a later run \\(--once\\)`));
      const outcomes = jsonLines(two);
      assert.ok(outcomes.some((line) => line.watchStatus === 'retry' && line.error?.code === 'BUSY'), two.stdout);
      assert.deepEqual(outcomes.filter((line) => line.watchStatus === 'failed'), [], 'nothing failed');
      assert.equal(one.code, 0, one.stderr);
      for (const name of ['a', 'b']) await assertWhole(path.join(out, name));
    });
  });
});
