/**
 * `vidpipe watch` and webhooks an upload's sidecar asks for: a watcher started without
 * VIDPIPE_WEBHOOK_SECRET refuses such an upload (it could not sign the events) and serves the
 * others; one started with a secret runs the upload's job and delivers its job.started and
 * job.succeeded itself, signed (verified with node:crypto), to the sidecar's URL, with the
 * secret nowhere in the database or its output.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { putFile, putText, S3_ENV } from '../helpers/s3-package.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

describe('vidpipe watch: webhooks from an upload\'s sidecar', { timeout: 300_000 }, () => {
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  let receiver: WebhookReceiver;
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-watch-webhooks-'));
    s3 = await startS3Server({ buckets: ['inbox', 'vod'] });
    client = createS3Client(s3.clientOptions());
    clip = await makeClip(path.join(dir, 'clip.mp4'), { durationSeconds: 1, width: 160, height: 90, rate: '15', audio: false });
    receiver = await startWebhookReceiver(SECRET);
    await receiver.up(200);
  });
  after(async () => {
    await receiver.down();
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  const watch = (prefix: string, db: string, env: Record<string, string>) =>
    runCli(
      ['watch', `s3://inbox/${prefix}/`, '--out', 's3://vod/', '--s3-endpoint', s3.endpoint, '--db', db, '--json', '--progress', 'none', '--once', '--interval', '0.5', '--ladder', '90p', '--preset', 'ultrafast', '--no-thumbnails'],
      { env: { ...S3_ENV, ...env } },
    );
  const lines = (stdout: string) => new Map(stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; watchStatus: string; jobId?: string; error?: { message: string } }).map((line) => [line.key, line]));

  it('without a secret: the upload asking for webhooks is refused, the other served, nothing sent', async () => {
    await putFile(client, 'inbox', 'nosecret/hooked.mp4', clip);
    await putText(client, 'inbox', 'nosecret/hooked.mp4.vidpipe.json', JSON.stringify({ webhooks: [receiver.url] }));
    await putFile(client, 'inbox', 'nosecret/plain.mp4', clip);
    const run = await watch('nosecret', path.join(dir, 'nosecret.db'), { VIDPIPE_WEBHOOK_SECRET: '' });
    assert.equal(run.code, 0, run.stderr);
    const byKey = lines(run.stdout);
    assert.equal(byKey.get('nosecret/hooked.mp4')?.watchStatus, 'failed');
    assert.match(byKey.get('nosecret/hooked.mp4')!.error!.message, /asks for webhooks, but this watcher has no VIDPIPE_WEBHOOK_SECRET/);
    assert.equal(byKey.get('nosecret/plain.mp4')?.watchStatus, 'done');
    assert.equal(receiver.received.length, 0);
  });

  it('with a secret: the watcher delivers the job\'s events to the sidecar\'s URL, signed', async () => {
    receiver.received.length = 0;
    await putFile(client, 'inbox', 'secret/hooked.mp4', clip);
    await putText(client, 'inbox', 'secret/hooked.mp4.vidpipe.json', JSON.stringify({ webhooks: [receiver.url] }));
    const db = path.join(dir, 'secret.db');
    const run = await watch('secret', db, { VIDPIPE_WEBHOOK_SECRET: SECRET });
    assert.equal(run.code, 0, run.stderr);
    const line = lines(run.stdout).get('secret/hooked.mp4')!;
    assert.equal(line.watchStatus, 'done', JSON.stringify(line));
    assert.deepEqual(receiver.received.map((r) => [r.event.type, r.status, r.valid]), [['job.started', 200, true], ['job.succeeded', 200, true]]);
    assert.ok(receiver.received.every((r) => r.event.data.jobId === line.jobId));
    assert.equal((receiver.received[1]!.event.data.manifests as { hls: string }).hls, 's3://vod/hooked/master.m3u8');
    const events = await runCli(['events', '--db', db, '--json']);
    assert.ok(JSON.parse(events.stdout).deliveries.every((d: { status: string }) => d.status === 'delivered'));
    const secretBody = SECRET.slice('whsec_'.length);
    for (const file of [db, `${db}-wal`]) if (existsSync(file)) assert.ok(!readFileSync(file).includes(secretBody), `${file} holds the secret`);
    assert.ok(!`${run.stdout}${run.stderr}${events.stdout}`.includes(secretBody));
  });
});
