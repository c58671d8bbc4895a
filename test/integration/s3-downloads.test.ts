/**
 * Downloads that break mid-way (src/storage/download-retry.ts through s3.ts and http.ts): a fault
 * proxy in front of s3rver (and of a plain HTTP file server) resets, stalls or cuts off a body, or
 * answers 503, per request by script. Each kind is retried and resumed with a ranged GET of the
 * same version; a download that keeps failing ends within its bounds with a message that says
 * how many attempts and what failed; an object changed between attempts is never stitched.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import { Readable } from 'node:stream';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { VidpipeError } from '../../src/errors.js';
import { readBufferWithRetries, type DownloadResponse, type ResumePoint } from '../../src/storage/download-retry.js';
import { downloadHttp } from '../../src/storage/http.js';
import { createS3Client, downloadObject, readTextObject, type S3Options } from '../../src/storage/s3.js';
import { startFaultProxy, type FaultProxy } from '../helpers/bad-servers.js';
import { tempDir } from '../helpers/media.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const SIZE = 300_000;
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function rejectsWith(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<VidpipeError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => ((caught = error), true));
  assert.ok(caught instanceof VidpipeError, String(caught));
  assert.equal(caught.code, code, caught.message);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

describe('downloads that break mid-way are retried and resumed', { timeout: 120_000 }, () => {
  let s3: S3TestServer;
  let proxy: FaultProxy;
  let direct: S3Client;
  let viaProxy: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  const original = randomBytes(SIZE);
  // 3 attempts, an idle body dropped after 1 s, given up after 3 s without a byte.
  const proxyOptions = (overrides: S3Options = {}): S3Options => ({ endpoint: proxy.endpoint, credentials: S3RVER_CREDENTIALS, maxAttempts: 3, timeoutSeconds: 3, ...overrides });
  let n = 0;
  const dest = (): string => path.join(dir, `download-${++n}.bin`);
  const put = (key: string, body: Buffer | string) => direct.send(new PutObjectCommand({ Bucket: 'media', Key: key, Body: body }));

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-s3-downloads-'));
    s3 = await startS3Server({ buckets: ['media'] });
    direct = createS3Client(s3.clientOptions());
    proxy = await startFaultProxy(Number(new URL(s3.endpoint).port));
    viaProxy = createS3Client(proxyOptions());
    await put('in/talk.mp4', original);
  });
  after(async () => {
    direct.destroy();
    viaProxy.destroy();
    await proxy.close();
    await s3.stop();
    await cleanup();
  });

  /** Downloads in/talk.mp4 through the proxy with `faults`; returns the bytes, the GETs seen and the retry lines. */
  async function download(script: Parameters<FaultProxy['script']>[0], client = viaProxy) {
    proxy.script({ match: /^GET \/media\/in\/talk\.mp4/, ...script });
    const seen = proxy.requests.length;
    const lines: string[] = [];
    const target = dest();
    const started = Date.now();
    const result = await downloadObject(client, 'media', 'in/talk.mp4', target, { onRetry: (line) => lines.push(line) });
    return { result, data: await readFile(target), gets: proxy.requests.slice(seen), lines, elapsed: Date.now() - started };
  }

  for (const kind of ['reset', 'truncate', 'stall'] as const) {
    it(`a body ${kind === 'reset' ? 'reset' : kind === 'stall' ? 'stalled' : 'cut off (Content-Length not reached)'} once is resumed with a ranged GET of the same ETag`, async () => {
      const { result, data, gets, lines, elapsed } = await download({ faults: [{ kind, afterBytes: 100_000 }] });
      assert.equal(sha(data), sha(original), 'byte-identical');
      assert.equal(result.bytes, SIZE);
      assert.equal(gets.length, 2, gets.map((g) => `${g.fault} ${g.headers.range ?? ''}`).join(', '));
      assert.equal(gets[0]!.headers.range, undefined);
      assert.equal(gets[1]!.headers.range, 'bytes=100000-', 'resumed where the body broke off');
      assert.equal(gets[1]!.headers['if-match'], `"${result.etag}"`, 'of the same version');
      assert.equal(lines.length, 1, lines.join('\n'));
      const account = kind === 'stall' ? /the body stalled after 100000 of 300000 bytes/ : kind === 'reset' ? /the connection was dropped after 100000 of 300000 bytes/ : /after 100000 of 300000 bytes/;
      assert.match(lines[0]!, account);
      assert.match(lines[0]!, /^downloading s3:\/\/media\/in\/talk\.mp4: attempt 1 of 3 failed: .*; retrying from byte 100000 in [\d.]+ s$/);
      assert.ok(elapsed < (kind === 'stall' ? 4000 : 2500), `took ${elapsed} ms`);
    });
  }

  it('a 503 twice, then the object: three requests in all (the SDK does not retry on top)', async () => {
    const { data, gets, lines } = await download({ faults: [{ kind: 'status', status: 503 }, { kind: 'status', status: 503 }] });
    assert.equal(sha(data), sha(original));
    assert.deepEqual(gets.map((g) => g.fault), ['status', 'status', 'pass']);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /attempt 1 of 3 failed: .*HTTP 503.*; retrying from the start/);
  });

  it('a server that keeps dropping the body: exit-1 error naming the attempts and each cause, no credentials hint, no file', async () => {
    const target = dest();
    proxy.script({ match: /^GET \/media\/in\/talk\.mp4/, faults: [{ kind: 'reset', afterBytes: 50_000 }, { kind: 'status', status: 503 }], then: { kind: 'truncate', afterBytes: 10 } });
    const started = Date.now();
    const error = await rejectsWith(downloadObject(viaProxy, 'media', 'in/talk.mp4', target), 'STORAGE_FAILED',
      /^downloading s3:\/\/media\/in\/talk\.mp4 failed after 3 attempts: 1\) the connection was dropped after 50000 of 300000 bytes .*; 2\) .*HTTP 503.*; 3\) .*after 50010 of 300000 bytes/);
    assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
    assert.doesNotMatch(error.hint ?? '', /credentials|bucket name/);
    assert.match(error.hint ?? '', /AWS_MAX_ATTEMPTS/);
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith(path.basename(target))), [], 'no file or partial left');
  });

  it('a body that stalls every time ends within --s3-timeout without a byte, saying so', async () => {
    proxy.script({ match: /^GET \/media\/in\/talk\.mp4/, faults: [{ kind: 'stall', afterBytes: 20_000 }], then: { kind: 'stall', afterBytes: 0 } });
    const started = Date.now();
    const client = createS3Client(proxyOptions({ maxAttempts: 10 }));
    try {
      const error = await rejectsWith(downloadObject(client, 'media', 'in/talk.mp4', dest()), 'STORAGE_FAILED', /^downloading s3:\/\/media\/in\/talk\.mp4 failed after \d+ attempts: 1\) the body stalled after 20000 of 300000 bytes/);
      assert.match(error.message, /; 2\) the body stalled after 20000 of 300000 bytes .*(no progress for 3 s|3 s without progress would pass before the next)/);
      const elapsed = Date.now() - started;
      // One stall (1 s) to get 20000 bytes, then at most 3 s without a byte.
      assert.ok(elapsed < 5500, `took ${elapsed} ms`);
    } finally {
      client.destroy();
    }
  });

  it('a missing object still fails at once as not found (exit 2), one request', async () => {
    proxy.script({ faults: [] });
    const seen = proxy.requests.length;
    await rejectsWith(downloadObject(viaProxy, 'media', 'in/nothing.mp4', dest()), 'INPUT_NOT_FOUND', /no such object/);
    assert.equal(proxy.requests.length - seen, 1);
  });

  for (const enforce of [true, false]) {
    it(`an object changed between attempts restarts from byte 0 (${enforce ? 'S3 answers 412 to If-Match' : 'a server that ignores If-Match: the ETag is checked'}), never stitched`, async () => {
      const newer = randomBytes(SIZE - 1000);
      await put('in/talk.mp4', original);
      proxy.enforceIfMatch = enforce;
      try {
        const { data, gets, lines } = await download({
          faults: [{ kind: 'reset', afterBytes: 100_000 }],
          afterFault: async () => void (await put('in/talk.mp4', newer)),
        });
        assert.equal(sha(data), sha(newer), 'the newer version, whole');
        assert.equal(gets[1]!.headers.range, 'bytes=100000-');
        assert.equal(gets.at(-1)!.headers.range, undefined, 'the last request asked for the whole object');
        assert.ok(lines.some((line) => /changed since the download began/.test(line)), lines.join('\n'));
      } finally {
        proxy.enforceIfMatch = false;
        await put('in/talk.mp4', original);
      }
    });
  }

  it('a throttled answer, then "no such key": a missing record reads as none, a missing source is not found (exit 2), never a storage failure', async () => {
    for (const first of [{ status: 503 }, { status: 503, code: 'SlowDown' }, { status: 500 }]) {
      proxy.script({ match: /^GET \/media\/vod\/none\//, faults: [{ kind: 'status', ...first }] });
      const seen = proxy.requests.length;
      assert.equal(await readTextObject(viaProxy, 'media', 'vod/none/vidpipe-record.json'), undefined, `after ${JSON.stringify(first)}`);
      assert.deepEqual(proxy.requests.slice(seen).map((r) => r.fault), ['status', 'pass']);
      proxy.script({ match: /^GET \/media\/vod\/none\//, faults: [{ kind: 'status', ...first }, { kind: 'status', ...first }] });
      await rejectsWith(downloadObject(viaProxy, 'media', 'vod/none/talk.mp4', dest()), 'INPUT_NOT_FOUND', /no such object/);
    }
  });

  for (const [label, contentRange] of [['without a Content-Range', null], ['with an unreadable Content-Range', 'bytes junk'], ['with a Content-Range of unknown total', 'bytes 100000-299999/*']] as const) {
    it(`a resumed GET answered 206 ${label} never keeps only the tail`, async () => {
      const { data, gets, result } = await download({ faults: [{ kind: 'reset', afterBytes: 100_000 }, { kind: 'headers', set: { 'content-range': contentRange } }] });
      assert.equal(sha(data), sha(original), 'the whole object, byte-identical');
      assert.equal(result.bytes, SIZE);
      if (contentRange?.endsWith('/*')) {
        assert.deepEqual(gets.map((g) => g.headers.range), [undefined, 'bytes=100000-'], 'the readable range is resumed');
      } else {
        assert.deepEqual(gets.map((g) => g.headers.range), [undefined, 'bytes=100000-', undefined], 'the kept bytes dropped, the whole object asked for');
      }
    });
  }

  it('a record read back from S3 (readTextObject) survives a reset mid-body', async () => {
    const text = JSON.stringify({ releases: Array.from({ length: 2000 }, (_, i) => `j${i}`) });
    await put('vod/talk/vidpipe-record.json', text);
    proxy.script({ match: /^GET \/media\/vod\/talk\/vidpipe-record\.json/, faults: [{ kind: 'reset', afterBytes: 5000 }, { kind: 'truncate', afterBytes: 100 }] });
    const seen = proxy.requests.length;
    assert.equal(await readTextObject(viaProxy, 'media', 'vod/talk/vidpipe-record.json'), text);
    assert.deepEqual(proxy.requests.slice(seen).map((r) => r.headers.range), [undefined, 'bytes=5000-', 'bytes=5100-']);
  });
});

/** A plain HTTP file server: ETag, Range and If-Range, the content replaceable between requests. */
async function startFileServer(initial: Buffer): Promise<{ port: number; set(content: Buffer): void; close(): Promise<void> }> {
  let content = initial;
  let etag = `"${sha(content).slice(0, 16)}"`;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && (ifRange === undefined || ifRange === etag)) {
      const start = Number(range[1]);
      res.writeHead(206, { 'Content-Length': content.length - start, 'Content-Range': `bytes ${start}-${content.length - 1}/${content.length}`, ETag: etag });
      res.end(content.subarray(start));
      return;
    }
    res.writeHead(200, { 'Content-Length': content.length, ETag: etag, 'Accept-Ranges': 'bytes' });
    res.end(content);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    set: (next) => {
      content = next;
      etag = `"${sha(content).slice(0, 16)}"`;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('http(s) source downloads that break mid-way are retried and resumed', { timeout: 60_000 }, () => {
  let files: Awaited<ReturnType<typeof startFileServer>>;
  let proxy: FaultProxy;
  let dir: string;
  let cleanup: () => Promise<void>;
  const original = randomBytes(SIZE);
  let n = 0;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-http-downloads-'));
    files = await startFileServer(original);
    proxy = await startFaultProxy(files.port);
  });
  after(async () => {
    await proxy.close();
    await files.close();
    await cleanup();
  });

  async function download(script: Parameters<FaultProxy['script']>[0]) {
    proxy.script(script);
    const seen = proxy.requests.length;
    const lines: string[] = [];
    const target = path.join(dir, `talk-${++n}.mp4`);
    await downloadHttp(`${proxy.endpoint}/talk.mp4?sig=secret`, target, { idleTimeoutMs: 1000, attempts: 3, onRetry: (line) => lines.push(line) });
    return { data: await readFile(target), gets: proxy.requests.slice(seen), lines };
  }

  for (const kind of ['reset', 'truncate', 'stall'] as const) {
    it(`a body ${kind} once is resumed with Range + If-Range`, async () => {
      const { data, gets, lines } = await download({ faults: [{ kind, afterBytes: 64_000 }] });
      assert.equal(sha(data), sha(original));
      assert.equal(gets.length, 2);
      assert.equal(gets[1]!.headers.range, 'bytes=64000-');
      assert.match(String(gets[1]!.headers['if-range']), /^"[0-9a-f]{16}"$/);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /^downloading http:\/\/127\.0\.0\.1:\d+\/talk\.mp4: attempt 1 of 3 failed/);
      assert.doesNotMatch(lines[0]!, /secret/, 'no query string in the log');
    });
  }

  it('a 503, then 404: not found (exit 2), not a storage failure', async () => {
    proxy.script({ faults: [{ kind: 'status', status: 503 }, { kind: 'status', status: 404 }] });
    await rejectsWith(downloadHttp(`${proxy.endpoint}/talk.mp4`, path.join(dir, 'gone.mp4'), { idleTimeoutMs: 1000, attempts: 3 }), 'INPUT_NOT_FOUND', /HTTP 404.*no such file/);
  });

  it('a resumed GET answered 206 without a readable Content-Range: the kept bytes are dropped, the whole file asked for', async () => {
    for (const contentRange of [null, 'bytes junk']) {
      const { data, gets } = await download({ faults: [{ kind: 'reset', afterBytes: 64_000 }, { kind: 'headers', set: { 'content-range': contentRange } }] });
      assert.equal(sha(data), sha(original), 'never only the tail');
      assert.deepEqual(gets.map((g) => g.headers.range), [undefined, 'bytes=64000-', undefined]);
    }
  });

  it('a 5xx whose error body stalls does not hold its connection', async () => {
    const { data, gets } = await download({ faults: [{ kind: 'status', status: 503, stallBody: true }] });
    assert.equal(sha(data), sha(original));
    const until = Date.now() + 1000;
    while (!gets[0]!.socketClosed && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(gets[0]!.socketClosed, 'the connection of the stalled 503 was closed');
  });

  it('503 twice, then the file', async () => {
    const { data, gets } = await download({ faults: [{ kind: 'status', status: 503 }, { kind: 'status', status: 503 }] });
    assert.equal(sha(data), sha(original));
    assert.equal(gets.length, 3);
  });

  it('always failing: STORAGE_FAILED after 3 attempts naming each cause, no file', async () => {
    const target = path.join(dir, 'failing.mp4');
    proxy.script({ faults: [], then: { kind: 'reset', afterBytes: 1000 } });
    await rejectsWith(downloadHttp(`${proxy.endpoint}/talk.mp4`, target, { idleTimeoutMs: 1000, attempts: 3 }), 'STORAGE_FAILED',
      /^downloading http:\/\/127\.0\.0\.1:\d+\/talk\.mp4 failed after 3 attempts: 1\) the connection was dropped after 1000 of 300000 bytes .*; 3\) the connection was dropped after 3000 of 300000 bytes/);
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith('failing')), []);
  });

  it('a file replaced between attempts restarts from byte 0 (If-Range answers 200), never stitched', async () => {
    const newer = randomBytes(SIZE + 500);
    try {
      const { data, gets } = await download({ faults: [{ kind: 'reset', afterBytes: 64_000 }], afterFault: () => files.set(newer) });
      assert.equal(sha(data), sha(newer));
      assert.equal(gets.length, 2);
    } finally {
      files.set(original);
    }
  });
});

/** `data` from `from`, a chunk every `everyMs`; after `failAfter` bytes (if given) the body is reset. */
function trickle(data: Buffer, from: number, everyMs: number, failAfter?: number): Readable {
  const CHUNK = 100;
  let at = from;
  return new Readable({
    read() {
      setTimeout(() => {
        if (failAfter !== undefined && at >= failAfter) return this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
        if (at >= data.length) return void this.push(null);
        this.push(data.subarray(at, at + CHUNK));
        at += CHUNK;
      }, everyMs);
    },
  });
}

describe('a download that starts again from byte 0 is measured afresh (the retry loop, driven directly)', { timeout: 60_000 }, () => {
  // 70 chunks of 100 bytes, one every 10 ms: 700 ms to the break; 560 ms allowed without progress,
  // so a restart must not have to pass byte 7000 again before its bytes count as progress. The
  // allowance stays above the longest backoff of a second retry (500 ms): the loop gives up when
  // the next wait would outlast it, and the jitter must never decide this test.
  const data = randomBytes(8000);
  const EVERY_MS = 10;
  const BREAK = 7000;
  const restarts: Record<string, (attempt: number, resume: ResumePoint | undefined) => DownloadResponse> = {
    'the object changed (another ETag, the whole object sent)': (attempt) =>
      ({ body: trickle(data, 0, EVERY_MS, attempt === 1 ? BREAK : undefined), start: 0, total: data.length, version: attempt === 1 ? 'v1' : 'v2' }),
    'the server refused the range (412: the object changed)': (attempt) => {
      if (attempt === 2) throw Object.assign(new Error('precondition'), { changed: true });
      return { body: trickle(data, 0, EVERY_MS, attempt === 1 ? BREAK : undefined), start: 0, total: data.length, version: attempt === 1 ? 'v1' : 'v2' };
    },
    'the server names no version': (attempt) => ({ body: trickle(data, 0, EVERY_MS, attempt === 1 ? BREAK : undefined), start: 0, total: data.length, version: undefined }),
    'the server sent the whole object again (same version)': (attempt) => ({ body: trickle(data, 0, EVERY_MS, attempt === 1 ? BREAK : undefined), start: 0, total: data.length, version: 'v1' }),
  };
  for (const [label, answer] of Object.entries(restarts)) {
    it(label, async () => {
      let attempt = 0;
      const lines: string[] = [];
      const body = await readBufferWithRetries({
        what: 'downloading test://talk.mp4',
        attempts: 5,
        idleMs: 1000,
        noProgressMs: 560,
        hint: 'test',
        onRetry: (line) => lines.push(line),
        request: async (resume) => answer(++attempt, resume),
        describeFailure: (error) => ({ account: String((error as Error).message), retryable: true, ...((error as { changed?: boolean }).changed ? { changed: true } : {}) }),
      });
      assert.equal(sha(body), sha(data), lines.join('\n'));
    });
  }
});
