/**
 * Job events as signed webhooks, end to end through bin/vidpipe, on SQLite and on PostgreSQL: a
 * transcode whose receiver is down still exits 0 and leaves its events pending in the outbox
 * (`vidpipe events --json`); `vidpipe events retry` gets a 500 (exit 1, still pending), then a 200
 * (exit 0, delivered). The receiver gets job.started and job.succeeded once each (one webhook-id
 * per event, the same on every attempt), each signature verified with node:crypto, job.succeeded
 * naming the published manifests. The secret is never in the database, --json or events output;
 * webhooks without a secret are a usage error before any work.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeClip, runCli, tempDir, type CliRun } from '../helpers/media.js';
import { sharedPostgres } from '../helpers/postgres-server.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const SECRET_BODY = SECRET.slice('whsec_'.length);

describe('webhooks (end to end)', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  let receiver: WebhookReceiver;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 2, width: 160, height: 90 });
    receiver = await startWebhookReceiver(SECRET);
  });
  after(async () => {
    await receiver.down();
    await cleanup();
  });

  const env = { VIDPIPE_WEBHOOK_SECRET: SECRET };
  const transcodeArgs = (db: string, out: string) => ['transcode', clip, '--out', join(dir, out), '--db', db, '--work-dir', join(dir, 'work'), '--json', '--no-thumbnails', '--ladder', '90p', '--preset', 'ultrafast', '--concurrency', '2'];
  const events = async (db: string, ...args: string[]) => runCli(['events', '--db', db, ...args], { env });
  const deliveries = async (db: string) => JSON.parse((await events(db, '--json')).stdout).deliveries as { messageId: string; type: string; status: string; attempts: number; lastStatus: number | null; lastError: string | null }[];

  async function downThen500Then200(db: string, out: string): Promise<CliRun[]> {
    receiver.received.length = 0;
    await receiver.down();
    const transcode = await runCli([...transcodeArgs(db, out), '--webhook', receiver.url], { env });
    assert.equal(transcode.code, 0, transcode.stderr);
    const result = JSON.parse(transcode.stdout.trim());
    assert.equal(result.status, 'succeeded');
    assert.match(transcode.stderr, /2 webhook deliveries are still pending .*ECONNREFUSED.*vidpipe events retry/s);
    const pending = await deliveries(db);
    assert.deepEqual(pending.map((d) => d.type).sort(), ['job.started', 'job.succeeded']);
    assert.ok(pending.every((d) => d.status === 'pending' && d.attempts >= 1 && /ECONNREFUSED/.test(d.lastError ?? '')), JSON.stringify(pending));
    const listed = await events(db);
    assert.equal(listed.code, 0);
    assert.match(listed.stdout, /job\.succeeded .* pending/);

    await receiver.up(500);
    const refused = await events(db, 'retry', '--json');
    assert.equal(refused.code, 1, 'some are still undelivered');
    assert.deepEqual(JSON.parse(refused.stdout).sent, { delivered: 0, retrying: 2, failed: 0 });
    assert.ok((await deliveries(db)).every((d) => d.status === 'pending' && d.lastStatus === 500));

    await receiver.up(200);
    const retried = await events(db, 'retry');
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, /Sent now: 2 delivered/);
    assert.ok((await deliveries(db)).every((d) => d.status === 'delivered' && d.lastStatus === 200));
    // Nothing left: a retry sends nothing again.
    assert.match((await events(db, 'retry')).stdout, /Sent now: 0 delivered/);

    const ids = new Set(pending.map((d) => d.messageId));
    const answered = receiver.received.filter((r) => r.status === 200);
    assert.deepEqual(answered.map((r) => r.id).sort(), [...ids].sort(), 'each event delivered once');
    assert.ok(receiver.received.every((r) => r.valid && ids.has(r.id)), 'every attempt signed, with its event\'s webhook-id');
    const succeeded = answered.find((r) => r.event.type === 'job.succeeded')!.event.data as any;
    assert.equal(succeeded.videoId, result.id);
    assert.equal(succeeded.jobId, result.jobId);
    assert.deepEqual(succeeded.manifests, { hls: result.outputs.hls, dash: result.outputs.dash });
    assert.deepEqual(succeeded.renditions.map((r: { name: string }) => r.name), result.renditions.map((r: { name: string }) => r.name));
    assert.equal(succeeded.durationSeconds, result.durationSeconds);
    const started = answered.find((r) => r.event.type === 'job.started')!.event.data as any;
    assert.equal(started.jobId, result.jobId);
    return [transcode, listed, refused, retried];
  }

  test('SQLite: down, 500, 200; the secret is nowhere in the database or the output', async () => {
    const db = join(dir, 'meta.db');
    const runs = await downThen500Then200(db, 'out-sqlite');
    for (const file of [db, `${db}-wal`]) {
      if (existsSync(file)) assert.ok(!readFileSync(file).includes(SECRET_BODY), `${file} holds the secret`);
    }
    for (const run of runs) assert.ok(!`${run.stdout}${run.stderr}`.includes(SECRET_BODY), 'output holds the secret');
  });

  test('PostgreSQL: down, 500, 200', async () => {
    const url = await (await sharedPostgres()).createDatabase();
    const runs = await downThen500Then200(url, 'out-postgres');
    for (const run of runs) assert.ok(!`${run.stdout}${run.stderr}`.includes(SECRET_BODY), 'output holds the secret');
  });

  test('webhooks without a secret: exit 2 before any work; events retry without one too', async () => {
    const db = join(dir, 'nosecret.db');
    const run = await runCli([...transcodeArgs(db, 'out-none'), '--webhook', receiver.url], { env: { VIDPIPE_WEBHOOK_SECRET: '' } });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /VIDPIPE_WEBHOOK_SECRET/);
    assert.ok(!existsSync(join(dir, 'out-none')), 'nothing published');
    const bad = await runCli([...transcodeArgs(db, 'out-none'), '--webhook', receiver.url], { env: { VIDPIPE_WEBHOOK_SECRET: 'not-a-secret' } });
    assert.equal(bad.code, 2);
    assert.ok(!bad.stderr.includes('not-a-secret'), 'the bad secret is not echoed');
    const retry = await runCli(['events', 'retry', '--db', db], { env: { VIDPIPE_WEBHOOK_SECRET: '' } });
    assert.equal(retry.code, 2);
  });
});
