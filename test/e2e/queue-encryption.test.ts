/**
 * An encrypted job on the queue (#24): `transcode --queue --encrypt cenc --key …` sends no key to
 * Redis; the worker encrypts with the key of its own environment (VIDPIPE_KEY) and publishes to
 * S3; the package, fetched back, validates with the key (each track decrypted by an independent
 * decryptor and decoded). Real redis-server and s3rver on loopback, the CLI as a user runs it.
 * Every Redis key is read while the job waits for a worker and again once it has ended, and
 * searched for the key (hex, both cases, base64, base64url, and its raw bytes).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { assertValidatesDecrypted, filesUnder, keyLeaks, keyLeaksUnder } from '../helpers/protected-package.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/queue-worker.js';
import { redisDump, startRedisServer, type RedisTestServer } from '../helpers/redis-server.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { downloadPrefix, putFile, S3_ENV } from '../helpers/s3-package.js';

const KID = '44444444444444444444444444444444';
const KEY = '9e8d7c6b5a4938271605f4e3d2c1b0a9';

describe('an encrypted job on the queue: the worker reads its own key', { timeout: 600_000 }, () => {
  let redis: RedisTestServer;
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess | undefined;
  let jobId: string;
  const key = Buffer.from(KEY, 'hex');

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-queue-encrypt-'));
    [redis, s3] = await Promise.all([startRedisServer(), startS3Server({ buckets: ['media'] })]);
    client = createS3Client(s3.clientOptions());
    await putFile(client, 'media', 'in/clip.mp4', await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 4 }));
    env = { ...S3_ENV, VIDPIPE_S3_ENDPOINT: s3.endpoint, VIDPIPE_DB: join(dir, 'meta.db'), VIDPIPE_WORK_DIR: join(dir, 'work-cli') };
  });
  after(async () => {
    await worker?.stop();
    client?.destroy();
    await Promise.all([redis?.stop(), s3?.stop()]);
    await cleanup?.();
  });

  it('queues the tasks with no key in Redis (no worker yet)', async () => {
    const run = await runCli(
      ['transcode', 's3://media/in/clip.mp4', '--out', 's3://media/enc', '--queue', redis.url, '--detach', '--no-thumbnails',
        '--ladder', '144p,90p', '--preset', 'ultrafast', '--segment-duration', '2', '--progress', 'none', '--encrypt', 'cenc', '--key-id', KID, '--key', KEY],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    jobId = run.stdout.trim();
    assert.match(jobId, /^j[0-9a-z]+$/);
    const dump = await redisDump(redis.url);
    assert.ok(dump.some(({ value }) => value.includes('workPrefix') && value.includes('encrypt') && value.includes('cenc')), 'the task specs, with the scheme, are in Redis');
    assert.deepEqual([...dump.flatMap(({ key: name, value }) => keyLeaks(`Redis ${name}`, value, [key])), ...keyLeaks('stdout', run.stdout + run.stderr, [key])], []);
  });

  it('a worker with VIDPIPE_KEY encrypts and publishes to S3: the package validates with the key; Redis still holds no key', async () => {
    worker = startWorkerProcess(redis.url, { ...env, VIDPIPE_WORK_DIR: join(dir, 'work-worker'), VIDPIPE_KEY: KEY, VIDPIPE_DB: join(dir, 'worker.db') }, ['--concurrency', '2']);
    let status: any;
    const deadline = Date.now() + 300_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const poll = await runCli(['status', jobId, '--redis', redis.url, '--json'], { env });
      assert.equal(poll.code, 0, poll.stderr);
      status = JSON.parse(poll.stdout);
    } while (!['succeeded', 'failed'].includes(status.status) && Date.now() < deadline);
    assert.equal(status.status, 'succeeded', `${JSON.stringify(status)}\nworker:\n${worker.log()}`);

    const local = join(dir, 'fetched');
    await downloadPrefix(client, 'media', 'enc/clip/', local);
    await assertValidatesDecrypted(local, [{ kid: KID, key: KEY }]);

    const dump = await redisDump(redis.url);
    const found = dump.flatMap(({ key: name, value }) => keyLeaks(`Redis ${name}`, value, [key]));
    found.push(...keyLeaks('the worker log', worker.log(), [key]), ...(await keyLeaksUnder(join(dir, 'work-worker'), [key])));
    // The databases with their -wal and -shm files.
    for (const file of await filesUnder(dir)) if (/\.db/.test(file)) found.push(...(await keyLeaksUnder(file, [key])));
    assert.deepEqual(found, []);
  });
});
