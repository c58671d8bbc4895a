/**
 * A `--detach`ed queued job is recorded in PostgreSQL by the workers, with no further command,
 * however it ends: every task succeeded, a task failed on its last attempt, or BullMQ failed a task
 * because its workers kept dying (stalled out). Two recording workers (`vidpipe worker --db
 * postgres://…`) serve each queue and exactly one of them writes the record. A real redis-server,
 * s3rver and PostgreSQL server (test/helpers), the CLI as a user runs it; each case has a Redis
 * database of its own.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import pg from 'pg';
import { openMetadata } from '../../src/db/engines.js';
import type { MetadataStore } from '../../src/db/metadata-store.js';
import { redisConnection } from '../../src/queue/connection.js';
import { TASK_QUEUE } from '../../src/queue/protocol.js';
import { queuedJobStatus } from '../../src/queue/status.js';
import { createS3Client } from '../../src/storage/s3.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { sharedPostgres } from '../helpers/postgres-server.js';
import { brokenFfmpeg, startWorkerProcess, type WorkerProcess } from '../helpers/queue-worker.js';
import { redisDump, startRedisServer, type RedisTestServer } from '../helpers/redis-server.js';
import { S3_ENV, putFile } from '../helpers/s3-package.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const JOB = ['--ladder', '144p', '--preset', 'superfast', '--segment-duration', '2', '--chunk-duration', '2', '--no-thumbnails', '--progress', 'plain'];
const RECORDED = /ended; recorded in the database/g;

/** Every row of every table of a PostgreSQL database (its current schema), as text. */
async function everyRowOf(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tables } = await client.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`);
    const parts: string[] = [];
    for (const { table_name: table } of tables as { table_name: string }[]) {
      const { rows } = await client.query(`SELECT t::text AS row FROM "${table}" t`);
      parts.push(...rows.map((r: { row: string }) => `${table} ${r.row}`));
    }
    return parts.join('\n');
  } finally {
    await client.end();
  }
}

describe('vidpipe worker --db postgres://…: a detached job recorded however it ends, once', { timeout: 600_000 }, () => {
  let redis: RedisTestServer;
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  const workers: WorkerProcess[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-worker-pg-'));
    [redis, s3] = await Promise.all([startRedisServer(), startS3Server({ buckets: ['media'] })]);
    client = createS3Client(s3.clientOptions());
    await putFile(client, 'media', 'in/clip.mp4', await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 2 }));
    env = { ...S3_ENV, VIDPIPE_S3_ENDPOINT: s3.endpoint, VIDPIPE_WORK_DIR: join(dir, 'work-cli') };
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    client?.destroy();
    await Promise.all([redis?.stop(), s3?.stop()]);
    await cleanup?.();
  });

  const startWorker = (queueUrl: string, name: string, extra: string[]) => {
    const worker = startWorkerProcess(queueUrl, { ...env, VIDPIPE_WORK_DIR: join(dir, `work-${name}`) }, extra);
    workers.push(worker);
    return worker;
  };

  /** Two workers that record in `db`, both waiting for tasks. */
  const recordingPair = async (queueUrl: string, name: string, db: string, extra: string[] = []) => {
    const pair = [startWorker(queueUrl, `${name}-1`, ['--db', db, ...extra]), startWorker(queueUrl, `${name}-2`, ['--db', db, ...extra])];
    await Promise.all(pair.map((w) => w.waitFor(/waiting for tasks/, 60_000)));
    return pair;
  };

  const submitDetached = async (queueUrl: string, out: string, db: string): Promise<string> => {
    const run = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', `s3://media/${out}`, '--queue', queueUrl, '--detach', '--db', db, ...JOB], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!(run.stdout + run.stderr).includes(decodeURIComponent(new URL(db).password)), 'the submitter printed the password');
    const jobId = run.stdout.trim();
    assert.match(jobId, /^j[0-9a-z]+$/);
    return jobId;
  };

  /** Waits (bounded) until the database no longer says the video is processing; then the one recording worker's log line and a moment for a second (wrong) one. */
  const waitUntilRecorded = async (db: string, jobId: string, recorders: WorkerProcess[]) => {
    const store: MetadataStore = await openMetadata(db);
    try {
      const deadline = Date.now() + 300_000;
      let status: string | undefined;
      do {
        await new Promise((r) => setTimeout(r, 1000));
        status = (await store.getJob(jobId)).job.status;
      } while (status === 'running' && Date.now() < deadline);
      assert.notEqual(status, 'running', `never recorded as ended:\n${recorders.map((w) => w.log()).join('\n---\n')}`);
    } finally {
      await store.close();
    }
    await Promise.any(recorders.map((w) => w.waitFor(new RegExp(`${jobId}: ended; recorded in the database`), 10_000)));
    await new Promise((r) => setTimeout(r, 2000));
    const lines = recorders.flatMap((w) => w.log().match(RECORDED) ?? []);
    assert.equal(lines.length, 1, `exactly one worker records the job:\n${recorders.map((w) => w.log()).join('\n---\n')}`);
  };

  const shown = async (db: string) => {
    const listed = await runCli(['list', '--db', db, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const [video] = JSON.parse(listed.stdout).videos;
    const show = await runCli(['show', video.id, '--db', db, '--json']);
    assert.equal(show.code, 0, show.stderr);
    return { video, details: JSON.parse(show.stdout) };
  };

  it('every task succeeded: the record has the outputs, renditions and each task\'s worker', async () => {
    const db = await (await sharedPostgres()).createDatabase();
    const queueUrl = `${redis.url}/1`;
    const recorders = await recordingPair(queueUrl, 'ok', db);
    const jobId = await submitDetached(queueUrl, 'ok', db);
    await waitUntilRecorded(db, jobId, recorders);
    const { video, details } = await shown(db);
    assert.equal(video.status, 'ready');
    assert.equal(details.readyJob.id, jobId);
    assert.equal(details.readyJob.status, 'succeeded');
    assert.equal(details.readyJob.outputs.hls, 's3://media/ok/clip/master.m3u8');
    assert.deepEqual(details.renditions.map((r: any) => r.name), ['h264-144p', 'aac-128k']);
    assert.ok(details.renditions.every((r: any) => r.averageBitrate > 0), JSON.stringify(details.renditions));
    assert.ok(details.tasks.every((t: any) => t.status === 'succeeded'), JSON.stringify(details.tasks.map((t: any) => [t.id, t.status])));
    const ids = new Set(recorders.map((w) => w.id));
    assert.ok(details.tasks.filter((t: any) => !['probe', 'plan', 'metadata'].includes(t.kind)).every((t: any) => ids.has(t.worker)), JSON.stringify(details.tasks.map((t: any) => [t.id, t.worker])));

    // The database's password (in its URL, given to the submitter and the workers) went nowhere: not through the queue, not into a record, not into a log.
    const password = decodeURIComponent(new URL(db).password);
    assert.ok(password.length >= 8);
    const queued = (await redisDump(queueUrl)).map((entry) => entry.value).join('\n');
    assert.match(queued, new RegExp(jobId), 'the queue holds the job');
    assert.ok(!queued.includes(password), 'the password is in Redis');
    const recorded = await everyRowOf(db);
    assert.match(recorded, new RegExp(jobId), 'the database holds the job');
    assert.ok(!recorded.includes(password), 'the password is in a record');
    for (const worker of recorders) assert.ok(!worker.log().includes(password), 'the password is in a worker\'s log');
    assert.ok(!JSON.stringify(details).includes(password));
  });

  it('a task failed on its last attempt: failed, with the task\'s error code and message', async () => {
    const db = await (await sharedPostgres()).createDatabase();
    const queueUrl = `${redis.url}/2`;
    const crashing = await brokenFfmpeg(join(dir, 'crashing-ffmpeg'), 'echo "simulated encoder crash" >&2\nexit 1');
    const recorders = await recordingPair(queueUrl, 'crash', db, ['--ffmpeg', crashing]);
    const jobId = await submitDetached(queueUrl, 'crash', db);
    await waitUntilRecorded(db, jobId, recorders);
    const { video, details } = await shown(db);
    assert.equal(video.status, 'failed');
    assert.equal(details.latestJob.id, jobId);
    assert.equal(details.latestJob.status, 'failed');
    assert.equal(details.latestJob.errorCode, 'FFMPEG_FAILED', details.latestJob.errorMessage);
    assert.match(details.latestJob.errorMessage, /^task encode-\S+ failed \(attempt 3 of 3\): .*ffmpeg exited with code 1/);
    assert.equal(details.readyJob, null);
    assert.equal(details.tasks.find((t: any) => t.kind === 'metadata')?.status, 'cancelled');
  });

  it('a task whose workers died on every attempt (BullMQ failed it after its stalls): failed, WORKER_LOST', async () => {
    const db = await (await sharedPostgres()).createDatabase();
    const queueUrl = `${redis.url}/3`;
    // A worker whose ffmpeg kills the worker itself (SIGKILL: no goodbye to Redis) on the audio encode, and runs every other ffmpeg.
    const killer = await brokenFfmpeg(join(dir, 'killing-ffmpeg'), 'case "$*" in *-b:a\\ *) kill -9 $PPID; exit 1;; esac\nexec ffmpeg "$@"');
    const jobId = await submitDetached(queueUrl, 'lost', db);
    const queue = new Queue(TASK_QUEUE, { connection: redisConnection(queueUrl, 'commands') });
    queue.on('error', () => undefined);
    try {
      // The worker allows two stalls (maxStalledCount 2): three workers die running the task, then the recording pair starts and finds it stalled out.
      for (let died = 0; ; ) {
        const doomed = startWorker(queueUrl, `killed-${died}`, ['--ffmpeg', killer]);
        const exit = await Promise.race([
          new Promise<number | null>((resolve) => doomed.child.once('exit', (_code, signal) => resolve(signal === 'SIGKILL' ? 1 : null))),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), 120_000)),
        ]);
        assert.equal(exit, 1, `the worker was to die on the audio encode:\n${doomed.log()}`);
        died += 1;
        const jobs = await queue.getJobs(['active', 'wait', 'prioritized', 'waiting-children', 'delayed', 'failed', 'completed']);
        const stalls = Math.max(0, ...jobs.map((job) => job.stalledCounter));
        if (stalls >= 2) break;
        assert.ok(died < 6, `the task never stalled out: ${stalls} stalls after ${died} dead workers`);
      }
    } finally {
      await queue.close();
    }
    const recorders = await recordingPair(queueUrl, 'lost', db);
    await waitUntilRecorded(db, jobId, recorders);
    const { video, details } = await shown(db);
    assert.equal(video.status, 'failed');
    assert.equal(details.latestJob.status, 'failed');
    assert.equal(details.latestJob.errorCode, 'WORKER_LOST', details.latestJob.errorMessage);
    assert.match(details.latestJob.errorMessage, /^task encode-audio\S* failed: the worker running it stopped answering 3 times/);
    assert.ok(details.tasks.some((t: any) => t.status === 'failed' && t.kind === 'encode-audio'), JSON.stringify(details.tasks.map((t: any) => [t.id, t.kind, t.status])));
    assert.equal(details.readyJob, null);
  });

  it('a job that ended with no worker recording it (workers without --db, or its recorder died): the next worker --db records it when it starts', async () => {
    const db = await (await sharedPostgres()).createDatabase();
    const queueUrl = `${redis.url}/4`;
    const plain = startWorker(queueUrl, 'plain', []);
    await plain.waitFor(/waiting for tasks/, 60_000);
    const jobId = await submitDetached(queueUrl, 'late', db);
    const deadline = Date.now() + 300_000;
    let status: string;
    do {
      await new Promise((r) => setTimeout(r, 1000));
      status = (await queuedJobStatus(queueUrl, jobId)).status;
    } while ((status === 'queued' || status === 'running') && Date.now() < deadline);
    assert.equal(status, 'succeeded', plain.log());
    await plain.stop();
    const store = await openMetadata(db);
    try {
      assert.equal((await store.getJob(jobId)).job.status, 'running', 'nobody recorded its end yet');
    } finally {
      await store.close();
    }
    const recorders = await recordingPair(queueUrl, 'late', db);
    await waitUntilRecorded(db, jobId, recorders);
    const { video, details } = await shown(db);
    assert.equal(video.status, 'ready');
    assert.equal(details.readyJob.id, jobId);
    assert.equal(details.readyJob.outputs.hls, 's3://media/late/clip/master.m3u8');
  });
});
