import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeClip, REPO_ROOT, runCli, tempDir } from '../helpers/media.js';

/**
 * What a command loads: the queue (BullMQ, ioredis) and the AWS SDK are loaded only by the
 * commands and locations that use them, so `--version` starts fast and a local job's memory is
 * not spent on them (the bench's node RSS target).
 */
const HOOK = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'helpers', 'record-packages.js')).href;
const REMOTE_ONLY = ['@aws-sdk/client-s3', 'bullmq', 'ioredis'];

describe('packages loaded per command', { timeout: 180_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-startup-'));
    clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 2 });
  });
  after(async () => cleanup());

  async function loaded(args: string[], name: string): Promise<{ code: number | null; stderr: string; packages: string[] }> {
    const record = join(dir, `${name}.txt`);
    const run = await runCli(args, { env: { NODE_OPTIONS: `--import ${HOOK}`, VIDPIPE_RECORD_PACKAGES: record } });
    return { code: run.code, stderr: run.stderr, packages: (await readFile(record, 'utf8')).split('\n').filter(Boolean) };
  }

  it('--version loads no queue, S3 or SQLite package', async () => {
    const run = await loaded(['--version'], 'version');
    assert.equal(run.code, 0, run.stderr);
    for (const name of [...REMOTE_ONLY, 'better-sqlite3']) assert.ok(!run.packages.includes(name), `${name} in ${run.packages.join(', ')}`);
  });

  it('a local transcode loads SQLite but not the queue or the AWS SDK', async () => {
    const run = await loaded(
      ['transcode', clip, '--out', join(dir, 'out'), '--db', join(dir, 'vidpipe.db'), '--work-dir', join(dir, 'work'), '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2', '--quiet'],
      'transcode',
    );
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.packages.includes('better-sqlite3'), run.packages.join(', '));
    for (const name of REMOTE_ONLY) assert.ok(!run.packages.includes(name), `${name} in ${run.packages.join(', ')}`);
  });

  it('an s3:// --out loads the AWS SDK when it is needed: the destination check before encoding', async () => {
    // Nothing listens on port 9: the check fails at once, after the SDK was loaded for it.
    const run = await loaded(
      ['transcode', clip, '--out', 's3://bucket/prefix', '--s3-endpoint', 'http://127.0.0.1:9', '--s3-timeout', '2', '--db', join(dir, 'vidpipe.db'), '--work-dir', join(dir, 'work'), '--quiet'],
      's3',
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /cannot check the destination s3:\/\/bucket\/prefix/);
    assert.ok(run.packages.includes('@aws-sdk/client-s3'), run.packages.join(', '));
    assert.ok(!run.packages.includes('bullmq'), run.packages.join(', '));
  });
});
