import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, readTextObject } from '../../src/storage/s3.js';
import { makeClip, REPO_ROOT, runCli, tempDir, VIDPIPE_BIN, type CliRun } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { hlsReferences, keysUnder, putFile, putText, S3_ENV } from '../helpers/s3-package.js';

const FAST = ['--ladder', '90p', '--preset', 'ultrafast', '--concurrency', '1', '--no-thumbnails', '--interval', '0.5'];

interface Line {
  key: string;
  watchStatus: string;
  attempt: number;
  jobId: string;
  outputs: Record<string, string>;
  renditions: Array<{ segments: number }>;
  error?: { message: string };
}

const lines = (run: CliRun): Line[] => run.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));

describe('vidpipe watch (s3rver, spawned watchers)', { timeout: 600_000 }, () => {
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let db: string;
  const clips: string[] = [];
  const watchArgs = (target: string, extra: string[] = []) => [
    'watch', target, '--out', 's3://vod/', '--s3-endpoint', s3.endpoint, '--db', db, '--json', '--progress', 'plain', ...FAST, ...extra,
  ];
  const jobsFor = (like: string) => {
    const sqlite = new Database(db, { readonly: true });
    try {
      return sqlite.prepare('SELECT id, status FROM jobs WHERE input LIKE ? ORDER BY started_at').all(like) as Array<{ id: string; status: string }>;
    } finally {
      sqlite.close();
    }
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-watch-e2e-'));
    s3 = await startS3Server({ buckets: ['inbox', 'vod'] });
    client = createS3Client(s3.clientOptions());
    db = path.join(dir, 'watch.db');
    // Different sizes, so different content and ETags.
    for (const [i, width] of [160, 192, 224].entries()) {
      clips.push(await makeClip(path.join(dir, `clip${i}.mp4`), { durationSeconds: 2, width, height: 90 }));
    }
  });
  after(async () => {
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  it('picks up two uploads, applies a sidecar, ignores sidecars and its own outputs, and never redoes them', async () => {
    await putFile(client, 'inbox', 'two/a.mp4', clips[0]!);
    await putFile(client, 'inbox', 'two/b.mp4', clips[1]!);
    await putText(client, 'inbox', 'two/b.mp4.vidpipe.json', JSON.stringify({ name: 'bee', segmentDuration: 1 }));
    const run = await runCli(watchArgs('s3://inbox/two/', ['--once']), { env: S3_ENV });
    assert.equal(run.code, 0, run.stderr);
    const done = lines(run);
    assert.deepEqual(done.map((l) => [l.key, l.watchStatus, l.attempt]).sort(), [['two/a.mp4', 'done', 1], ['two/b.mp4', 'done', 1]]);
    const bee = done.find((l) => l.key === 'two/b.mp4')!;
    assert.equal(bee.outputs.hls, 's3://vod/bee/master.m3u8');
    assert.equal(bee.renditions[0]!.segments, 2, 'sidecar segmentDuration 1 → two segments for 2 s');
    assert.equal(done.find((l) => l.key === 'two/a.mp4')!.renditions[0]!.segments, 1);
    assert.match(run.stderr, /vidpipe watch: s3:\/\/inbox\/two\/a\.mp4: claimed/);
    assert.match(run.stderr, /Encode video: started/, 'plain progress lines in watch mode');

    const again = await runCli(watchArgs('s3://inbox/two/', ['--once']), { env: S3_ENV });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(lines(again), [], 'done objects are never redone');
    assert.equal(jobsFor('s3://inbox/two/%').length, 2);
  });

  it('a watcher killed mid-job is taken over after its lease and finishes without duplicate outputs', async () => {
    await putFile(client, 'inbox', 'kill/c.mp4', clips[2]!);
    const killed = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      const child = spawn(process.execPath, [VIDPIPE_BIN, ...watchArgs('s3://inbox/kill/', ['--lease', '3'])], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...S3_ENV, CI: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (data) => {
        stderr += data;
        if (/Encode video: started/.test(stderr)) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(jobsFor('s3://inbox/kill/%').length, 1);

    const restarted = await runCli(watchArgs('s3://inbox/kill/', ['--once', '--lease', '3']), { env: S3_ENV });
    assert.equal(restarted.code, 0, restarted.stderr);
    const [line, ...rest] = lines(restarted);
    assert.deepEqual(rest, []);
    assert.deepEqual([line!.key, line!.watchStatus, line!.attempt], ['kill/c.mp4', 'done', 2]);
    const top = [...new Set((await keysUnder(client, 'vod', 'c/')).map((k) => k.split('/')[0]))].sort();
    assert.deepEqual(top, [line!.jobId, 'manifest.mpd', 'master.m3u8', 'vidpipe-record.json'], 'one release, no leftovers of the killed job');
    const keys = await keysUnder(client, 'vod', 'c/');
    for (const key of await hlsReferences(client, 'vod', 'c/')) assert.ok(keys.includes(key), `${key} present`);
    const jobs = jobsFor('s3://inbox/kill/%');
    assert.equal(jobs.filter((j) => j.status === 'succeeded').length, 1);
  });

  it('SIGTERM stops the current job, gives the upload back unspent and exits 0', async () => {
    await putFile(client, 'inbox', 'term/t.mp4', clips[0]!);
    let signalled = false; // a second signal would force an immediate exit
    const stopped = await runCli(watchArgs('s3://inbox/term/'), {
      env: S3_ENV,
      onStderr: (text, child) => {
        if (signalled || !/Encode video: started/.test(text)) return;
        signalled = true;
        child.kill('SIGTERM');
      },
    });
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stderr, /SIGTERM received/);
    assert.match(stopped.stderr, /term\/t\.mp4: released \(stopping\)/);
    const sqlite = new Database(db, { readonly: true });
    try {
      const row = sqlite.prepare('SELECT status, attempts, lease_owner FROM watch_objects WHERE key = ?').get('term/t.mp4');
      assert.deepEqual({ ...(row as object) }, { status: 'pending', attempts: 0, lease_owner: null });
    } finally {
      sqlite.close();
    }
    assert.deepEqual(await keysUnder(client, 'vod', 't/'), [], 'nothing published');
  });

  it('two watchers sharing the bucket and the database never process the same object twice', async () => {
    for (const [i, clip] of clips.entries()) await putFile(client, 'inbox', `pair/p${i}.mp4`, clip);
    const [one, two] = await Promise.all([
      runCli(watchArgs('s3://inbox/pair/', ['--once']), { env: S3_ENV }),
      runCli(watchArgs('s3://inbox/pair/', ['--once']), { env: S3_ENV }),
    ]);
    assert.equal(one!.code, 0, one!.stderr);
    assert.equal(two!.code, 0, two!.stderr);
    const all = [...lines(one!), ...lines(two!)];
    assert.deepEqual(all.map((l) => l.key).sort(), ['pair/p0.mp4', 'pair/p1.mp4', 'pair/p2.mp4']);
    assert.ok(all.every((l) => l.watchStatus === 'done' && l.attempt === 1));
    assert.equal(jobsFor('s3://inbox/pair/%').length, 3, 'one job per object across both watchers');
    for (const name of ['p0', 'p1', 'p2']) assert.ok(await readTextObject(client, 'vod', `${name}/master.m3u8`), `${name} published`);
  });
});
