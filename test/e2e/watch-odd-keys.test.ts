/**
 * `vidpipe watch --once` (spawned) over keys that XML listings mangle and prefixes with leading or
 * doubled slashes, served by a key-faithful fake S3 (s3rver can hold neither; see the helper).
 * Every upload is processed exactly once under its exact key and the process ends.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeClip, REPO_ROOT, tempDir, VIDPIPE_BIN, type CliRun } from '../helpers/media.js';
import { ODD_KEY_NAMES, startKeyFaithfulS3, type KeyFaithfulS3 } from '../helpers/key-faithful-s3.js';
import { S3_ENV } from '../helpers/s3-package.js';

const FAST = ['--ladder', '90p', '--preset', 'ultrafast', '--concurrency', '1', '--no-thumbnails', '--interval', '0.3', '--json', '--progress', 'none'];

interface Line {
  key: string;
  watchStatus: string;
  attempt: number;
  outputs: Record<string, string>;
}
const lines = (run: CliRun): Line[] => run.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));

/** bin/vidpipe, killed if it has not ended after `limitMs` (the old watcher never ended). */
function runBounded(args: string[], limitMs: number): Promise<CliRun & { timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VIDPIPE_BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...S3_ENV, CI: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

describe('vidpipe watch --once with odd keys and prefixes (key-faithful fake S3)', { timeout: 400_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: KeyFaithfulS3;
  const objects = new Map<string, Buffer>();
  const watch = (target: string, out: string, extra: string[] = []) => [
    'watch', target, '--out', out, '--s3-endpoint', server.endpoint, '--db', path.join(dir, 'watch.db'), '--once', ...FAST, ...extra,
  ];

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-watch-odd-'));
    const keys = [...ODD_KEY_NAMES.map((name) => `odd/${name}`), '/lead/a.mp4', 'lead/b.mp4', '//x/c.mp4', 'x/d.mp4'];
    for (const [i, key] of keys.entries()) {
      // Different pictures, so different videos and ETags.
      objects.set(key, await readFile(await makeClip(path.join(dir, `clip${i}.mp4`), { durationSeconds: 1, width: 128 + 16 * i, height: 72, audio: false })));
    }
    server = await startKeyFaithfulS3({ bucket: 'inbox', objects, encoding: 'url' });
  });
  after(async () => {
    await server?.close();
    await cleanup();
  });

  it('processes each key with CR, LF, tab, control characters, +, %, spaces and unicode exactly once, and ends', async () => {
    const out = path.join(dir, 'odd-out');
    const run = await runBounded(watch('s3://inbox/odd/', out), 300_000);
    assert.equal(run.timedOut, false, `--once ended; stderr:\n${run.stderr.slice(-2000)}`);
    assert.equal(run.code, 0, run.stderr);
    const done = lines(run);
    const expected = ODD_KEY_NAMES.map((name) => `odd/${name}`);
    assert.deepEqual(done.map((l) => l.key).sort(), [...expected].sort(), 'one outcome per key, under its exact key');
    assert.ok(done.every((l) => l.watchStatus === 'done' && l.attempt === 1), JSON.stringify(done.map((l) => [l.key, l.watchStatus])));
    // The exact keys were read (HEAD, GET of the upload) and nothing was asked for a mangled one.
    for (const key of expected) {
      assert.ok(server.reads.some((r) => r.method === 'GET' && r.key === key), `GET ${JSON.stringify(key)}`);
    }
    assert.deepEqual(server.reads.filter((r) => !objects.has(r.key) && !r.key.endsWith('.vidpipe.json')), [], 'no read of a key that does not exist');
    assert.equal((await readdir(out)).length, expected.length, 'one package per upload');

    const again = await runBounded(watch('s3://inbox/odd/', out), 60_000);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(lines(again), [], 'done uploads are not redone: the keys recorded are the listed ones');
  });

  it('--prefix /lead/ and s3://inbox///x/ match keys as written; a prefix with nothing below says where keys are', async () => {
    const out = path.join(dir, 'prefix-out');
    const lead = await runBounded(watch('inbox', out, ['--prefix', '/lead/']), 120_000);
    assert.equal(lead.code, 0, lead.stderr);
    assert.deepEqual(lines(lead).map((l) => [l.key, l.watchStatus]), [['/lead/a.mp4', 'done']]);
    assert.match(lead.stderr, /watching s3:\/\/inbox\/\/lead\//);

    // After the bucket's own '/', `s3://inbox///x/` is the prefix '//x/'.
    const doubled = await runBounded(watch('s3://inbox///x/', out), 120_000);
    assert.equal(doubled.code, 0, doubled.stderr);
    assert.deepEqual(lines(doubled).map((l) => [l.key, l.watchStatus]), [['//x/c.mp4', 'done']], doubled.stderr);

    const typo = await runBounded(watch('s3://inbox//x/', out), 60_000);
    assert.equal(typo.code, 0, typo.stderr);
    assert.deepEqual(lines(typo), [], 'nothing is below "/x/"');
    assert.match(typo.stderr, /nothing to do below "\/x\/", but there are keys below "x\/".*give s3:\/\/inbox\/x\//);

    const twice = await runBounded(watch('s3://inbox/lead/', out, ['--prefix', '/lead/']), 60_000);
    assert.equal(twice.code, 2, 'two different prefixes are a usage error');
    assert.match(twice.stderr, /two prefixes to watch/);
  });
});
