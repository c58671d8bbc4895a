/**
 * The PostgreSQL metadata engine against a real server (test/helpers/postgres-server.ts): the
 * shared record suite, the one migration history (fresh, step by step from each earlier version,
 * concurrent first opens, a newer schema refused), concurrent writers from separate pools (claims
 * of one upload: each exactly once; task updates: none lost) and the refusals:
 * an unreachable server or a wrong password fails promptly, naming the server, never the password.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { openMetadata } from '../../src/db/engines.js';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { migratePostgres, postgresSchemaVersion } from '../../src/db/postgres/migrate.js';
import type { MetadataStore } from '../../src/db/metadata-store.js';
import { isVidpipeError } from '../../src/errors.js';
import { sampleCompletion, sampleStart } from '../helpers/db-fixtures.js';
import { startBlackHole } from '../helpers/black-hole.js';
import { runCli } from '../helpers/media.js';
import { describeMetadataRecords } from '../helpers/metadata-record-suite.js';
import { sharedPostgres, type SharedPostgres } from '../helpers/postgres-server.js';

let server: SharedPostgres;
/** This file's database. */
let database: string;
/** The test's own: a fresh schema of `database` (CREATE DATABASE per test would take most of the time). */
let url: string;
before(async () => {
  server = await sharedPostgres();
  database = await server.createDatabase();
});
beforeEach(async () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await withClient(database, (client) => client.query(`CREATE SCHEMA ${schema}`));
  const target = new URL(database);
  target.searchParams.set('options', `-c search_path=${schema}`);
  url = target.toString();
});

async function withClient<T>(target: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

async function withStores<T>(count: number, body: (stores: MetadataStore[]) => Promise<T>): Promise<T> {
  const stores = await Promise.all(Array.from({ length: count }, (_, n) => openMetadata(url, { worker: `host:${n}` })));
  try {
    return await body(stores);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
}

describeMetadataRecords({
  name: 'postgres',
  // A fresh database per test (beforeEach); every open of the test reaches it.
  open: (options) => openMetadata(url, options),
});

describe('postgres schema', () => {
  test('a fresh database gets every step; JSONB for the flexible properties; opening again changes nothing', async () => {
    await (await openMetadata(url)).close();
    await (await openMetadata(url)).close();
    await withClient(url, async (client) => {
      assert.equal(await postgresSchemaVersion(client), MIGRATIONS.length);
      const { rows } = await client.query(`SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'jsonb' ORDER BY 1, 2`);
      const jsonb = rows.map((row: { table_name: string; column_name: string }) => `${row.table_name}.${row.column_name}`);
      for (const column of ['videos.probe', 'videos.tags', 'videos.properties', 'jobs.options', 'renditions.properties', 'tasks.output']) assert.ok(jsonb.includes(column), column);
    });
  });

  test('from every earlier version: the pending steps run and every row is kept', async () => {
    for (let version = 1; version < MIGRATIONS.length; version++) {
      const target = await server.createDatabase();
      await withClient(target, async (client) => {
        assert.equal(await migratePostgres(client, MIGRATIONS.slice(0, version)), version);
        await client.query(`INSERT INTO videos (id, source, name, kind, status, created_at, updated_at) VALUES ('vold', '/a.mp4', 'a', 'video', 'ready', now(), now())`);
        await client.query(`INSERT INTO jobs (id, video_id, input, output, status, started_at) VALUES ('jold', 'vold', '/a.mp4', '/out', 'succeeded', now())`);
      });
      const store = await openMetadata(target);
      try {
        const { video, latestJob } = await store.getVideo('vold');
        assert.equal(video.name, 'a', `from version ${version}`);
        assert.equal(latestJob?.id, 'jold');
        await store.startJob(sampleStart('jnew', 'vold'));
        assert.equal((await store.getJob('jnew')).job.attempt, 2);
      } finally {
        await store.close();
      }
      await withClient(target, async (client) => assert.equal(await postgresSchemaVersion(client), MIGRATIONS.length));
    }
  });

  test('several processes opening a new database at once migrate it once', async () => {
    await withStores(6, async (stores) => {
      await Promise.all(stores.map((store, n) => store.startJob(sampleStart(`j${n}`))));
      assert.equal((await stores[0].listVideos()).length, 1);
    });
    await withClient(url, async (client) => assert.equal(await postgresSchemaVersion(client), MIGRATIONS.length));
  });

  test('a database of a newer vidpipe is refused before anything is written', async () => {
    await (await openMetadata(url)).close();
    await withClient(url, (client) => client.query('UPDATE vidpipe_schema SET version = $1', [MIGRATIONS.length + 1]));
    await assert.rejects(openMetadata(url), (error: unknown) => isVidpipeError(error) && error.code === 'DB_FAILED' && /newer than this vidpipe supports/.test(error.message));
  });
});

describe('postgres: many writers, one database', () => {
  test('watchers racing for the same uploads: each upload is claimed exactly once', async () => {
    await withStores(4, async (stores) => {
      const uploads = Array.from({ length: 12 }, (_, n) => ({ bucket: 'media', key: `up/${n}.mp4`, etag: `e${n}`, size: 10 }));
      const now = new Date();
      const claims = await Promise.all(stores.flatMap((store, w) => uploads.map(async (upload) => ({ w, key: upload.key, claim: await store.claimUpload(upload, { owner: `watcher-${w}`, leaseMs: 60_000, maxAttempts: 3, now }) }))));
      for (const upload of uploads) {
        const won = claims.filter((c) => c.key === upload.key && c.claim.claimed);
        assert.equal(won.length, 1, upload.key);
        assert.equal((await stores[0].getUpload('media', upload.key))?.leaseOwner, `watcher-${won[0].w}`);
      }
      // A lease that runs out (a killed watcher) is taken over by exactly one other.
      const later = new Date(now.getTime() + 61_000);
      const takeovers = await Promise.all(stores.map((store, w) => store.claimUpload(uploads[0], { owner: `late-${w}`, leaseMs: 60_000, maxAttempts: 3, now: later })));
      assert.equal(takeovers.filter((c) => c.claimed).length, 1);
    });
  });

  test('tasks of one job finishing together and two jobs of one video: no update is lost', async () => {
    await withStores(3, async (stores) => {
      const tasks = Array.from({ length: 30 }, (_, n) => ({ id: `t${n}`, kind: 'encode', label: `T${n}`, dependsOn: [] }));
      await stores[0].startJob({ ...sampleStart('j1'), tasks });
      await Promise.all(tasks.map((task, n) => stores[n % 3].updateTask('j1', task.id, { status: 'succeeded', worker: `w${n % 3}` })));
      assert.ok((await stores[1].getJob('j1')).tasks.every((task) => task.status === 'succeeded' && task.progress === 1));
      await Promise.all([stores[1].startJob(sampleStart('j2')), stores[2].startJob(sampleStart('j3'))]);
      const attempts = [(await stores[0].getJob('j2')).job.attempt, (await stores[0].getJob('j3')).job.attempt].sort();
      assert.deepEqual(attempts, [2, 3]);
    });
  });
});

describe('postgres: two jobs of one video ending together', () => {
  test('two succeeding and one failing at once, from three processes\' pools (four videos at a time): each job keeps its whole record, each video stays published', async () => {
    const videos = ['v0000000000a1', 'v0000000000a2', 'v0000000000a3', 'v0000000000a4'];
    await withStores(3, async (stores) => {
      await Promise.all(videos.map(async (videoId) => {
        const jobs = [`${videoId}-j1`, `${videoId}-j2`, `${videoId}-j3`];
        await stores[0].startJob(sampleStart(jobs[0]!, videoId));
        await Promise.all([stores[1].startJob(sampleStart(jobs[1]!, videoId)), stores[2].startJob(sampleStart(jobs[2]!, videoId))]);
        await Promise.all(jobs.flatMap((jobId, n) => ['probe', 'encode-720p', 'manifests'].map((task) => stores[n]!.updateTask(jobId, task, { status: 'succeeded', worker: `w${n}` }))));
        await Promise.all([
          stores[0].completeJob(jobs[0]!, sampleCompletion(videoId)),
          stores[1].completeJob(jobs[1]!, sampleCompletion(videoId)),
          stores[2].failJob(jobs[2]!, { status: 'failed', code: 'FFMPEG_FAILED', message: 'encoder crashed' }),
        ]);
      }));
      for (const videoId of videos) {
        for (const jobId of [`${videoId}-j1`, `${videoId}-j2`]) {
          const { job, tasks, renditions, files } = await stores[0].getJob(jobId);
          assert.equal(job.status, 'succeeded', jobId);
          assert.deepEqual(tasks.map((t) => t.status), ['succeeded', 'succeeded', 'succeeded'], jobId);
          assert.deepEqual(renditions.map((r) => r.name), ['h264-720p', 'aac-128k'], jobId);
          assert.equal(files.length, 2, jobId);
        }
        const failed = (await stores[1].getJob(`${videoId}-j3`)).job;
        assert.deepEqual([failed.status, failed.errorCode, failed.errorMessage], ['failed', 'FFMPEG_FAILED', 'encoder crashed']);
        const { video, readyJob, renditions } = await stores[2].getVideo(videoId);
        assert.equal(video.status, 'ready', `${videoId}: a job failing while another publishes leaves the video published`);
        assert.ok(readyJob && [`${videoId}-j1`, `${videoId}-j2`].includes(readyJob.id));
        assert.equal(renditions.length, 2);
      }
      assert.deepEqual((await stores[0].listVideos()).map((v) => [v.status, v.renditionCount]), videos.map(() => ['ready', 2]));
    });
  });
});

describe('postgres: refusals', () => {
  test('an unreachable server fails promptly (exit 1), naming the server and never the password', async () => {
    const started = Date.now();
    await assert.rejects(openMetadata('postgres://vidpipe:pw-Sup3rSecret@127.0.0.1:1/vidpipe?sslmode=disable'), (error: unknown) => {
      assert.ok(isVidpipeError(error) && error.code === 'DB_FAILED' && error.exitCode === 1);
      assert.match(error.message, /127\.0\.0\.1:1.*connection refused/);
      assert.doesNotMatch(`${error.message} ${error.hint}`, /Sup3rSecret/);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
  });

  test('a wrong password is refused with the server named, the password nowhere', async () => {
    const wrong = new URL(url);
    wrong.password = 'not-the-Passw0rd';
    await assert.rejects(openMetadata(wrong.toString()), (error: unknown) => {
      assert.ok(isVidpipeError(error) && error.code === 'DB_FAILED');
      assert.match(error.message, /127\.0\.0\.1:\d+: password authentication failed/);
      assert.doesNotMatch(`${error.message} ${error.hint}`, /not-the-Passw0rd/);
      return true;
    });
  });

  test('PG* variables fill in what the URL leaves out', async () => {
    const given = new URL(url);
    const saved = { ...process.env };
    Object.assign(process.env, { PGPASSWORD: decodeURIComponent(given.password), PGUSER: decodeURIComponent(given.username) });
    try {
      const store = await openMetadata(`postgres://${given.host}${given.pathname}`);
      await store.startJob(sampleStart('j1'));
      await store.close();
    } finally {
      for (const key of ['PGPASSWORD', 'PGUSER']) if (saved[key] === undefined) delete process.env[key];
    }
  });
});

describe('postgres: the CLI', () => {
  test('list and show read the records from the database (--db and VIDPIPE_DB), an empty one named without its password', async () => {
    const store = await openMetadata(url);
    await store.startJob(sampleStart('j1'));
    await store.completeJob('j1', sampleCompletion());
    await store.close();
    const listed = await runCli(['list', '--db', url, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { videos: { id: string; status: string; renditionCount: number }[] }).videos.map((v) => [v.id, v.status, v.renditionCount]), [['v0123456789ab', 'ready', 2]]);
    const shown = await runCli(['show', 'v0123', '--json'], { env: { VIDPIPE_DB: url } });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /h264-720p/);
    const password = decodeURIComponent(new URL(url).password);
    const empty = await runCli(['list', '--db', await server.createDatabase()]);
    assert.match(empty.stdout, /No videos recorded in postgres:\/\/vidpipe:\*\*\*@127\.0\.0\.1/);
    assert.ok(!empty.stdout.includes(password));
  });

  test('a server that accepts and never answers: exit 1 after the connect timeout, never a hang; host and reason on stderr, no password', async () => {
    const hole = await startBlackHole();
    try {
      const started = Date.now();
      const run = await runCli(['list', '--db', `postgres://vidpipe:Hunter2-pw@127.0.0.1:${hole.port}/vidpipe`]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`PostgreSQL server at 127\\.0\\.0\\.1:${hole.port}: no answer within 10 s`));
      assert.doesNotMatch(run.stdout + run.stderr, /Hunter2/);
      assert.ok(hole.accepted() >= 1, 'it did connect');
      assert.ok(Date.now() - started < 30_000, `${Date.now() - started} ms`);
    } finally {
      await hole.stop();
    }
  });

  test('an unreachable server: exit 1 at once, host and reason on stderr, no password', async () => {
    const started = Date.now();
    const run = await runCli(['list', '--db', 'postgresql://vidpipe:Hunter2-pw@127.0.0.1:1/vidpipe']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /PostgreSQL server at 127\.0\.0\.1:1: connection refused/);
    assert.doesNotMatch(run.stdout + run.stderr, /Hunter2/);
    assert.ok(Date.now() - started < 15_000);
  });
});
