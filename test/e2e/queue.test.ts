/**
 * `vidpipe worker` + `transcode --queue`: a real redis-server and s3rver on loopback, two worker
 * processes, and the CLI as a user runs it. One worker is SIGKILLed in the middle of a chunk
 * encode; the job must still publish a complete package that passes the strict checks.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import HLS from 'hls-parser';
import { decodedFrameCount, makeClip, runCli, tempDir } from '../helpers/media.js';
import { brokenFfmpeg, startWorkerProcess, type WorkerProcess } from '../helpers/queue-worker.js';
import { startRedisServer, type RedisTestServer } from '../helpers/redis-server.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { S3_ENV, decodeFrames, downloadPrefix, keysUnder, putFile } from '../helpers/s3-package.js';
import { createS3Client } from '../../src/storage/s3.js';
import { openMetadata } from '../../src/db/engines.js';

describe('vidpipe worker and transcode --queue (Redis + S3)', { timeout: 900_000 }, () => {
  let redis: RedisTestServer;
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  const workers: WorkerProcess[] = [];
  const common = ['--ladder', '180p,144p', '--preset', 'superfast', '--segment-duration', '2', '--chunk-duration', '2', '--progress', 'plain'];

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-queue-'));
    [redis, s3] = await Promise.all([startRedisServer(), startS3Server({ buckets: ['media'] })]);
    client = createS3Client(s3.clientOptions());
    const clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 6 });
    await putFile(client, 'media', 'in/clip.mp4', clip);
    env = { ...S3_ENV, VIDPIPE_S3_ENDPOINT: s3.endpoint, VIDPIPE_DB: join(dir, 'meta.db'), VIDPIPE_WORK_DIR: join(dir, 'work-cli') };
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    client?.destroy();
    await Promise.all([redis?.stop(), s3?.stop()]);
    await cleanup?.();
  });

  it('refuses a local input or a local --out with exit 2 and says why', async () => {
    const run = await runCli(['transcode', join(dir, 'clip.mp4'), '--out', join(dir, 'out'), '--queue', redis.url], { env });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--queue needs the inputs and --out on S3.*clip\.mp4.*--out/s);
    const out = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', join(dir, 'out'), '--queue', redis.url], { env });
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /local: --out /);
  });

  it('runs the graph on two workers, survives one killed mid-task and publishes a complete package', async () => {
    const a = startWorkerProcess(redis.url, { ...env, VIDPIPE_WORK_DIR: join(dir, 'work-a') });
    const b = startWorkerProcess(redis.url, { ...env, VIDPIPE_WORK_DIR: join(dir, 'work-b') });
    workers.push(a, b);
    await Promise.all([a.waitFor(/waiting for tasks/, 60_000), b.waitFor(/waiting for tasks/, 60_000)]);

    const cli = runCli(['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/vod', '--queue', redis.url, '--json', ...common], { env });
    // Whichever worker starts a chunk encode first is killed with it: its lock expires and the other takes it over.
    const first = await Promise.race([
      ...[a, b].map((w) => w.waitFor(/ (encode-video-\d+): started/, 600_000).then((m) => ({ w, task: m[1]! }))),
      cli.then((r) => r),
    ]);
    assert.ok('task' in first, `the CLI ended before any chunk encode started:\n${'stderr' in first ? first.stderr : ''}`);
    const started = first;
    started.w.child.kill('SIGKILL');
    const survivor = started.w === a ? b : a;
    const run = await cli;
    assert.equal(run.code, 0, `${run.stderr}\nworker A:\n${a.log()}\nworker B:\n${b.log()}`);
    const result = JSON.parse(run.stdout);
    assert.equal(result.status, 'succeeded');
    assert.deepEqual(result.renditions.map((r: any) => r.name), ['h264-180p', 'h264-144p', 'aac-128k']);
    assert.match(survivor.log(), new RegExp(`${started.task}: started \\(attempt 2\\)`), 'the survivor re-ran the killed task');
    assert.doesNotMatch(started.w.log(), new RegExp(`${started.task}: done`), 'the killed worker did not finish it');

    // The task rows of the submitting machine carry who ran what, how often, and when.
    const db = await openMetadata(env.VIDPIPE_DB!);
    try {
      const { job, tasks } = await db.getJob(result.jobId);
      assert.equal(job.status, 'succeeded');
      assert.ok(tasks.every((t) => t.status === 'succeeded'), JSON.stringify(tasks.map((t) => [t.id, t.status])));
      const killed = tasks.find((t) => t.id === started.task)!;
      assert.equal(killed.worker, survivor.id);
      assert.equal(killed.attempts, 2);
      // probe, plan and metadata run on the submitting machine; everything else on a worker.
      for (const t of tasks.filter((t) => !['probe', 'plan', 'metadata'].includes(t.kind))) {
        assert.ok([a.id, b.id].includes(t.worker ?? ''), `${t.id} ran on a worker (${t.worker})`);
        assert.ok(t.startedAt && t.finishedAt && t.finishedAt >= t.startedAt, `${t.id} timings`);
      }
    } finally {
      await db.close();
    }

    // Fetched back as a player would: strict playlists, every frame in every rendition, a clean decode.
    const local = join(dir, 'fetched');
    const keys = await downloadPrefix(client, 'media', 'vod/clip/', local);
    assert.ok(keys.includes('master.m3u8') && keys.includes('manifest.mpd'), keys.join(' '));
    assert.deepEqual(await keysUnder(client, 'media', 'vod/.vidpipe-work/'), [], 'intermediate files are removed');
    HLS.setOptions({ strictMode: true });
    const master = HLS.parse(await readFile(join(local, 'master.m3u8'), 'utf8')) as any;
    const variants = master.variants.filter((v: any) => !v.isIFrameOnly);
    assert.equal(variants.length, 2);
    for (const variant of variants) {
      assert.match(variant.codecs, /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
      const playlistPath = join(local, ...variant.uri.split('/'));
      const media = HLS.parse(await readFile(playlistPath, 'utf8')) as any;
      assert.equal(media.endlist, true);
      const folder = join(playlistPath, '..');
      const joined = join(dir, `${variant.resolution.height}.mp4`);
      const parts = [media.segments[0].map.uri, ...media.segments.map((s: any) => s.uri)];
      await writeFile(joined, Buffer.concat(await Promise.all(parts.map((p: string) => readFile(join(folder, ...p.split('/')))))));
      assert.equal(await decodedFrameCount(joined), 180, `${variant.uri}: 6 s × 30 fps`);
      const total = media.segments.reduce((sum: number, s: any) => sum + s.duration, 0);
      assert.ok(Math.abs(total - 6) < 0.05, `${variant.uri} lasts ${total} s`);
    }
    assert.equal(await decodeFrames(join(local, 'master.m3u8')), 180);
    for (const rendition of result.renditions) assert.ok(rendition.averageBitrate > 0 && rendition.peakBitrate >= rendition.averageBitrate);
  });

  it('--detach prints the job id at once; vidpipe status follows it to the end', async () => {
    if (workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).length === 0) {
      workers.push(startWorkerProcess(redis.url, { ...env, VIDPIPE_WORK_DIR: join(dir, 'work-c') }));
    }
    const run = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/detached', '--queue', redis.url, '--detach', '--no-thumbnails', ...common], { env });
    assert.equal(run.code, 0, run.stderr);
    const jobId = run.stdout.trim();
    assert.match(jobId, /^j[0-9a-z]+$/);
    let status: any;
    const deadline = Date.now() + 300_000;
    do {
      await new Promise((r) => setTimeout(r, 1000));
      const poll = await runCli(['status', jobId, '--redis', redis.url, '--json'], { env });
      assert.ok(poll.code === 0, poll.stderr);
      status = JSON.parse(poll.stdout);
    } while (status.status !== 'succeeded' && Date.now() < deadline);
    assert.equal(status.status, 'succeeded', JSON.stringify(status));
    assert.equal(status.outputs.hls, 's3://media/detached/clip/master.m3u8');
    assert.ok(status.tasks.every((t: any) => t.state === 'succeeded' && t.worker && t.attempts >= 1));
    const text = await runCli(['status', jobId, '--redis', redis.url], { env });
    assert.match(text.stdout, new RegExp(`${jobId}: succeeded \\(\\d+/\\d+ tasks\\)`));
    assert.equal(await decodeFrames(await fetchMaster(client, dir, 'detached/clip/')), 180);
    const unknown = await runCli(['status', 'jnosuchjob', '--redis', redis.url], { env });
    assert.equal(unknown.code, 2);
  });

  it('a task that keeps failing fails the job with its reason after bounded retries', async () => {
    // A worker whose ffmpeg cannot encode, on a queue of its own (Redis database 1).
    const broken = await brokenFfmpeg(join(dir, 'broken-ffmpeg'), 'echo "simulated encoder crash" >&2\nexit 1');
    const queueUrl = `${redis.url}/1`;
    const failing = startWorkerProcess(queueUrl, { ...env, VIDPIPE_WORK_DIR: join(dir, 'work-f') }, ['--ffmpeg', broken]);
    workers.push(failing);
    await failing.waitFor(/waiting for tasks/, 60_000);
    const run = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/failing', '--queue', queueUrl, '--no-thumbnails', ...common], { env });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /task (encode-\S+) failed \(attempt 3 of 3\): .*/);
    assert.match(run.stderr, /simulated encoder crash/);
    assert.deepEqual(await keysUnder(client, 'media', 'failing/'), [], 'nothing published, intermediate files removed');
  });
});

async function fetchMaster(client: S3Client, dir: string, prefix: string): Promise<string> {
  const local = join(dir, prefix.replace(/\W+/g, '-'));
  await downloadPrefix(client, 'media', prefix, local);
  return join(local, 'master.m3u8');
}
