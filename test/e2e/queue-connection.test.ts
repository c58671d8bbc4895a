/**
 * The queue's Redis connection as users meet it: a wrong port, a server that accepts and never
 * answers, a Redis restart under a running worker, and a worker stopped in the middle of a task.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { Job, Queue } from 'bullmq';
import { makeClip, runCli, tempDir, VIDPIPE_BIN, type CliRun } from '../helpers/media.js';
import { startBlackHole, type BlackHole } from '../helpers/black-hole.js';
import { freePort, startRedisServer, type RedisTestServer } from '../helpers/redis-server.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { S3_ENV, putFile } from '../helpers/s3-package.js';
import { createS3Client } from '../../src/storage/s3.js';
import { TASK_QUEUE } from '../../src/queue/protocol.js';

/** Runs the CLI and measures how long it took. */
async function timed(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun & { ms: number }> {
  const started = Date.now();
  const run = await runCli(args, { env });
  return { ...run, ms: Date.now() - started };
}

interface WorkerProcess {
  child: ChildProcess;
  log: () => string;
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>;
  exit: Promise<{ code: number | null; at: number }>;
}

function startWorker(redisUrl: string, env: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, [VIDPIPE_BIN, 'worker', '--redis', redisUrl, '--concurrency', '1', '--lock-duration', '5'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  child.stderr!.on('data', (d) => (text += d));
  return {
    child,
    log: () => text,
    waitFor: async (pattern, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = text.match(pattern);
        if (match) return match;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`worker never logged ${pattern}:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exit: new Promise((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() }))),
  };
}

describe('queue: Redis connection failures and stops', { timeout: 600_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let hole: BlackHole;
  let s3: S3TestServer;
  let client: S3Client;
  let env: NodeJS.ProcessEnv;
  const workers: WorkerProcess[] = [];
  const redisServers: RedisTestServer[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-qconn-'));
    [hole, s3] = await Promise.all([startBlackHole(), startS3Server({ buckets: ['media'] })]);
    client = createS3Client(s3.clientOptions());
    await putFile(client, 'media', 'in/clip.mp4', await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 4 }));
    env = { ...S3_ENV, VIDPIPE_S3_ENDPOINT: s3.endpoint, VIDPIPE_DB: join(dir, 'meta.db'), VIDPIPE_WORK_DIR: join(dir, 'work') };
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    client?.destroy();
    await Promise.all([hole?.stop(), s3?.stop(), ...redisServers.map((r) => r.stop())]);
    await cleanup?.();
  });

  it('status, worker and transcode --queue fail within about 5 s, exit 1, when nothing listens on the port', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    // One at a time: each measures its own wait, not the others' start-up on a shared machine.
    const runs: (CliRun & { ms: number })[] = [];
    for (const args of [
      ['status', 'j1', '--redis', closed],
      ['status', 'j1', '--redis', 'redis://127.0.0.1:1'],
      ['worker', '--redis', closed],
      ['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/vod', '--queue', closed, '--progress', 'plain'],
    ]) {
      runs.push(await timed(args, env));
    }
    const [status, portOne, worker, queued] = runs;
    console.log(`closed port: ${runs.map((r) => `${r.ms} ms`).join(', ')}`);
    for (const [name, run] of Object.entries({ status, portOne, worker, queued })) {
      assert.equal(run.code, 1, `${name}: ${run.stderr}`);
      assert.match(run.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(gave up after 5 s\): .*ECONNREFUSED/, name);
      // 5 s of trying, plus starting Node (and finding ffmpeg) on a busy machine; never downloading the input first.
      assert.ok(run.ms < 11_000, `${name} took ${run.ms} ms`);
    }
  });

  it('… and when the server accepts connections and never answers', async () => {
    const silent = `redis://127.0.0.1:${hole.port}`;
    const status = await timed(['status', 'j1', '--redis', silent, '--json'], env);
    const worker = await timed(['worker', '--redis', silent], env);
    const queued = await timed(['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/vod', '--queue', silent, '--detach'], env);
    console.log(`silent server: status ${status.ms} ms, worker ${worker.ms} ms, transcode --queue ${queued.ms} ms`);
    for (const [name, run] of Object.entries({ status, worker, queued })) {
      assert.equal(run.code, 1, `${name}: ${run.stderr}`);
      assert.match(run.stderr, /cannot reach Redis at .*no reply within 5 s/, name);
    }
    for (const [name, run] of Object.entries({ status, worker, queued })) assert.ok(run.ms < 11_000, `${name} took ${run.ms} ms`);
    assert.equal(JSON.parse(status.stdout).status, 'failed', '--json still prints one result');
    assert.ok(hole.accepted() >= 3, 'they did connect');
  });

  it('never shows the password of a Redis URL', async () => {
    const run = await timed(['status', 'j1', '--redis', `redis://:hunter2@127.0.0.1:${await freePort()}`], env);
    assert.equal(run.code, 1);
    assert.doesNotMatch(run.stderr + run.stdout, /hunter2/);
  });

  it('a running worker rides out a Redis restart and then runs the next job', async () => {
    const redis = await startRedisServer();
    redisServers.push(redis);
    const worker = startWorker(redis.url, { ...env, VIDPIPE_WORK_DIR: join(dir, 'work-restart') });
    workers.push(worker);
    await worker.waitFor(/waiting for tasks/, 60_000);
    await redis.stop();
    await new Promise((r) => setTimeout(r, 2000));
    redisServers.push(await startRedisServer(redis.port));
    const run = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/restart', '--queue', redis.url, '--ladder', '144p', '--preset', 'ultrafast', '--no-thumbnails', '--json', '--quiet'], { env });
    assert.equal(run.code, 0, `${run.stderr}\nworker:\n${worker.log()}`);
    assert.equal(JSON.parse(run.stdout).status, 'succeeded');
    assert.equal(worker.child.exitCode, null, 'the worker is still running');
  });

  it('SIGINT while transcode --queue follows its job: exit 130 within seconds, its unstarted tasks removed', async () => {
    const redis = await startRedisServer();
    redisServers.push(redis);
    const queue = new Queue(TASK_QUEUE, { connection: { url: redis.url } });
    try {
      let child: ChildProcess | undefined;
      let sentAt = 0;
      const poll = setInterval(async () => {
        if (!child || sentAt) return;
        // No worker runs: the job waits in the queue until the signal.
        if ((await queue.getWaitingCount()) + (await queue.getWaitingChildrenCount()) === 0) return;
        sentAt = Date.now();
        child.kill('SIGINT');
      }, 100);
      const run = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/followed', '--queue', redis.url, '--ladder', '144p', '--no-thumbnails', '--progress', 'plain'], {
        env,
        onStderr: (_text, spawned) => (child ??= spawned),
      });
      clearInterval(poll);
      const stopMs = Date.now() - sentAt;
      console.log(`--queue following stop: ${stopMs} ms`);
      assert.ok(sentAt > 0, run.stderr);
      assert.equal(run.code, 130, run.stderr);
      assert.ok(stopMs < 5000, `stopped ${stopMs} ms after SIGINT`);
      const counts = await queue.getJobCounts('waiting', 'waiting-children', 'prioritized', 'delayed', 'active');
      assert.deepEqual(Object.values(counts).filter((n) => n > 0), [], `left in the queue: ${JSON.stringify(counts)}`);
    } finally {
      await queue.close();
    }
  });

  it('SIGTERM stops a busy worker within seconds and hands its task back without spending an attempt', async () => {
    const redis = await startRedisServer();
    redisServers.push(redis);
    // One long chunk, no audio, no thumbnails: the first task is a slow encode.
    await putFile(client, 'media', 'in/slow.mp4', await makeClip(join(dir, 'slow.mp4'), { durationSeconds: 20, width: 640, height: 360, audio: false }));
    const submitted = await runCli(['transcode', 's3://media/in/slow.mp4', '--out', 's3://media/slow', '--queue', redis.url, '--detach', '--ladder', '360p', '--preset', 'veryslow', '--chunk-duration', '30', '--no-thumbnails', '--quiet'], { env });
    assert.equal(submitted.code, 0, submitted.stderr);
    const jobId = submitted.stdout.trim();
    const worker = startWorker(redis.url, { ...env, VIDPIPE_WORK_DIR: join(dir, 'work-stop') });
    workers.push(worker);
    const [, taskId] = await worker.waitFor(new RegExp(`${jobId} (\\S+): started \\(attempt 1\\)`), 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    const sentAt = Date.now();
    worker.child.kill('SIGTERM');
    const { code, at } = await worker.exit;
    const stopMs = at - sentAt;
    console.log(`worker stop: ${stopMs} ms`);
    assert.equal(code, 130, worker.log());
    assert.ok(stopMs < 8000, `stopped ${stopMs} ms after SIGTERM`);
    assert.match(worker.log(), /handed 1 running task back to the queue/);
    const queue = new Queue(TASK_QUEUE, { connection: { url: redis.url } });
    try {
      const job = await Job.fromId(queue, `${jobId}-${taskId}`);
      assert.ok(job, 'the task is still queued');
      assert.equal(job.attemptsMade, 0, 'no attempt spent');
      assert.ok(['waiting', 'prioritized'].includes(await job.getState()), 'waiting for a worker');
    } finally {
      await queue.close();
    }
  });
});
