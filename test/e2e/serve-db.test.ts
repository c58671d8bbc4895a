/**
 * `vidpipe serve --db <target>` (no folder): the catalogue of the metadata records. A clip
 * transcoded with --db is listed at `/`, its player page is at `/v/<id>/`, and its package's files
 * are proxied from where the record says they were published: a local folder with SQLite, an S3
 * bucket with PostgreSQL (the "any machine" case: nothing of the package is on the serving side).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3.js';
import { makeClip, REPO_ROOT, runCli, tempDir, VIDPIPE_BIN } from '../helpers/media.js';
import { sharedPostgres } from '../helpers/postgres-server.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { S3_ENV } from '../helpers/s3-package.js';

const FAST = ['--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2', '--no-thumbnails', '--json'];

/** A raw request: fetch() would normalise the paths under test. */
function rawGet(url: string, urlPath: string): Promise<{ status: number; type: string | undefined; body: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: urlPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`no answer to ${urlPath}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Starts `vidpipe serve --db …` and resolves with its URL once it prints it. */
function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [VIDPIPE_BIN, 'serve', ...args, '--port', '0'], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 20 s: ${stderr}`)), 20_000);
    child.stdout!.on('data', (d) => {
      stdout += d;
      const match = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1]!, child, stderr: () => stderr });
      }
    });
    child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
}

/** The first media segment a master playlist leads to, as a key below the package root. */
function firstSegmentKey(master: string, variant: string, variantKey: string): string {
  const segment = variant.split('\n').find((line) => line !== '' && !line.startsWith('#'))!;
  assert.ok(master.includes(variantKey));
  return path.posix.join(path.posix.dirname(variantKey), segment);
}

/** Checks the catalogue of one video: index, player page, master playlist, a segment's bytes, refused escapes. */
async function checkCatalogue(url: string, video: { id: string; name: string; location: string }, bytesOf: (key: string) => Promise<Buffer>): Promise<void> {
  const index = await rawGet(url, '/');
  assert.equal(index.status, 200);
  const html = index.body.toString('utf8');
  assert.ok(html.includes(`href="/v/${video.id}/"`), html);
  assert.ok(html.includes(video.name), html);
  assert.ok(html.includes(video.location), html);
  assert.match(html, /h264-144p/);
  assert.match(html, /0:02/);

  const page = await rawGet(url, `/v/${video.id}/`);
  assert.equal(page.status, 200);
  assert.match(page.body.toString('utf8'), new RegExp(`/v/${video.id}/master\\.m3u8`));

  const master = await rawGet(url, `/v/${video.id}/master.m3u8`);
  assert.equal(master.status, 200);
  assert.equal(master.type, 'application/vnd.apple.mpegurl');
  assert.deepEqual(master.body, await bytesOf('master.m3u8'));
  const variantKey = master.body.toString('utf8').split('\n').find((line) => line.endsWith('.m3u8') && !line.startsWith('#'))!;
  const variant = await rawGet(url, `/v/${video.id}/${variantKey}`);
  assert.equal(variant.status, 200);
  const segmentKey = firstSegmentKey(master.body.toString('utf8'), variant.body.toString('utf8'), variantKey);
  const segment = await rawGet(url, `/v/${video.id}/${segmentKey}`);
  assert.equal(segment.status, 200);
  assert.equal(segment.type, 'video/iso.segment');
  assert.ok(segment.body.length > 1000);
  assert.deepEqual(segment.body, await bytesOf(segmentKey));

  for (const escape of [`/v/${video.id}/..%2F..%2Fmeta.db`, `/v/${video.id}/%2e%2e%2fx`, `/v/${video.id}/a%5C..%5Cmaster.m3u8`, `/v/${video.id}/x%00`]) {
    const refused = await rawGet(url, escape);
    assert.equal(refused.status, 403, escape);
  }
  assert.equal((await rawGet(url, '/v/nosuchvideo/master.m3u8')).status, 404);
  assert.equal((await rawGet(url, `/v/${video.id.slice(0, 4)}/master.m3u8`)).status, 404, 'a prefix names no video in a URL');
}

describe('vidpipe serve --db: the catalogue of the metadata records', { timeout: 240_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  let s3: S3TestServer | undefined;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-serve-db-'));
    clip = await makeClip(path.join(dir, 'talk.mp4'), { durationSeconds: 2 });
  });
  after(async () => {
    await s3?.stop();
    await cleanup?.();
  });

  it('SQLite and a local --out: lists the video and proxies its package from the folder recorded', async () => {
    const db = path.join(dir, 'meta.db');
    const out = path.join(dir, 'out');
    const run = await runCli(['transcode', clip, '--out', out, '--db', db, ...FAST], { env: { VIDPIPE_WORK_DIR: path.join(dir, 'work') } });
    assert.equal(run.code, 0, run.stderr);
    const { id } = JSON.parse(run.stdout) as { id: string };
    const server = await startServe(['--db', db]);
    try {
      await checkCatalogue(server.url, { id, name: 'talk', location: path.join(out, 'talk') }, (key) => readFile(path.join(out, 'talk', ...key.split('/'))));
    } finally {
      assert.equal(await stop(server.child), 0, server.stderr());
    }
  });

  it('PostgreSQL and an S3 --out: the same, read from the bucket', async () => {
    s3 = await startS3Server({ buckets: ['vod'] });
    const db = await (await sharedPostgres()).createDatabase();
    const env = { ...S3_ENV, VIDPIPE_WORK_DIR: path.join(dir, 'work-s3') };
    const run = await runCli(['transcode', clip, '--out', 's3://vod/media/', '--s3-endpoint', s3.endpoint, '--db', db, ...FAST], { env });
    assert.equal(run.code, 0, run.stderr);
    const { id } = JSON.parse(run.stdout) as { id: string };
    const client = createS3Client(s3.clientOptions());
    const server = await startServe(['--s3-endpoint', s3.endpoint], { ...S3_ENV, VIDPIPE_DB: db });
    try {
      await checkCatalogue(server.url, { id, name: 'talk', location: 's3://vod/media/talk/' }, async (key) => {
        const object = await client.send(new GetObjectCommand({ Bucket: 'vod', Key: `media/talk/${key}` }));
        return Buffer.from(await object.Body!.transformToByteArray());
      });
    } finally {
      client.destroy();
      assert.equal(await stop(server.child), 0, server.stderr());
    }
  });

  it('an empty database: an index that says so', async () => {
    const server = await startServe(['--db', path.join(dir, 'empty.db')]);
    try {
      const index = await rawGet(server.url, '/');
      assert.equal(index.status, 200);
      assert.match(index.body.toString('utf8'), /No published video in this database yet/);
      assert.doesNotMatch(index.body.toString('utf8'), /href="\/v\//);
    } finally {
      assert.equal(await stop(server.child), 0, server.stderr());
    }
  });

  it('an unreachable database: exit 1 at once, naming the host', async () => {
    const started = Date.now();
    const run = await runCli(['serve', '--db', 'postgres://vidpipe@127.0.0.1:1/none', '--port', '0']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /127\.0\.0\.1/);
    assert.ok(Date.now() - started < 20_000);
  });
});
