/**
 * One job model on the queue: a queued job runs the same graph as a local one (src/job/graph.ts),
 * so what a local run can do, `transcode --queue` can do, and gives the same package. A real
 * redis-server and s3rver on loopback, one `vidpipe worker`, the CLI as a user runs it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeClip, runCli, type CliRun } from '../helpers/media.js';
import { readMpd, readPlaylist, resolveUri } from '../helpers/package-files.js';
import { brokenFfmpeg, startWorkerProcess, type WorkerProcess } from '../helpers/queue-worker.js';
import { startQueueTestbed, type QueueTestbed } from '../helpers/queue-testbed.js';
import type { RedisTestServer } from '../helpers/redis-server.js';
import type { S3TestServer } from '../helpers/s3-server.js';
import { decodeFrames, downloadPrefix, keysUnder } from '../helpers/s3-package.js';
import { openMetadata } from '../../src/db/engines.js';

/** What a player sees of a package: its files, variants, codecs, resolutions and segment counts (not bit rates, which depend on encoder threads). */
interface PackageShape {
  files: string[];
  variants: unknown[];
  audio: unknown[];
  dash: unknown[];
}

const seconds = (segments: { duration: number }[]) => Math.round(segments.reduce((sum, s) => sum + s.duration, 0) * 100) / 100;

/** Counts the segments a DASH Representation lists in its SegmentTimeline (SegmentTemplate or SegmentList). */
function dashSegments(set: any, representation: any): number {
  const addressing = representation.SegmentTemplate ?? representation.SegmentList ?? set.SegmentTemplate ?? set.SegmentList;
  const entries = addressing?.SegmentTimeline?.S ?? [];
  return entries.reduce((count: number, entry: any) => count + 1 + Number(entry.r ?? 0), 0);
}

async function packageShape(client: S3Client, prefix: string, folder: string, jobId: string): Promise<PackageShape> {
  const keys = await downloadPrefix(client, 'media', prefix, folder);
  const masterPath = join(folder, 'master.m3u8');
  const master = await readPlaylist(masterPath);
  const variants = [];
  const audioUris = new Set<string>();
  for (const variant of master.variants) {
    const media = await readPlaylist(resolveUri(masterPath, variant.uri));
    for (const rendition of variant.audio) audioUris.add(rendition.uri);
    variants.push({
      iFrameOnly: variant.isIFrameOnly ?? false,
      codecs: variant.codecs,
      resolution: variant.resolution,
      frameRate: variant.frameRate,
      audio: variant.audio.map((a: any) => `${a.groupId}/${a.name}`),
      segments: media.segments.length,
      seconds: seconds(media.segments),
    });
  }
  const audio = [];
  for (const uri of [...audioUris].sort()) {
    const media = await readPlaylist(resolveUri(masterPath, uri));
    audio.push({ uri: uri.replaceAll(jobId, '<job>'), segments: media.segments.length, seconds: seconds(media.segments) });
  }
  const { mpd } = await readMpd(join(folder, 'manifest.mpd'));
  const dash = mpd.Period.flatMap((period: any) =>
    period.AdaptationSet.map((set: any) => ({
      contentType: set.contentType ?? set.mimeType,
      representations: set.Representation.map((r: any) => ({ id: r.id, codecs: r.codecs ?? set.codecs, width: r.width, height: r.height, segments: dashSegments(set, r) })),
    })),
  );
  return { files: keys.map((key) => key.replaceAll(jobId, '<job>')).sort(), variants, audio, dash };
}

/** The renditions of a --json result without what depends on the encoder's threads (bit rates, sizes). */
const renditionShape = (result: any) =>
  result.renditions.map((r: any) => ({ name: r.name, kind: r.kind, codec: r.codec, codecs: r.codecs, width: r.width, height: r.height, frameRate: r.frameRate, channels: r.channels, segments: r.segments, measured: r.quality?.frames }));

describe('one job on the queue and here (Redis + S3)', { timeout: 1_500_000 }, () => {
  let redis: RedisTestServer;
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  const common = ['--ladder', '180p,144p', '--preset', 'superfast', '--segment-duration', '2', '--chunk-duration', '2', '--progress', 'plain', '--json'];
  let queued: { run: CliRun; result: any } | undefined;

  let testbed: QueueTestbed | undefined;

  before(async () => {
    testbed = await startQueueTestbed('vidpipe-queue-job-', async (d) => {
      const [clip, ts] = await Promise.all([makeClip(join(d, 'clip.mp4'), { durationSeconds: 6 }), makeClip(join(d, 'broadcast.ts'), { durationSeconds: 4 })]);
      return { 'in/clip.mp4': clip, 'in/broadcast.ts': ts };
    });
    ({ redis, s3, client, dir, env, worker } = testbed);
  });

  after(async () => {
    await testbed?.stop();
  });

  it('transcode --queue --metrics measures every video rendition on a worker', async () => {
    const run = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/queued', '--queue', redis.url, '--metrics', ...common], { env });
    assert.equal(run.code, 0, `${run.stderr}\nworker:\n${worker.log()}`);
    const result = JSON.parse(run.stdout);
    queued = { run, result };
    assert.equal(result.status, 'succeeded');
    const videos = result.renditions.filter((r: any) => r.kind === 'video');
    assert.deepEqual(videos.map((r: any) => r.name), ['h264-180p', 'h264-144p']);
    for (const rendition of videos) {
      const quality = rendition.quality;
      assert.ok(quality, `${rendition.name} has metrics`);
      assert.equal(quality.frames, 180, `${rendition.name}: all 6 s × 30 fps compared`);
      assert.ok(quality.psnr > 20 && quality.psnr < 60, `${rendition.name} PSNR ${quality.psnr}`);
      assert.ok(quality.ssim > 0.5 && quality.ssim < 1, `${rendition.name} SSIM ${quality.ssim}`);
    }
    const db = await openMetadata(env.VIDPIPE_DB!);
    try {
      const { job, tasks } = await db.getJob(result.jobId);
      assert.equal(job.status, 'succeeded');
      const metrics = tasks.find((t) => t.kind === 'metrics');
      assert.equal(metrics?.status, 'succeeded');
      assert.equal(metrics?.worker, worker.id, 'the metrics node ran on the worker');
    } finally {
      await db.close();
    }
  });

  it('a local run of the same input and options gives a package of the same shape', async () => {
    assert.ok(queued, 'the queued run of the test before succeeded');
    const run = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/local', '--metrics', ...common], { env });
    assert.equal(run.code, 0, run.stderr);
    const local = JSON.parse(run.stdout);
    assert.equal(local.status, 'succeeded');
    assert.deepEqual(renditionShape(queued.result), renditionShape(local));
    assert.deepEqual(Object.keys(queued.result.outputs).sort(), Object.keys(local.outputs).sort());

    const [fromQueue, fromHere] = await Promise.all([
      packageShape(client, 'queued/clip/', join(dir, 'fetched-queued'), queued.result.jobId),
      packageShape(client, 'local/clip/', join(dir, 'fetched-local'), local.jobId),
    ]);
    assert.deepEqual(fromQueue, fromHere);
    // Not two empty shapes: two H.264 variants (plus their I-frame playlists), 3 segments of 2 s each, one AAC rendition.
    assert.deepEqual(fromHere.variants.filter((v: any) => !v.iFrameOnly).map((v: any) => [v.resolution.height, v.segments, v.seconds]), [[180, 3, 6], [144, 3, 6]]);
    assert.equal(fromHere.audio.length, 1);
    assert.ok(fromHere.files.includes('poster.jpg') || fromHere.files.some((f) => f.endsWith('poster.jpg')), fromHere.files.join(' '));
  });

  it('an MPEG-TS input runs on the queue: its Matroska copy on a worker, then the job', async () => {
    const run = await runCli(['transcode', 's3://media/in/broadcast.ts', '--out', 's3://media/from-ts', '--queue', redis.url, '--no-thumbnails', ...common], { env });
    assert.equal(run.code, 0, `${run.stderr}\nworker:\n${worker.log()}`);
    const result = JSON.parse(run.stdout);
    assert.equal(result.status, 'succeeded');
    assert.match(result.source?.remuxed ?? '', /MPEG-TS/);
    assert.deepEqual(result.renditions.map((r: any) => r.name), ['h264-180p', 'h264-144p', 'aac-128k']);
    // As a local run of the same input gives it, every frame included.
    const here = await runCli(['transcode', 's3://media/in/broadcast.ts', '--out', 's3://media/from-ts-here', '--no-thumbnails', ...common], { env });
    assert.equal(here.code, 0, here.stderr);
    const local = JSON.parse(here.stdout);
    assert.deepEqual(renditionShape(result), renditionShape(local));
    const [fromQueue, fromHere] = await Promise.all([
      packageShape(client, 'from-ts/broadcast/', join(dir, 'fetched-ts'), result.jobId),
      packageShape(client, 'from-ts-here/broadcast/', join(dir, 'fetched-ts-here'), local.jobId),
    ]);
    assert.deepEqual(fromQueue, fromHere);
    const frames = await decodeFrames(join(dir, 'fetched-ts', 'master.m3u8'));
    assert.equal(frames, await decodeFrames(join(dir, 'fetched-ts-here', 'master.m3u8')));
    assert.ok(frames >= 120, `${frames} frames: 4 s × 30 fps`);
    const db = await openMetadata(env.VIDPIPE_DB!);
    try {
      const { tasks } = await db.getJob(result.jobId);
      const copy = tasks.find((t) => t.kind === 'prepare-source');
      assert.equal(copy?.status, 'succeeded');
      assert.equal(copy?.worker, worker.id, 'the Matroska copy was made on the worker');
      for (const t of tasks.filter((t) => !['probe', 'plan', 'metadata'].includes(t.kind))) assert.equal(t.worker, worker.id, `${t.id} ran on the worker`);
    } finally {
      await db.close();
    }
    assert.deepEqual(await keysUnder(client, 'media', 'from-ts/.vidpipe-work/'), [], 'the copy and the other intermediate files are removed');
  });

  it('vidpipe status <job> --db records a detached job once it has ended, so list and show see it', async () => {
    const db = join(dir, 'detached.db');
    const run = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/detached', '--queue', redis.url, '--detach', '--no-thumbnails', ...common.filter((a) => a !== '--json')], {
      env: { ...env, VIDPIPE_DB: db },
    });
    assert.equal(run.code, 0, run.stderr);
    const jobId = run.stdout.trim();
    assert.match(jobId, /^j[0-9a-z]+$/);
    const listed = async () => JSON.parse((await runCli(['list', '--db', db, '--json'])).stdout).videos;
    const [waiting] = await listed();
    assert.equal(waiting.status, 'processing', 'the submitter recorded the job as running');

    let status: any;
    const deadline = Date.now() + 600_000;
    do {
      await new Promise((r) => setTimeout(r, 1000));
      const poll = await runCli(['status', jobId, '--redis', redis.url, '--db', db, '--json'], { env });
      assert.ok(poll.code === 0, poll.stderr);
      status = JSON.parse(poll.stdout);
    } while (status.status !== 'succeeded' && Date.now() < deadline);
    assert.equal(status.status, 'succeeded', JSON.stringify(status));

    const [video] = await listed();
    assert.equal(video.status, 'ready');
    const show = await runCli(['show', video.id, '--db', db, '--json']);
    assert.equal(show.code, 0, show.stderr);
    const details = JSON.parse(show.stdout);
    assert.equal(details.readyJob.id, jobId);
    assert.equal(details.readyJob.status, 'succeeded');
    assert.equal(details.readyJob.outputs.hls, 's3://media/detached/clip/master.m3u8');
    assert.deepEqual(details.renditions.map((r: any) => r.name), ['h264-180p', 'h264-144p', 'aac-128k']);
    assert.ok(details.tasks.length > 0 && details.tasks.every((t: any) => t.status === 'succeeded'), JSON.stringify(details.tasks.map((t: any) => [t.id, t.status])));
    assert.ok(details.tasks.filter((t: any) => !['probe', 'plan', 'metadata'].includes(t.kind)).every((t: any) => t.worker === worker.id));

    // Asking again changes nothing: the job is on record once.
    const again = await runCli(['status', jobId, '--redis', redis.url, '--db', db, '--json'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse((await runCli(['show', video.id, '--db', db, '--json'])).stdout).readyJob, details.readyJob);
  });

  /**
   * Submits a detached job with `--db db` to a worker of its own (Redis database `redisDb`, the
   * same `--db`) and waits, without `vidpipe status`, until the database says the video ended.
   */
  const detachedOnRecordingWorker = async (name: string, redisDb: number, db: string, extra: string[] = []) => {
    const queueUrl = `${redis.url}/${redisDb}`;
    const recorder = startWorkerProcess(queueUrl, { ...env, VIDPIPE_WORK_DIR: join(dir, `work-${name}`) }, ['--db', db, ...extra]);
    try {
      await recorder.waitFor(/waiting for tasks/, 60_000);
      const run = await runCli(['transcode', 's3://media/in/clip.mp4', '--out', `s3://media/${name}`, '--queue', queueUrl, '--detach', '--no-thumbnails', '--db', db, ...common.filter((a) => a !== '--json')], { env });
      assert.equal(run.code, 0, run.stderr);
      const jobId = run.stdout.trim();
      let video: any;
      const deadline = Date.now() + 300_000;
      do {
        await new Promise((r) => setTimeout(r, 1000));
        [video] = JSON.parse((await runCli(['list', '--db', db, '--json'])).stdout).videos;
      } while (video?.status === 'processing' && Date.now() < deadline);
      assert.notEqual(video?.status, 'processing', `never recorded as ended:\n${recorder.log()}`);
      await recorder.waitFor(new RegExp(`${jobId}: ended; recorded in the database`), 10_000);
      const show = await runCli(['show', video.id, '--db', db, '--json']);
      assert.equal(show.code, 0, show.stderr);
      return { jobId, video, details: JSON.parse(show.stdout), recorder };
    } finally {
      await recorder.stop();
    }
  };

  it('vidpipe worker --db records a detached job it finished: no vidpipe status needed', async () => {
    const db = join(dir, 'worker-recorded.db');
    const { jobId, video, details, recorder } = await detachedOnRecordingWorker('worker-recorded', 3, db);
    assert.equal(video.status, 'ready', recorder.log());
    assert.equal(details.readyJob.id, jobId);
    assert.equal(details.readyJob.status, 'succeeded');
    assert.equal(details.readyJob.outputs.hls, 's3://media/worker-recorded/clip/master.m3u8');
    assert.equal(details.readyJob.outputs.dash, 's3://media/worker-recorded/clip/manifest.mpd');
    assert.deepEqual(details.renditions.map((r: any) => r.name), ['h264-180p', 'h264-144p', 'aac-128k']);
    assert.ok(details.renditions.every((r: any) => r.averageBitrate > 0 && r.segmentCount >= 3), JSON.stringify(details.renditions));
    assert.ok(details.tasks.length > 0 && details.tasks.every((t: any) => t.status === 'succeeded'), JSON.stringify(details.tasks.map((t: any) => [t.id, t.status])));
    assert.ok(details.tasks.filter((t: any) => !['probe', 'plan', 'metadata'].includes(t.kind)).every((t: any) => t.worker === recorder.id));
    assert.equal(recorder.log().match(/recorded in the database/g)?.length, 1, 'recorded once');
    // `status --db` afterwards finds it on record and changes nothing.
    const again = await runCli(['status', jobId, '--redis', `${redis.url}/3`, '--db', db, '--json'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse((await runCli(['show', video.id, '--db', db, '--json'])).stdout).readyJob, details.readyJob);
  });

  it('vidpipe worker --db records a detached job that failed on it, with its task\'s error code', async () => {
    const broken = await brokenFfmpeg(join(dir, 'crashing-ffmpeg'), 'echo "simulated encoder crash" >&2\nexit 1');
    const { jobId, video, details, recorder } = await detachedOnRecordingWorker('worker-failed', 4, join(dir, 'worker-failed.db'), ['--ffmpeg', broken]);
    assert.equal(video.status, 'failed', recorder.log());
    assert.equal(details.latestJob.id, jobId);
    assert.equal(details.latestJob.status, 'failed');
    assert.equal(details.latestJob.errorCode, 'FFMPEG_FAILED', details.latestJob.errorMessage);
    assert.match(details.latestJob.errorMessage, /^task encode-\S+ failed \(attempt 3 of 3\): .*ffmpeg exited with code 1/);
    assert.equal(details.readyJob, null);
    assert.ok(details.tasks.some((t: any) => t.status === 'failed' && t.kind.startsWith('encode-')), JSON.stringify(details.tasks.map((t: any) => [t.id, t.status])));
    assert.equal(details.tasks.find((t: any) => t.kind === 'metadata')?.status, 'cancelled');
  });

  it('vidpipe status <job> --db records a detached job that failed, with its task\'s error code', async () => {
    // A worker whose ffmpeg hangs without a word, on a queue of its own (Redis database 2): every attempt stalls.
    const hanging = await brokenFfmpeg(join(dir, 'hanging-ffmpeg'), 'exec sleep 600');
    const queueUrl = `${redis.url}/2`;
    const stuck = startWorkerProcess(queueUrl, { ...env, VIDPIPE_WORK_DIR: join(dir, 'work-stuck') }, ['--ffmpeg', hanging]);
    try {
      await stuck.waitFor(/waiting for tasks/, 60_000);
      const db = join(dir, 'failed.db');
      const args = ['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/stalled', '--queue', queueUrl, '--detach', '--no-thumbnails', '--stall-timeout', '2'];
      const run = await runCli([...args, ...common.filter((a) => a !== '--json')], { env: { ...env, VIDPIPE_DB: db } });
      assert.equal(run.code, 0, run.stderr);
      const jobId = run.stdout.trim();
      let status: any;
      const deadline = Date.now() + 300_000;
      do {
        await new Promise((r) => setTimeout(r, 1000));
        const poll = await runCli(['status', jobId, '--redis', queueUrl, '--db', db, '--json'], { env });
        status = JSON.parse(poll.stdout);
        assert.equal(poll.code, status.status === 'failed' ? 1 : 0, poll.stderr);
      } while (status.status !== 'failed' && Date.now() < deadline);
      assert.equal(status.status, 'failed', `${JSON.stringify(status)}\nworker:\n${stuck.log()}`);

      const [video] = JSON.parse((await runCli(['list', '--db', db, '--json'])).stdout).videos;
      assert.equal(video.status, 'failed');
      const details = JSON.parse((await runCli(['show', video.id, '--db', db, '--json'])).stdout);
      assert.equal(details.latestJob.id, jobId);
      assert.equal(details.latestJob.status, 'failed');
      assert.equal(details.latestJob.errorCode, 'FFMPEG_STALLED', details.latestJob.errorMessage);
      assert.match(details.latestJob.errorMessage, /^task encode-\S+ failed \(attempt 3 of 3\): /);
      assert.equal(details.readyJob, null);
      assert.ok(details.tasks.some((t: any) => t.status === 'failed' && t.kind.startsWith('encode-')), JSON.stringify(details.tasks.map((t: any) => [t.id, t.status])));
      assert.equal(details.tasks.find((t: any) => t.kind === 'metadata')?.status, 'cancelled');
    } finally {
      await stuck.stop();
    }
  });
});
