/**
 * Queue throughput (issue 8): jobs per hour through `vidpipe worker` with one and with two worker
 * processes, measured in the same run on the same clip, against a real redis-server and s3rver
 * on loopback. For each worker count: N jobs are queued with `transcode --queue --detach` while
 * no worker runs, then the workers are started and the clock runs until Redis says every job
 * succeeded. Each worker runs one task at a time (--concurrency 1), so the comparison is of
 * processes, as on two machines; on a machine with fewer cores than workers they compete.
 * `npm run bench` calls benchQueue() after its own table; `node dist/bench/queue-bench.js <source>`
 * runs this part alone.
 *
 * Environment: BENCH_QUEUE_JOBS (4), BENCH_QUEUE_SECONDS (8, the clip cut from the source).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createS3Client } from '../src/storage/s3.js';
import { queuedJobStatus } from '../src/queue/status.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { startS3Server, S3RVER_CREDENTIALS } from '../test/helpers/s3-server.js';
import { putFile } from '../test/helpers/s3-package.js';

const exec = promisify(execFile);

export interface QueueBenchOptions {
  source: string;
  work: string;
  vidpipe: string;
  preset: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Returns the lines of the report section; never throws for a failed run, it says so. */
export async function benchQueue(options: QueueBenchOptions): Promise<string[]> {
  const jobs = Number(process.env.BENCH_QUEUE_JOBS ?? 4);
  const seconds = Number(process.env.BENCH_QUEUE_SECONDS ?? 8);
  const root = join(options.work, 'queue');
  await mkdir(root, { recursive: true });
  const clip = join(root, 'clip.mp4');
  await exec('ffmpeg', ['-v', 'error', '-y', '-i', options.source, '-t', String(seconds), '-vf', 'scale=-2:360', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', clip]);

  const [redis, s3] = await Promise.all([startRedisServer(), startS3Server({ buckets: ['bench'] })]);
  const client = createS3Client(s3.clientOptions());
  const env = {
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    VIDPIPE_S3_ENDPOINT: s3.endpoint,
    VIDPIPE_DB: join(root, 'bench.db'),
    VIDPIPE_WORK_DIR: join(root, 'work'),
  };
  const lines = [`queue: ${jobs} jobs of ${seconds} s at 360p (ladder 360p,180p, preset ${options.preset}), one task at a time per worker, ${availableParallelism()} cores`];
  const rates: number[] = [];
  const workers: ChildProcess[] = [];
  try {
    await putFile(client, 'bench', 'in/clip.mp4', clip);
    for (const count of [1, 2]) {
      const ids: string[] = [];
      for (let i = 0; i < jobs; i++) {
        const submit = await run(process.execPath, [
          options.vidpipe, 'transcode', 's3://bench/in/clip.mp4', '--out', `s3://bench/w${count}`, '--name', `job${i}`,
          '--queue', redis.url, '--detach', '--ladder', '360p,180p', '--preset', options.preset, '--segment-duration', '2', '--quiet',
        ], env);
        if (submit.code !== 0) throw new Error(`submitting job ${i} failed: ${submit.stderr.trim()}`);
        ids.push(submit.stdout.trim());
      }
      const started = Date.now();
      for (let w = 0; w < count; w++) {
        workers.push(spawn(process.execPath, [options.vidpipe, 'worker', '--redis', redis.url, '--concurrency', '1', '--quiet'], {
          env: { ...process.env, ...env, VIDPIPE_WORK_DIR: join(root, `worker-${count}-${w}`) },
          stdio: 'ignore',
        }));
      }
      for (;;) {
        const states = await Promise.all(ids.map((id) => queuedJobStatus(redis.url, id)));
        const failed = states.find((s) => s.status === 'failed');
        if (failed) throw new Error(`job ${failed.jobId} failed: ${failed.error}`);
        if (states.every((s) => s.status === 'succeeded')) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const elapsed = (Date.now() - started) / 1000;
      const perHour = (jobs / elapsed) * 3600;
      rates.push(perHour);
      lines.push(`  ${count} worker${count > 1 ? 's' : ' '}: ${perHour.toFixed(0).padStart(6)} jobs/hour (${jobs} jobs in ${elapsed.toFixed(1)} s)`);
      for (const w of workers.splice(0)) w.kill('SIGTERM');
    }
    lines.push(`  2 workers / 1 worker: ${(rates[1]! / rates[0]!).toFixed(2)}×`);
  } catch (error) {
    lines.push(`  failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    client.destroy();
    await Promise.all([redis.stop(), s3.stop()]);
    if (!process.env.BENCH_KEEP) await rm(root, { recursive: true, force: true });
  }
  return lines;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const source = process.argv[2];
  if (!source) {
    process.stderr.write('usage: node dist/bench/queue-bench.js <source.mp4>\n');
    process.exit(2);
  }
  const rootDir = resolve(fileURLToPath(new URL('../../', import.meta.url)));
  const lines = await benchQueue({ source, work: join(rootDir, 'bench-work'), vidpipe: join(rootDir, 'bin', 'vidpipe'), preset: process.env.BENCH_PRESET ?? 'veryfast' });
  process.stdout.write(`${lines.join('\n')}\n`);
}
