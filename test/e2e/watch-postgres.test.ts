/**
 * Many machines, one database: two long-running `vidpipe watch` processes over one prefix and one
 * PostgreSQL database (each with its own work folder, as on two machines), uploads arriving while
 * they watch. Each upload is claimed exactly once; a watcher killed mid-job leaves its claim to
 * expire, and the other takes it over and publishes it. A real s3rver and PostgreSQL server.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { openMetadata } from '../../src/db/engines.js';
import { createS3Client, readTextObject } from '../../src/storage/s3.js';
import { makeClip, REPO_ROOT, tempDir, VIDPIPE_BIN } from '../helpers/media.js';
import { sharedPostgres } from '../helpers/postgres-server.js';
import { putFile, S3_ENV } from '../helpers/s3-package.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

interface Watcher {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The `--json` lines of the uploads it finished. */
  done: () => { key: string; watchStatus: string; attempt: number; jobId: string }[];
  exited: Promise<void>;
  stop: () => Promise<void>;
}

describe('two vidpipe watch processes, one PostgreSQL database (s3rver)', { timeout: 600_000 }, () => {
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let db: string;
  const clips: string[] = [];
  const watchers: Watcher[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-watch-pg-'));
    s3 = await startS3Server({ buckets: ['inbox', 'vod'] });
    client = createS3Client(s3.clientOptions());
    db = await (await sharedPostgres()).createDatabase();
    // Different sizes, so different content and ETags.
    for (const [i, width] of [160, 192, 224, 256].entries()) clips.push(await makeClip(path.join(dir, `clip${i}.mp4`), { durationSeconds: 2, width, height: 90 }));
  });
  after(async () => {
    await Promise.all(watchers.map((w) => w.stop()));
    client?.destroy();
    await s3?.stop();
    await cleanup?.();
  });

  const startWatcher = (name: string): Watcher => {
    const args = ['watch', 's3://inbox/up/', '--out', 's3://vod/', '--s3-endpoint', s3.endpoint, '--db', db, '--json', '--progress', 'plain',
      '--ladder', '90p', '--preset', 'ultrafast', '--concurrency', '1', '--no-thumbnails', '--interval', '0.5', '--lease', '3'];
    const child = spawn(process.execPath, [VIDPIPE_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...S3_ENV, CI: '', VIDPIPE_SOURCE_QUIET: '0', VIDPIPE_WORK_DIR: path.join(dir, `work-${name}`) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const watcher: Watcher = {
      child,
      stdout: () => out,
      stderr: () => err,
      done: () => out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l)),
      exited,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    watchers.push(watcher);
    return watcher;
  };

  const until = async (what: string, ready: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s:\n${watchers.map((w) => w.stderr()).join('\n---\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const claimsOf = (key: string) => watchers.flatMap((w) => w.stderr().match(new RegExp(`s3://inbox/${key.replace('.', '\\.')}: claimed \\(attempt \\d`, 'g')) ?? []);

  it('uploads arriving while both watch: each claimed once, by one of them, and published; a watcher killed mid-job is taken over after its lease', async () => {
    const [first, second] = [startWatcher('a'), startWatcher('b')];
    await until('both watching', () => [first, second].every((w) => /watching s3:\/\/inbox\/up\//.test(w.stderr())), 60_000);

    const keys = ['up/p0.mp4', 'up/p1.mp4', 'up/p2.mp4'];
    for (const [i, key] of keys.entries()) {
      await putFile(client, 'inbox', key, clips[i]!);
      await new Promise((r) => setTimeout(r, 700));
    }
    await until('three uploads done', () => [first, second].flatMap((w) => w.done()).length >= 3, 240_000);
    const done = [first, second].flatMap((w) => w.done());
    assert.deepEqual(done.map((l) => l.key).sort(), keys);
    assert.ok(done.every((l) => l.watchStatus === 'done' && l.attempt === 1), JSON.stringify(done));
    for (const key of keys) assert.equal(claimsOf(key).length, 1, `${key} claimed once`);
    for (const name of ['p0', 'p1', 'p2']) assert.ok(await readTextObject(client, 'vod', `${name}/master.m3u8`), `${name} published`);

    // The next upload: whoever claims it is killed once it encodes (no goodbye to the database).
    await putFile(client, 'inbox', 'up/k.mp4', clips[3]!);
    await until('k.mp4 claimed', () => claimsOf('up/k.mp4').length === 1, 60_000);
    const holder = [first, second].find((w) => /up\/k\.mp4: claimed/.test(w.stderr()))!;
    const other = holder === first ? second : first;
    await until('the holder encoding k.mp4', () => /Encode video: started/.test(holder.stderr().slice(holder.stderr().indexOf('up/k.mp4: claimed'))), 60_000);
    holder.child.kill('SIGKILL');
    await holder.exited;
    const killedAt = Date.now();
    await until('k.mp4 taken over', () => other.done().some((l) => l.key === 'up/k.mp4'), 120_000);
    const line = other.done().find((l) => l.key === 'up/k.mp4')!;
    assert.deepEqual([line.watchStatus, line.attempt], ['done', 2]);
    assert.ok(Date.now() - killedAt >= 2_000, 'not before the lease (3 s) ran out');
    assert.ok(await readTextObject(client, 'vod', 'k/master.m3u8'));

    const store = await openMetadata(db);
    try {
      for (const key of [...keys, 'up/k.mp4']) {
        const upload = await store.getUpload('inbox', key);
        assert.equal(upload?.status, 'done', key);
      }
      const videos = await store.listVideos({ limit: 10 });
      assert.deepEqual(videos.map((v) => v.name).sort(), ['k', 'p0', 'p1', 'p2']);
      for (const video of videos) {
        const { readyJob } = await store.getVideo(video.id);
        assert.equal(readyJob?.status, 'succeeded', video.name);
      }
    } finally {
      await store.close();
    }
  });
});
