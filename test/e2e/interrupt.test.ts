/**
 * kill -9, SIGINT and SIGTERM at several phases of a transcode, as a user or a supervisor sends
 * them: no ffmpeg outlives vidpipe, a signal ends the process within seconds whatever it is
 * doing, and what is left on disk and in the database is what a resume needs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { spawn } from 'node:child_process';
import { readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { makeClip, runCli, tempDir, type CliRun } from '../helpers/media.js';
import { processesMentioning, waitUntilNoneMention } from '../helpers/processes.js';
import { startBlackHole } from '../helpers/black-hole.js';
import { S3_ENV } from '../helpers/s3-package.js';
import { workDirOwner } from '../../src/core/work-lock.js';

type Child = ReturnType<typeof spawn>;

/** Path → size and mtime of every file below root. */
async function listing(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path).catch(() => undefined);
    if (info) files.set(relative(root, path), `${info.size}@${info.mtimeMs}`);
  }
  return files;
}

/**
 * Runs the CLI and sends `signal` once `ready(stderr)` holds (checked on every stderr chunk and
 * every 100 ms), `delayMs` later. Resolves with the run and how long it took to end after the signal.
 */
async function signalWhen(
  args: string[],
  ready: (stderr: string) => boolean,
  signal: NodeJS.Signals,
  options: { delayMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ run: CliRun; stopMs: number; child: Child }> {
  let child: Child | undefined;
  let stderr = '';
  let sentAt = 0;
  const trySend = () => {
    if (sentAt || !child || !ready(stderr)) return;
    sentAt = -1;
    setTimeout(() => {
      sentAt = Date.now();
      child!.kill(signal);
    }, options.delayMs ?? 0);
  };
  const timer = setInterval(trySend, 100);
  const run = await runCli(args, {
    env: options.env,
    onStderr: (text, spawned) => {
      child ??= spawned;
      stderr = text;
      trySend();
    },
  });
  clearInterval(timer);
  assert.ok(sentAt > 0, `the signal was sent (stderr: ${run.stderr})`);
  return { run, stopMs: Date.now() - sentAt, child: child! };
}

describe('interruptions: kill -9, SIGINT and SIGTERM at every phase', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let long: string;
  const stopTimes: string[] = [];
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-int-'));
    long = await makeClip(join(dir, 'long.mp4'), { durationSeconds: 30, width: 640, height: 360 });
  });
  after(async () => {
    console.log(`stop times: ${stopTimes.join('; ')}`);
    await cleanup();
  });

  it('kill -9 mid-encode: its ffmpeg children die with it and the work folder stops changing', async () => {
    const work = join(dir, 'work-k9');
    let child: Child | undefined;
    let killedAt = 0;
    const run = runCli(['transcode', long, '--out', join(dir, 'out-k9'), '--db', join(dir, 'k9.db'), '--work-dir', work, '--preset', 'slow', '--progress', 'plain'], {
      onStderr: (_text, spawned) => (child ??= spawned),
    });
    // Mid-encode: ffmpeg processes are writing into the work folder.
    const encoders = () => processesMentioning(work).filter((p) => p.pid !== child?.pid && p.args.some((a) => a.includes('ffmpeg')));
    const deadline = Date.now() + 60_000;
    while ((!child || encoders().length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(encoders().length > 0, 'ffmpeg is encoding');
    child!.kill('SIGKILL');
    killedAt = Date.now();
    const result = await run;
    assert.equal(result.signal, 'SIGKILL');
    const left = await waitUntilNoneMention(work, 2000);
    stopTimes.push(`kill -9: children gone ${Date.now() - killedAt} ms after`);
    assert.deepEqual(left, [], 'no process works in the folder 2 s after the kill');
    const before = await listing(work);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await listing(work), before, 'nothing writes into the work folder any more');
  });

  it('SIGINT while hashing a large input: exit 130 within seconds, nothing recorded for an input never identified', async () => {
    const big = join(dir, 'big.mp4');
    await writeFile(big, '');
    await truncate(big, 64 * 1024 ** 3); // sparse: reading it costs CPU, not disk
    const db = join(dir, 'hash.db');
    const { run, stopMs } = await signalWhen(['transcode', big, '--out', join(dir, 'out-hash'), '--db', db, '--work-dir', join(dir, 'work-hash'), '--progress', 'plain'], (s) => /started \(job/.test(s), 'SIGINT', { delayMs: 1000 });
    stopTimes.push(`SIGINT while hashing: ${stopMs} ms`);
    assert.equal(run.code, 130, run.stderr);
    assert.ok(stopMs < 4000, `stopped ${stopMs} ms after the signal`);
    const listed = JSON.parse((await runCli(['list', '--db', db, '--json'])).stdout);
    assert.deepEqual(listed.videos, [], 'no video with a made-up identity');
  });

  it('SIGTERM mid-encode: exit 130 within seconds, job interrupted, work folder kept and free to resume', async () => {
    const work = join(dir, 'work-term');
    const db = join(dir, 'term.db');
    const { run, stopMs, child } = await signalWhen(
      ['transcode', long, '--out', join(dir, 'out-term'), '--db', db, '--work-dir', work, '--preset', 'slow', '--progress', 'plain'],
      () => processesMentioning(work).some((p) => p.args.some((a) => a.includes('ffmpeg'))),
      'SIGTERM',
      { delayMs: 300 },
    );
    stopTimes.push(`SIGTERM mid-encode: ${stopMs} ms`);
    assert.equal(run.code, 130, run.stderr);
    assert.ok(stopMs < 5000, `stopped ${stopMs} ms after the signal`);
    assert.deepEqual(processesMentioning(work), []);
    const listed = JSON.parse((await runCli(['list', '--db', db, '--json'])).stdout);
    assert.equal(listed.videos[0].latestJobStatus, 'interrupted');
    const folders = await readdir(work);
    assert.equal(folders.length, 1, 'the job folder is kept');
    assert.notEqual((await workDirOwner(join(work, folders[0]!)))?.pid, child.pid, 'and released');
  });

  it('SIGTERM while the S3 destination accepts connections and never answers: exit 130 within the stop bound', async () => {
    const hole = await startBlackHole();
    const work = join(dir, 'work-hole');
    try {
      const { run, stopMs } = await signalWhen(
        [
          'transcode', join(dir, 'long.mp4'), '--out', 's3://stalled/vod', '--s3-endpoint', `http://127.0.0.1:${hole.port}`,
          '--db', join(dir, 'hole.db'), '--work-dir', work, '--ladder', '144p', '--preset', 'ultrafast', '--no-thumbnails', '--progress', 'plain',
        ],
        // Whichever request waits on the server (checking the destination, publishing…).
        () => hole.accepted() > 0,
        'SIGTERM',
        { delayMs: 1000, env: S3_ENV },
      );
      stopTimes.push(`SIGTERM with S3 stalled: ${stopMs} ms`);
      assert.equal(run.code, 130, run.stderr);
      assert.ok(stopMs < 13_000, `stopped ${stopMs} ms after the signal (bound 10 s)`);
      assert.deepEqual(processesMentioning(work), []);
    } finally {
      await hole.stop();
    }
  });
});
