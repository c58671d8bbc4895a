/**
 * What the queue's end-to-end tests share: a real redis-server and s3rver on loopback (bucket
 * `media`, the inputs uploaded), the CLI's environment for them, and one `vidpipe worker`
 * (2 slots) waiting for tasks.
 */
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3.js';
import { tempDir } from './media.js';
import { startWorkerProcess, type WorkerProcess } from './queue-worker.js';
import { startRedisServer, type RedisTestServer } from './redis-server.js';
import { startS3Server, type S3TestServer } from './s3-server.js';
import { S3_ENV, putFile } from './s3-package.js';

export interface QueueTestbed {
  redis: RedisTestServer;
  s3: S3TestServer;
  client: S3Client;
  dir: string;
  /** The CLI's environment: the S3 endpoint and credentials, its own database and work folder. */
  env: NodeJS.ProcessEnv;
  worker: WorkerProcess;
  stop: () => Promise<void>;
}

/** `uploads` makes the inputs in the test's folder and names their keys in bucket `media`. */
export async function startQueueTestbed(prefix: string, uploads: (dir: string) => Promise<Record<string, string>>): Promise<QueueTestbed> {
  const { dir, cleanup } = await tempDir(prefix);
  const [redis, s3] = await Promise.all([startRedisServer(), startS3Server({ buckets: ['media'] })]);
  const client = createS3Client(s3.clientOptions());
  for (const [key, file] of Object.entries(await uploads(dir))) await putFile(client, 'media', key, file);
  const env = { ...S3_ENV, VIDPIPE_S3_ENDPOINT: s3.endpoint, VIDPIPE_DB: join(dir, 'meta.db'), VIDPIPE_WORK_DIR: join(dir, 'work-cli') };
  const worker = startWorkerProcess(redis.url, { ...env, VIDPIPE_WORK_DIR: join(dir, 'work-worker') }, ['--concurrency', '2']);
  await worker.waitFor(/waiting for tasks/, 60_000);
  const stop = async () => {
    await worker.stop();
    client.destroy();
    await Promise.all([redis.stop(), s3.stop()]);
    await cleanup();
  };
  return { redis, s3, client, dir, env, worker, stop };
}
