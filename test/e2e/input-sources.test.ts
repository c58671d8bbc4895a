/**
 * Where an input comes from, through the real CLI: http(s):// URLs served by a local server
 * (a clip, a 404, a server that stalls mid-body, one that hangs up early), file:// URLs, schemes
 * vidpipe does not read, things that are not files (FIFO, device), and a source that changes
 * while it is being processed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { decodedFrameCount, makeClip, runCli, tempDir } from '../helpers/media.js';

const exec = promisify(execFile);
const FAST = ['--ladder', '144p', '--preset', 'ultrafast', '--no-thumbnails', '--concurrency', '1', '--segment-duration', '2', '--json', '--quiet'];

describe('input sources', { timeout: 600_000, concurrency: 2 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  let clipBytes: Buffer;
  let server: Server;
  let base: string;
  /** Open sockets of the stalling routes, destroyed at the end so the server can close. */
  const held = new Set<import('node:net').Socket>();

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-sources-'));
    clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 2, rate: '25' });
    clipBytes = await readFile(clip);
    server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      if (path === '/videos/clip.mp4') {
        response.writeHead(200, { 'content-type': 'video/mp4', 'content-length': clipBytes.length });
        response.end(clipBytes);
      } else if (path === '/moved.mp4') {
        response.writeHead(302, { location: '/videos/clip.mp4' });
        response.end();
      } else if (path === '/stalls.mp4' || path === '/hangs-up.mp4') {
        held.add(request.socket);
        response.writeHead(200, { 'content-type': 'video/mp4', 'content-length': clipBytes.length });
        response.write(clipBytes.subarray(0, clipBytes.length >> 1));
        if (path === '/hangs-up.mp4') setTimeout(() => request.socket.destroy(), 100);
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end('not here');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    await cleanup();
  });

  async function transcode(input: string, name: string, extra: string[] = []) {
    const out = join(dir, `out-${name}`);
    const work = join(dir, `work-${name}`);
    const started = Date.now();
    const run = await runCli(['transcode', input, '--out', out, '--db', join(dir, `${name}.db`), '--work-dir', work, ...FAST, ...extra]);
    return { run, out, work, seconds: (Date.now() - started) / 1000, result: run.stdout ? JSON.parse(run.stdout.trim().split('\n')[0]!) : undefined };
  }

  it('downloads an http:// input (following a redirect) and packages it under the URL file name', async () => {
    const { run, out, work, result } = await transcode(`${base}/moved.mp4?signature=secret`, 'http');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(result.status, 'succeeded');
    assert.ok(result.outputs.hls.startsWith(join(out, 'moved')), result.outputs.hls);
    assert.equal(await decodedFrameCount(result.outputs.hls), 50, 'the whole 2 s clip');
    const validation = await runCli(['validate', result.outputs.hls]);
    assert.equal(validation.code, 0, validation.stdout);
    assert.deepEqual(await readdir(join(work, 'inputs')).catch(() => []), [], 'the download is removed');
  });

  it('says a 404 is not on the server (exit 2, INPUT_NOT_FOUND)', async () => {
    const { run, out, result } = await transcode(`${base}/missing.mp4`, 'http404');
    assert.equal(run.code, 2, run.stderr);
    assert.equal(result.error.code, 'INPUT_NOT_FOUND');
    assert.match(result.error.message, /^http:\/\/127\.0\.0\.1:\d+\/missing\.mp4 \(HTTP 404 Not Found\): no such file on the server$/);
    assert.equal(existsSync(out), false);
  });

  it('gives up on a server that stops sending within the stall timeout (exit 1), leaving nothing behind', async () => {
    const { run, out, work, result, seconds } = await transcode(`${base}/stalls.mp4`, 'stall', ['--stall-timeout', '2']);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(result.error.code, 'STORAGE_FAILED');
    assert.match(result.error.message, /failed after \d+ attempts: 1\) the body stalled after \d+ of \d+ bytes \(no data for 2 s\)/);
    assert.ok(seconds < 30, `ended after ${seconds} s`);
    assert.equal(existsSync(out), false);
    assert.deepEqual(await readdir(join(work, 'inputs')).catch(() => []), [], 'no partial download left');
  });

  it('refuses a download cut short of its Content-Length (exit 1)', async () => {
    const { run, result } = await transcode(`${base}/hangs-up.mp4`, 'hangup');
    assert.equal(run.code, 1, run.stderr);
    assert.equal(result.error.code, 'STORAGE_FAILED');
    assert.match(result.error.message, /hangs-up\.mp4/);
  });

  it('reads a file:// URL as the local file it names', async () => {
    const { run, result } = await transcode(pathToFileURL(clip).href, 'fileurl');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await decodedFrameCount(result.outputs.hls), 50);
  });

  it('refuses other schemes in one line (exit 2)', async () => {
    const { run, result } = await transcode('ftp://example.com/clip.mp4', 'ftp');
    assert.equal(run.code, 2, run.stderr);
    assert.equal(result.error.message, 'ftp:// inputs are not supported: give a local path, file://, http(s):// or s3:// URL');
  });

  it('names a FIFO and a device for what they are, without opening them (exit 2)', async () => {
    const fifo = join(dir, 'pipe.mp4');
    await exec('mkfifo', [fifo]);
    const piped = await transcode(fifo, 'fifo');
    assert.equal(piped.run.code, 2, piped.run.stderr);
    assert.equal(piped.result.error.message, `${fifo} is a named pipe (FIFO), not a media file`);
    const device = await transcode('/dev/zero', 'device');
    assert.equal(device.run.code, 2, device.run.stderr);
    assert.equal(device.result.error.message, '/dev/zero is a device, not a media file');
  });

  it('fails cleanly when the source changes while it is encoded (still being written): exit 1, nothing published', async () => {
    const source = join(dir, 'growing.mp4');
    await writeFile(source, clipBytes);
    // An ffmpeg that appends to the source when the first chunk encode starts, as a recorder
    // still writing the file would, then runs the real ffmpeg.
    const realFfmpeg = (await exec('sh', ['-c', 'command -v ffmpeg'])).stdout.trim();
    const wrapper = join(dir, 'ffmpeg-appends.sh');
    await writeFile(wrapper, [
      '#!/bin/sh',
      `case " $* " in *" -filter_complex "*) printf 'more data' >> '${source}';; esac`,
      `exec '${realFfmpeg}' "$@"`,
      '',
    ].join('\n'));
    await chmod(wrapper, 0o755);
    const { run, out, result } = await transcode(source, 'growing', ['--ffmpeg', wrapper]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(result.error.code, 'SOURCE_CHANGED');
    assert.match(result.error.message, /growing\.mp4 changed while it was being processed \(its size went from [\d.]+ MB to [\d.]+ MB\); nothing was published/);
    assert.equal(existsSync(join(out, 'growing', 'master.m3u8')), false, 'no package published');
  });
});
