/**
 * Queue throughput on simulated machines (issue 8, issue 16): jobs per hour through `vidpipe
 * worker` with one worker pinned to one core, and with two workers pinned to one core each (two
 * one-core machines), against a real redis-server and s3rver on loopback. For each setup N jobs
 * are queued with `transcode --queue --detach` while no worker runs; then the workers start and
 * the clock runs until Redis says every job succeeded. Each worker runs one task at a time
 * (--concurrency 1). Redis, s3rver and the submitting CLI are not pinned.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createS3Client } from '../src/storage/s3.js';
import { processCpuSeconds } from './measure.js';
import { queuedJobStatus } from '../src/queue/status.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { startS3Server, S3RVER_CREDENTIALS } from '../test/helpers/s3-server.js';
import { putFile } from '../test/helpers/s3-package.js';

const exec = promisify(execFile);

/** How often the bench asks Redis whether the job it waits for has finished. */
const POLL_MS = 1000;

export interface QueueBenchOptions {
  source: string;
  work: string;
  vidpipe: string;
  preset: string;
  jobs: number;
  /** Length of the clip cut from the source, seconds. */
  clipSeconds: number;
  /** CPU ids to pin workers to (the first one or two are used). */
  cpus: number[];
  rounds: number;
  keep: boolean;
}

export interface QueueRun {
  workers: number;
  round: number;
  jobs: number;
  seconds: number;
  jobsPerHour: number;
  /**
   * Cores used meanwhile by what is not a worker: redis-server, and this process (s3rver runs in
   * it, and it polls the jobs). They are not pinned, so with two workers they take from the cores
   * the workers are pinned to.
   */
  servicesCores: number;
}

export interface QueueResult {
  clip: string;
  runs: QueueRun[];
  /** Median over rounds of (two workers ÷ one worker). */
  ratio?: number;
  error?: string;
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

/** CPU seconds so far of this process (s3rver, the polling) and of redis-server. */
function servicesCpuSeconds(redisPid: number | undefined): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6 + (redisPid === undefined ? 0 : processCpuSeconds(redisPid));
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function benchQueue(options: QueueBenchOptions): Promise<QueueResult> {
  const root = join(options.work, 'queue');
  await mkdir(root, { recursive: true });
  const clip = join(root, 'clip.mp4');
  await exec('ffmpeg', ['-v', 'error', '-y', '-i', options.source, '-t', String(options.clipSeconds), '-vf', 'scale=-2:360', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', clip]);
  const result: QueueResult = { clip: `${options.jobs} jobs of ${options.clipSeconds} s at 360p (ladder 360p,180p, preset ${options.preset}, 2 s segments)`, runs: [] };
  if (options.cpus.length < 2) return { ...result, error: 'needs two CPUs to pin two workers to' };

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
  const workers: ChildProcess[] = [];
  try {
    await putFile(client, 'bench', 'in/clip.mp4', clip);
    for (let round = 1; round <= options.rounds; round++) {
      for (const count of [1, 2]) {
        const ids: string[] = [];
        for (let i = 0; i < options.jobs; i++) {
          const submit = await run(process.execPath, [
            options.vidpipe, 'transcode', 's3://bench/in/clip.mp4', '--out', `s3://bench/r${round}w${count}`, '--name', `job${i}`,
            '--queue', redis.url, '--detach', '--ladder', '360p,180p', '--preset', options.preset, '--segment-duration', '2', '--quiet',
          ], env);
          if (submit.code !== 0) throw new Error(`submitting job ${i} failed: ${submit.stderr.trim()}`);
          ids.push(submit.stdout.trim());
        }
        const started = Date.now();
        const servicesBefore = servicesCpuSeconds(redis.pid);
        for (let w = 0; w < count; w++) {
          const args = ['-c', String(options.cpus[w]), process.execPath, options.vidpipe, 'worker', '--redis', redis.url, '--concurrency', '1', '--quiet'];
          workers.push(spawn('taskset', args, { env: { ...process.env, ...env, VIDPIPE_WORK_DIR: join(root, `worker-${round}-${count}-${w}`) }, stdio: 'ignore' }));
        }
        // Each reading opens its own Redis connections and reads every task of the job: read one
        // unfinished job at a time (a finished one stays finished), and time the end from when the
        // last job says it finished, so the bench's own polling takes little from the workers.
        const pending = [...ids];
        let finishedAt = started;
        while (pending.length > 0) {
          const status = await queuedJobStatus(redis.url, pending[0]!);
          if (status.status === 'failed') throw new Error(`job ${status.jobId} failed: ${status.error}`);
          if (status.status === 'succeeded') {
            const lastTask = Math.max(...status.tasks.map((t) => Date.parse(t.finishedAt ?? '') || 0));
            finishedAt = Math.max(finishedAt, lastTask > 0 ? lastTask : Date.now());
            pending.shift();
          } else {
            await new Promise((r) => setTimeout(r, POLL_MS));
          }
        }
        const seconds = (finishedAt - started) / 1000;
        const servicesCores = (servicesCpuSeconds(redis.pid) - servicesBefore) / ((Date.now() - started) / 1000);
        result.runs.push({ workers: count, round, jobs: options.jobs, seconds, jobsPerHour: (options.jobs / seconds) * 3600, servicesCores });
        await Promise.all(workers.splice(0).map((w) => new Promise<void>((done) => (w.exitCode !== null ? done() : (w.once('exit', () => done()), w.kill('SIGTERM'))))));
      }
    }
    const ratios = Array.from({ length: options.rounds }, (_, i) => {
      const [one, two] = [1, 2].map((n) => result.runs.find((r) => r.round === i + 1 && r.workers === n)!);
      return two!.jobsPerHour / one!.jobsPerHour;
    });
    result.ratio = median(ratios);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    client.destroy();
    await Promise.all([redis.stop(), s3.stop()]);
    if (!options.keep) await rm(root, { recursive: true, force: true });
  }
  return result;
}
