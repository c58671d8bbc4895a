/**
 * The webhook outbox on both metadata engines (SQLite, and PostgreSQL on a real server): a job's
 * events are written by its JobRecorder in the transactions of its records, and delivered from
 * the database to a real receiver that is down, then answers 500, then 200: every event arrives
 * (answered 200) exactly once per webhook-id, always with the same id, and every request's
 * signature verifies with node:crypto (test/helpers/webhook-receiver.ts, not vidpipe's signer).
 * A record that is not written writes no event; a SQLite database of the previous schema version
 * migrates and keeps its rows.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { TranscodeResult } from '../../src/core/result.js';
import { openMetadata } from '../../src/db/engines.js';
import type { MetadataStore } from '../../src/db/metadata-store.js';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { migrate, schemaVersion } from '../../src/db/sqlite/migrate.js';
import { SqliteMetadataStore } from '../../src/db/sqlite/store.js';
import { parseWebhookSecret } from '../../src/events/standard-webhooks.js';
import { WebhookDispatcher } from '../../src/events/webhook-delivery.js';
import { JobRecorder, recordEndedJob } from '../../src/job/records.js';
import { failedLater, outboxEntries, succeededData } from '../../src/job/webhook-events.js';
import { startWebhookSender } from '../../src/cli/webhook-sender.js';
import { DEFAULT_SETTINGS } from '../../src/settings/job-settings.js';
import { sampleCompletion, sampleStart, tempDbFile } from '../helpers/db-fixtures.js';
import { sharedPostgres } from '../helpers/postgres-server.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
/** Long waits: a retry is never due again within the test unless it asks for every pending one. */
const SCHEDULE = [60_000, 60_000, 60_000, 60_000];

interface Engine {
  name: string;
  open(): Promise<MetadataStore>;
  cleanup(): Promise<void>;
}

const engines: Engine[] = [];
before(async () => {
  const file = tempDbFile();
  engines.push({ name: 'sqlite', open: () => openMetadata(file.file), cleanup: async () => file.cleanup() });
  const url = await (await sharedPostgres()).createDatabase();
  engines.push({ name: 'postgres', open: () => openMetadata(url), cleanup: async () => undefined });
});
after(async () => {
  for (const engine of engines) await engine.cleanup();
});

/** A succeeded job's result, as the metadata node has it. */
function succeeded(jobId: string, videoId: string): TranscodeResult {
  return {
    id: videoId,
    jobId,
    input: '/media/sample.mp4',
    status: 'succeeded',
    outputs: { hls: '/out/sample/master.m3u8', dash: '/out/sample/manifest.mpd', root: '/out/sample' },
    renditions: [{ name: 'h264-360p', kind: 'video', codec: 'h264', codecs: 'avc1.64001e', width: 640, height: 360, averageBitrate: 800_000, peakBitrate: 900_000, targetBitrate: 800_000, sizeBytes: 1000, segments: 2, playlist: 'video/h264-360p/index.m3u8' }],
    durationSeconds: 4,
    timings: {},
  };
}

async function cycle(store: MetadataStore, receiver: WebhookReceiver, tag: string): Promise<void> {
  const webhooks = [receiver.url];
  const videoId = `v${tag}00000000`.slice(0, 13);
  // A job that succeeds and one that fails, recorded as a job records itself.
  const good = new JobRecorder(store, `j${tag}good`, webhooks);
  await good.start({ ...sampleStart('unused', videoId), options: DEFAULT_SETTINGS });
  // The metadata node's transaction writes job.succeeded (JobRecorder.complete passes the same entries).
  const result = succeeded(`j${tag}good`, videoId);
  await store.completeJob(`j${tag}good`, { ...sampleCompletion(videoId), events: outboxEntries(webhooks, 'job.succeeded', `j${tag}good`, succeededData(result)) });
  const bad = new JobRecorder(store, `j${tag}bad`, webhooks);
  await bad.start({ ...sampleStart('unused', videoId), options: DEFAULT_SETTINGS });
  await bad.fail({ ...succeeded(`j${tag}bad`, videoId), status: 'failed', error: { code: 'FFMPEG_FAILED', message: 'ffmpeg exited with code 1' } });

  const pending = await store.listDeliveries();
  assert.deepEqual(pending.map((d) => [d.type, d.status, d.attempts]).sort(), [['job.failed', 'pending', 0], ['job.started', 'pending', 0], ['job.started', 'pending', 0], ['job.succeeded', 'pending', 0]]);
  const ids = new Set(pending.map((d) => d.messageId));
  assert.equal(ids.size, 4, 'one webhook-id per event');

  const dispatcher = new WebhookDispatcher(store, { key: parseWebhookSecret(SECRET), timeoutMs: 2_000, schedule: SCHEDULE });
  // Down: connections refused, every delivery stays pending with the reason.
  await receiver.down();
  assert.deepEqual(await dispatcher.deliverDue(), { delivered: 0, retrying: 4, failed: 0 });
  const afterDown = await store.listDeliveries();
  assert.ok(afterDown.every((d) => d.status === 'pending' && d.attempts === 1 && /ECONNREFUSED/.test(d.lastError ?? '') && d.nextAttemptAt! > new Date().toISOString()), JSON.stringify(afterDown));
  // Not due yet: a pass sends nothing.
  await receiver.up(500);
  assert.deepEqual(await dispatcher.deliverDue(), { delivered: 0, retrying: 0, failed: 0 });
  assert.equal(receiver.received.length, 0);
  // 500: tried again later.
  assert.deepEqual(await dispatcher.deliverDue({ all: true }), { delivered: 0, retrying: 4, failed: 0 });
  assert.ok((await store.listDeliveries()).every((d) => d.status === 'pending' && d.attempts === 2 && d.lastStatus === 500));
  // 200: delivered, and never again.
  await receiver.up(200);
  assert.deepEqual(await dispatcher.deliverDue({ all: true }), { delivered: 4, retrying: 0, failed: 0 });
  assert.deepEqual(await dispatcher.deliverDue({ all: true, includeFailed: true }), { delivered: 0, retrying: 0, failed: 0 });
  const done = await store.listDeliveries();
  assert.ok(done.every((d) => d.status === 'delivered' && d.attempts === 3 && d.lastStatus === 200 && d.deliveredAt !== null && d.nextAttemptAt === null), JSON.stringify(done));

  const answered = receiver.received.filter((r) => r.status === 200);
  assert.deepEqual(answered.map((r) => r.id).sort(), [...ids].sort(), 'each event delivered exactly once');
  assert.equal(receiver.received.length, 8, '4 answered 500, 4 answered 200');
  for (const request of receiver.received) {
    assert.ok(request.valid, `signature of ${request.id}`);
    assert.ok(ids.has(request.id), 'the same webhook-id on every attempt');
  }
  // Every attempt of one event carries the same bytes.
  for (const id of ids) assert.equal(new Set(receiver.received.filter((r) => r.id === id).map((r) => r.body)).size, 1);
  const events = answered.map((r) => r.event);
  const started = events.find((e) => e.type === 'job.started' && e.data.jobId === `j${tag}good`)!;
  assert.deepEqual(started.data, { videoId, jobId: `j${tag}good`, input: '/media/sample.mp4', name: 'sample.mp4', out: `/out/${videoId}`, durationSeconds: 10.02 });
  const failed = events.find((e) => e.type === 'job.failed')!;
  assert.deepEqual(failed.data, { videoId, jobId: `j${tag}bad`, input: '/media/sample.mp4', status: 'failed', error: { code: 'FFMPEG_FAILED', message: 'ffmpeg exited with code 1' } });
  assert.deepEqual(events.find((e) => e.type === 'job.succeeded')!.data, {
    videoId, jobId: `j${tag}good`, input: '/media/sample.mp4',
    manifests: { hls: '/out/sample/master.m3u8', dash: '/out/sample/manifest.mpd' },
    renditions: [{ name: 'h264-360p', kind: 'video', codec: 'avc1.64001e', width: 640, height: 360, averageBitrate: 800_000 }],
    durationSeconds: 4,
  });
}

for (const engineName of ['sqlite', 'postgres']) {
  describe(`the webhook outbox on ${engineName}`, () => {
    test('down, then 500, then 200: every event delivered once per webhook-id, signed', async () => {
      const store = await engines.find((e) => e.name === engineName)!.open();
      const receiver = await startWebhookReceiver(SECRET);
      try {
        await cycle(store, receiver, engineName.slice(0, 2));
      } finally {
        await receiver.down();
        await store.close();
      }
    });

    test('a record that is not written writes no event; a finished job fails without one', async () => {
      const store = await engines.find((e) => e.name === engineName)!.open();
      try {
        const before = (await store.listDeliveries()).length;
        const entries = () => outboxEntries(['http://127.0.0.1:9/hook'], 'job.succeeded', 'jnone', { videoId: 'vx', jobId: 'jnone', input: 'x', manifests: {}, renditions: [], durationSeconds: 1 });
        // A job that does not exist: completeJob fails, and its event with it (one transaction).
        await assert.rejects(store.completeJob('jnone', { ...sampleCompletion('vx'), events: entries() }));
        // Two jobs of one start: the second start fails (the job exists) and takes its event back.
        await store.startJob({ ...sampleStart('jonce', 'vonce0000000'), events: entries() });
        await assert.rejects(store.startJob({ ...sampleStart('jonce', 'vonce0000000'), events: entries() }));
        await store.completeJob('jonce', sampleCompletion('vonce0000000'));
        // A late failure of a finished job changes nothing, and sends nothing.
        await store.failJob('jonce', { status: 'interrupted', code: 'INTERRUPTED', message: 'late', events: entries() });
        assert.equal((await store.listDeliveries()).length, before + 1);
      } finally {
        await store.close();
      }
    });
  });
}

describe('what sends the outbox', () => {
  test('a long-running process (watch, worker --db) delivers pending events on its own, with backoff', async () => {
    const file = tempDbFile();
    const receiver = await startWebhookReceiver(SECRET);
    const lines: string[] = [];
    try {
      const store = await openMetadata(file.file);
      const job = new JobRecorder(store, 'jloop', [receiver.url]);
      await job.start({ ...sampleStart('unused', 'vloop0000000'), options: DEFAULT_SETTINGS });
      await store.close();
      await receiver.up(500);
      const sender = (await startWebhookSender(file.file, SECRET, { required: false, log: (line) => lines.push(line) }))!;
      // Answered 500 at once and after the first wait (1 s); the next try (5 s later) finds 200.
      const deadline = Date.now() + 20_000;
      while (receiver.received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await receiver.up(200);
      while (!receiver.received.some((r) => r.status === 200) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await sender.stop(1_000);
      assert.deepEqual(receiver.received.map((r) => r.status), [500, 500, 200]);
      assert.equal(new Set(receiver.received.map((r) => r.id)).size, 1);
      assert.ok(receiver.received.every((r) => r.valid));
      const gap = (n: number) => Number(receiver.received[n]!.timestamp) - Number(receiver.received[n - 1]!.timestamp);
      assert.ok(gap(1) >= 0 && gap(2) >= 4, `waits grow: ${gap(1)} s, then ${gap(2)} s`);
      assert.deepEqual(lines, [], 'nothing left to report');
    } finally {
      await receiver.down();
      file.cleanup();
    }
  });

  test('stopping is bounded when the receiver never answers: the event stays pending, and a note says so', async () => {
    const file = tempDbFile();
    const { createServer } = await import('node:net');
    // Accepts connections and never answers.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}/hook`;
    const lines: string[] = [];
    try {
      const store = await openMetadata(file.file);
      await new JobRecorder(store, 'jsilent', [url]).start({ ...sampleStart('unused', 'vsilent00000'), options: DEFAULT_SETTINGS });
      await store.close();
      const sender = (await startWebhookSender(file.file, SECRET, { required: true, log: (line) => lines.push(line) }))!;
      const stopping = Date.now();
      await sender.stop(2_000);
      assert.ok(Date.now() - stopping < 8_000, `stopped after ${Date.now() - stopping} ms`);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /1 webhook delivery is still pending \(last: no answer (within \d+ s|before this process stopped)\).*vidpipe events retry/);
      const check = await openMetadata(file.file);
      assert.equal((await check.listDeliveries())[0]!.status, 'pending');
      await check.close();
    } finally {
      silent.close();
      file.cleanup();
    }
  });

  test('a job left running by a killed process and ended by a later one sends job.failed to its own webhooks', async () => {
    const file = tempDbFile();
    try {
      const store = await openMetadata(file.file);
      await new JobRecorder(store, 'jkilled', ['https://app.example/hook']).start({ ...sampleStart('unused', 'vkilled00000'), options: { ...DEFAULT_SETTINGS, webhooks: ['https://app.example/hook'] } });
      const killed = (await store.getJob('jkilled')).job;
      await store.failJob(killed.id, failedLater(killed, { status: 'interrupted', code: 'INTERRUPTED', message: 'the process stopped without finishing (killed?); resumed by job jnext' }));
      const failed = (await store.listDeliveries()).filter((d) => d.type === 'job.failed');
      assert.deepEqual(failed.map((d) => [d.jobId, d.url, d.status]), [['jkilled', 'https://app.example/hook', 'pending']]);
      await store.close();
    } finally {
      file.cleanup();
    }
  });
});

describe('a detached job recorded where it ends (worker --db, status --db)', () => {
  test('its failure is recorded with job.failed for the webhooks of its settings, once', async () => {
    const file = tempDbFile();
    try {
      const store = await openMetadata(file.file);
      const webhooks = ['https://app.example/hook'];
      await new JobRecorder(store, 'jdetached', webhooks).start({ ...sampleStart('unused', 'vdetached000'), options: { ...DEFAULT_SETTINGS, webhooks } });
      const ended = {
        options: { jobId: 'jdetached', input: '/media/sample.mp4', out: '/out', settings: { ...DEFAULT_SETTINGS, webhooks }, package: { name: 'sample', given: false, video: { id: 'vdetached000', sha256: '' } } },
        // The failure path reads neither.
        plan: undefined as never,
        source: undefined as never,
        error: { code: 'WORKER_LOST' as const, message: 'its workers kept dying' },
        nodes: [],
        submittedAt: new Date().toISOString(),
        finishedAt: new Date().toISOString(),
      };
      assert.equal(await recordEndedJob(store, ended), true);
      assert.equal(await recordEndedJob(store, ended), false, 'a second recorder writes nothing');
      const deliveries = await store.listDeliveries();
      assert.deepEqual(deliveries.map((d) => [d.type, d.jobId]).sort(), [['job.failed', 'jdetached'], ['job.started', 'jdetached']]);
      await store.close();
    } finally {
      file.cleanup();
    }
  });
});

describe('migration step 5 (the outbox)', () => {
  test('a SQLite database of the previous version migrates and keeps its rows', async () => {
    const file = tempDbFile();
    try {
      const { mkdirSync } = await import('node:fs');
      const { dirname } = await import('node:path');
      mkdirSync(dirname(file.file), { recursive: true });
      const raw = new Database(file.file);
      assert.equal(migrate(raw, MIGRATIONS.slice(0, 4)), 4);
      const old = new SqliteMetadataStore(raw);
      await old.startJob(sampleStart('jold', 'vold00000000'));
      await old.completeJob('jold', sampleCompletion('vold00000000'));
      raw.close();
      const store = await openMetadata(file.file);
      try {
        const { job, renditions } = await store.getJob('jold');
        assert.equal(job.status, 'succeeded');
        assert.equal(renditions.length, 2);
        assert.deepEqual(await store.listDeliveries(), []);
        await store.startJob({ ...sampleStart('jnew', 'vold00000000'), events: outboxEntries(['http://127.0.0.1:9/hook'], 'job.started', 'jnew', { videoId: 'vold00000000', jobId: 'jnew', input: 'x', name: 'x', out: 'o', durationSeconds: 1 }) });
        assert.equal((await store.listDeliveries()).length, 1);
      } finally {
        await store.close();
      }
      const check = new Database(file.file, { readonly: true });
      assert.equal(schemaVersion(check), MIGRATIONS.length);
      check.close();
    } finally {
      file.cleanup();
    }
  });
});

