/**
 * The watcher in-process, against s3rver: the SQS consumer with an injected queue client (there
 * is no SQS server here; the notification bodies are the ones s3rver itself emits), and the
 * object server dying in the middle of a publish.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import { createProgram, type CommandHandlers, type OptionValues } from '../../src/cli/program.js';
import type { GlobalOptions } from '../../src/settings/command-options.js';
import { parseWatchOptions } from '../../src/settings/command-options.js';
import { parseTranscodeOptions } from '../../src/settings/job-settings.js';
import { runWatch, type WatchCommandOptions } from '../../src/cli/commands/watch.js';
import type { CliIO } from '../../src/cli/io.js';
import { createS3Client, readTextObject } from '../../src/storage/s3.js';
import type { SqsLike } from '../../src/watch/sqs.js';
import { makeClip, tempDir } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { hlsReferences, keysUnder, putFile, putText, S3_ENV } from '../helpers/s3-package.js';

/** Parses a `vidpipe watch …` command line exactly as the CLI does (src/cli/index.ts). */
async function parseWatch(args: string[]): Promise<{ target: string; raw: WatchCommandOptions; global: GlobalOptions }> {
  let parsed: { target: string; raw: WatchCommandOptions; global: GlobalOptions } | undefined;
  const handlers = {
    watch: async (target: string, values: OptionValues, global: GlobalOptions) => {
      parsed = { target, raw: { ...parseTranscodeOptions(values), watch: parseWatchOptions(values) }, global };
      return 0;
    },
  } as unknown as CommandHandlers;
  await createProgram(handlers).parseAsync(['watch', ...args], { from: 'user' });
  return parsed!;
}

function captureIO(onStderr: (line: string) => void = () => undefined): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => void out.push(text),
    stderr: (text) => {
      err.push(text);
      onStderr(text);
    },
    stderrIsTTY: false,
    env: process.env,
  };
}

const FAST = ['--ladder', '90p', '--preset', 'ultrafast', '--concurrency', '1', '--no-thumbnails', '--interval', '0.5', '--json', '--progress', 'none'];

describe('vidpipe watch in-process (s3rver)', { timeout: 400_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let s3: S3TestServer;
  let port: number;
  let client: S3Client;
  let db: string;
  let clipA: string;
  let clipB: string;
  const savedEnv = { ...process.env };

  before(async () => {
    Object.assign(process.env, S3_ENV);
    ({ dir, cleanup } = await tempDir('vidpipe-watch-flow-'));
    dataDir = path.join(dir, 's3');
    s3 = await startS3Server({ buckets: ['inbox', 'vod'], directory: dataDir });
    port = Number(new URL(s3.endpoint).port);
    client = createS3Client(s3.clientOptions({ maxAttempts: 1 }));
    db = path.join(dir, 'watch.db');
    clipA = await makeClip(path.join(dir, 'a.mp4'), { durationSeconds: 2, width: 160, height: 90 });
    clipB = await makeClip(path.join(dir, 'b.mp4'), { durationSeconds: 2, width: 192, height: 90 });
  });
  after(async () => {
    process.env = savedEnv;
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  it('consumes S3 notifications from SQS: processes, extends visibility, deletes, ignores duplicates and junk', async () => {
    const events: string[] = [];
    const record = (event: unknown) => void events.push(JSON.stringify(event));
    s3.server.on('event', record);
    await putFile(client, 'inbox', 'sqs/e.mp4', clipA);
    s3.server.off('event', record);
    assert.equal(events.length, 1);
    const messages = [
      { MessageId: 'm1', ReceiptHandle: 'r1', Body: events[0] },
      { MessageId: 'm2', ReceiptHandle: 'r2', Body: '{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"inbox"}' },
      { MessageId: 'm3', ReceiptHandle: 'r3', Body: 'garbage' },
      { MessageId: 'm4', ReceiptHandle: 'r4', Body: events[0]!.replace('"inbox"', '"elsewhere"') },
    ];
    // SQS delivers at least once: the first message comes back a second time.
    const deliveries = [[messages[0]], messages.slice(1), [{ ...messages[0], ReceiptHandle: 'r1-again' }], []];
    const sent: Array<{ command: string; input: any }> = [];
    const sqs: SqsLike = {
      async send(command) {
        sent.push({ command: command.constructor.name, input: command.input });
        if (command instanceof ReceiveMessageCommand) return { Messages: deliveries.shift() ?? [] };
        return {};
      },
    };
    const { target, raw, global } = await parseWatch([
      's3://inbox/sqs/', '--sqs-queue', 'https://sqs.us-east-1.amazonaws.com/123456789012/uploads', '--once', '--lease', '1',
      '--out', 's3://vod/', '--s3-endpoint', s3.endpoint, '--db', db, ...FAST,
    ]);
    const io = captureIO();
    assert.equal(await runWatch(target, raw, global, io, sqs), 0, io.err.join('\n'));

    const done = io.out.map((line) => JSON.parse(line));
    assert.deepEqual(done.map((l) => [l.key, l.watchStatus]), [['sqs/e.mp4', 'done']], 'processed once despite the duplicate');
    assert.ok(await readTextObject(client, 'vod', 'e/master.m3u8'));
    const deleted = sent.filter((s) => s.command === DeleteMessageCommand.name).map((s) => s.input.ReceiptHandle);
    assert.deepEqual(deleted, ['r1', 'r2', 'r3', 'r4', 'r1-again']);
    const extended = sent.filter((s) => s.command === ChangeMessageVisibilityCommand.name);
    assert.ok(extended.length >= 1, 'visibility extended while the job ran');
    assert.ok(extended.every((s) => s.input.ReceiptHandle === 'r1' && s.input.VisibilityTimeout >= 30));
    const firstDelete = sent.findIndex((s) => s.command === DeleteMessageCommand.name);
    assert.ok(sent.findIndex((s) => s.command === ChangeMessageVisibilityCommand.name) < firstDelete, 'deleted only after the work');
    const receive = sent.find((s) => s.command === ReceiveMessageCommand.name)!.input;
    assert.equal(receive.QueueUrl, 'https://sqs.us-east-1.amazonaws.com/123456789012/uploads');
    assert.ok(receive.WaitTimeSeconds > 0, 'long polling');
    assert.match(io.err.join('\n'), /dropping SQS message m3: .*not JSON/);
  });

  it('the server stopping mid-publish gives retries, then a clear failure; the live package stays whole', async () => {
    const base = [
      's3://inbox/flaky/', '--once', '--max-attempts', '2', '--out', 's3://vod/', '--s3-endpoint', s3.endpoint, '--db', db, ...FAST,
    ];
    await putFile(client, 'inbox', 'flaky/d.mp4', clipA);
    const first = await parseWatch(base);
    const io1 = captureIO();
    assert.equal(await runWatch(first.target, first.raw, first.global, io1), 0);
    const v1 = JSON.parse(io1.out[0]!);
    assert.equal(v1.watchStatus, 'done');
    const liveMaster = await readTextObject(client, 'vod', 'd/master.m3u8');
    assert.match(liveMaster!, new RegExp(`^${v1.jobId}/`, 'm'));

    // A new version of the upload (other content: another video, which would get a package of its
    // own; the sidecar names "d" on purpose so it replaces this one). The server dies after the
    // third object of each publish.
    await putFile(client, 'inbox', 'flaky/d.mp4', clipB);
    await putText(client, 'inbox', 'flaky/d.mp4.vidpipe.json', JSON.stringify({ name: 'd' }));
    let stops = 0;
    const arm = (server: S3TestServer) => {
      let created = 0;
      server.server.on('event', (event: any) => {
        if (event.Records[0].s3.bucket.name === 'vod' && ++created === 3) {
          stops += 1;
          void server.stop();
        }
      });
    };
    arm(s3);
    let restarting: Promise<void> | undefined;
    const io2 = captureIO((line) => {
      if (!/will retry|: failed: /.test(line)) return;
      restarting = (async () => {
        s3 = await startS3Server({ directory: dataDir, port });
        arm(s3);
      })();
    });
    const second = await parseWatch(base);
    assert.equal(await runWatch(second.target, second.raw, second.global, io2), 0, io2.err.join('\n'));
    await restarting;
    assert.equal(stops, 2, 'the server was stopped during both attempts');

    const outcomes = io2.out.map((line) => JSON.parse(line));
    assert.deepEqual(outcomes.map((o) => [o.watchStatus, o.attempt]), [['retry', 1], ['failed', 2]]);
    assert.equal(outcomes[1].error.code, 'STORAGE_FAILED');
    assert.match(outcomes[1].error.message, /^gave up after 2 attempts: .*s3:\/\/vod\/d\/.*(ECONNREFUSED|ECONNRESET|socket hang up|EPIPE)/);
    assert.match(io2.err.join('\n'), /attempt 1 failed, will retry/);

    // The entry points were never switched: they still name the first release, which is whole.
    const checkClient = createS3Client(s3.clientOptions());
    try {
      assert.equal(await readTextObject(checkClient, 'vod', 'd/master.m3u8'), liveMaster);
      const keys = await keysUnder(checkClient, 'vod', 'd/');
      const referenced = await hlsReferences(checkClient, 'vod', 'd/');
      for (const key of referenced) assert.ok(keys.includes(key), `${key} referenced and present`);
      assert.ok(referenced.every((key) => key.startsWith(`${v1.jobId}/`)));
    } finally {
      checkClient.destroy();
    }
  });
});
