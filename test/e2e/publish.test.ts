/**
 * Data safety of publishing, as a user meets it (bin/vidpipe spawned): files beside a package
 * survive, two videos with one name get two packages, a taken entry name or a read-only --out
 * stops before any encode, a stalled S3 server ends within --s3-timeout or at SIGTERM, and the
 * AWS profile's region, credentials and endpoint variables are used.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, readTextObject } from '../../src/storage/s3.js';
import { startRecordingProxy, startStallingProxy } from '../helpers/bad-servers.js';
import { makeClip, REPO_ROOT, runCli, tempDir, VIDPIPE_BIN } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { decodeFrames, downloadPrefix, hlsReferences, keysUnder, putFile, S3_ENV } from '../helpers/s3-package.js';

const exec = promisify(execFile);
const FAST = ['--ladder', '90p', '--preset', 'ultrafast', '--concurrency', '2', '--no-thumbnails'];

async function sha256Of(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** makeClip into a folder that may not exist yet. */
async function clipAt(file: string, options: Parameters<typeof makeClip>[1]): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  return makeClip(file, options);
}

function jsonLines(stdout: string): any[] {
  return stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
}

describe('publishing, end to end', { timeout: 900_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-publish-e2e-'));
    env = { VIDPIPE_DB: path.join(dir, 'meta.db'), VIDPIPE_WORK_DIR: path.join(dir, 'work') };
  });
  after(() => cleanup());

  it('the issue\'s repro: transcoding into the folder that holds the source deletes nothing, twice', async () => {
    // mkdir -p v/talk && ffmpeg -f lavfi -i testsrc2=size=320x180:duration=2 -pix_fmt yuv420p v/talk/talk.mp4
    //   && echo hi > v/talk/notes.txt && cd v && vidpipe transcode talk/talk.mp4 --out .
    const v = path.join(dir, 'v');
    await mkdir(path.join(v, 'talk'), { recursive: true });
    await exec('ffmpeg', ['-f', 'lavfi', '-i', 'testsrc2=size=320x180:duration=2', '-pix_fmt', 'yuv420p', path.join(v, 'talk', 'talk.mp4')]);
    await writeFile(path.join(v, 'talk', 'notes.txt'), 'hi\n');
    const before = { source: await sha256Of(path.join(v, 'talk', 'talk.mp4')), notes: await readFile(path.join(v, 'talk', 'notes.txt'), 'utf8') };
    for (const round of [1, 2]) {
      const run = await runCli(['transcode', 'talk/talk.mp4', '--out', '.'], { cwd: v, env });
      assert.equal(run.code, 0, `round ${round}: ${run.stderr}`);
      assert.equal(await sha256Of(path.join(v, 'talk', 'talk.mp4')), before.source, `round ${round}: the source is untouched`);
      assert.equal(await readFile(path.join(v, 'talk', 'notes.txt'), 'utf8'), before.notes, `round ${round}: notes.txt is untouched`);
      assert.equal(await decodeFrames(path.join(v, 'talk', 'master.m3u8')), 50, `round ${round}: 2 s at 25 fps`);
    }
    const names = (await readdir(path.join(v, 'talk'))).sort();
    assert.equal(names.filter((name) => /^j[0-9a-z]+$/.test(name)).length, 1, `one release after the republish: ${names.join(' ')}`);
    assert.deepEqual(names.filter((name) => !/^j[0-9a-z]+$/.test(name)), ['manifest.mpd', 'master.m3u8', 'notes.txt', 'talk.mp4', 'vidpipe-record.json']);
  });

  it('two inputs with one name get two packages, the same ones in either order, and show points at each', async () => {
    const batch = path.join(dir, 'batch');
    const a = await clipAt(path.join(batch, 'a', 'clip.mp4'), { durationSeconds: 2, width: 160, height: 90 });
    const b = await clipAt(path.join(batch, 'b', 'clip.mp4'), { durationSeconds: 3, width: 160, height: 90 });
    const hexB = (await sha256Of(b)).slice(0, 8);
    const out = path.join(batch, 'out');
    const first = await runCli(['transcode', a, b, '--out', out, '--json', ...FAST], { env });
    assert.equal(first.code, 0, first.stderr);
    const [ra, rb] = jsonLines(first.stdout);
    assert.deepEqual([ra.status, rb.status], ['succeeded', 'succeeded']);
    assert.deepEqual([ra.package.name, rb.package.name], ['clip', `clip-${hexB}`]);
    assert.match(rb.package.note, /"clip" holds another video/);
    assert.equal(rb.outputs.hls, path.join(out, `clip-${hexB}`, 'master.m3u8'));
    assert.equal(await decodeFrames(ra.outputs.hls), 60, 'a: 2 s at 30 fps');
    assert.equal(await decodeFrames(rb.outputs.hls), 90, 'b: 3 s at 30 fps');
    for (const result of [ra, rb]) {
      const show = await runCli(['show', result.id, '--json'], { env });
      assert.equal(show.code, 0, show.stderr);
      assert.equal(JSON.parse(show.stdout).readyJob.outputs.hls, result.outputs.hls, 'vidpipe show points at the package written');
    }

    const again = await runCli(['transcode', b, a, '--out', out, ...FAST], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`package: clip-${hexB} \\("clip" holds another video`), 'the human output names the package');
    assert.deepEqual((await readdir(out)).sort(), ['clip', `clip-${hexB}`], 'no third package');
    assert.equal(await decodeFrames(path.join(out, 'clip', 'master.m3u8')), 60);
    assert.equal(await decodeFrames(path.join(out, `clip-${hexB}`, 'master.m3u8')), 90);
  });

  it('an entry name taken by a file vidpipe did not write stops with exit 2 before any encode', async () => {
    const source = await clipAt(path.join(dir, 'taken', 'talk.mp4'), { durationSeconds: 2, width: 160, height: 90 });
    const mine = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmy/own.m3u8\n';
    await mkdir(path.join(dir, 'taken', 'out', 'talk'), { recursive: true });
    await writeFile(path.join(dir, 'taken', 'out', 'talk', 'master.m3u8'), mine);
    const run = await runCli(['transcode', source, '--out', path.join(dir, 'taken', 'out'), '--progress', 'plain', ...FAST], { env });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /out\/talk\/master\.m3u8 is already there and vidpipe did not write it/);
    assert.doesNotMatch(run.stderr, /Encode video: started/, 'refused before encoding');
    assert.equal(await readFile(path.join(dir, 'taken', 'out', 'talk', 'master.m3u8'), 'utf8'), mine);
    assert.deepEqual(await readdir(path.join(dir, 'taken', 'out', 'talk')), ['master.m3u8']);
  });

  it('a read-only --out fails before the encode with a clear message', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to run vidpipe as another user (root writes anywhere)');
      return;
    }
    // The unprivileged user must reach node and the checkout (a clone under a 0700 mktemp folder cannot).
    const reachable = await exec('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(VIDPIPE_BIN)}, require('fs').constants.R_OK)`]).then(() => true, () => false);
    if (!reachable) {
      t.skip(`an unprivileged user cannot read ${VIDPIPE_BIN} or run ${process.execPath} (a parent folder is private)`);
      return;
    }
    const base = path.join(dir, 'readonly');
    await mkdir(path.join(base, 'out'), { recursive: true });
    await mkdir(path.join(base, 'state'), { recursive: true });
    const source = await clipAt(path.join(base, 'talk.mp4'), { durationSeconds: 2, width: 160, height: 90 });
    for (const folder of [dir, base]) await chmod(folder, 0o755);
    await chmod(path.join(base, 'out'), 0o555);
    await chmod(path.join(base, 'state'), 0o777);
    await chmod(source, 0o644);
    const args = [VIDPIPE_BIN, 'transcode', source, '--out', path.join(base, 'out'), '--progress', 'plain', ...FAST];
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, CI: '', HOME: path.join(base, 'state'), VIDPIPE_DB: path.join(base, 'state', 'meta.db'), VIDPIPE_WORK_DIR: path.join(base, 'state', 'work') },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (data) => (stderr += data));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /cannot publish to \S+\/out\/talk: \S+\/out is not writable/);
    assert.doesNotMatch(run.stderr, /Encode video: started/, 'refused before encoding');
    assert.deepEqual(await readdir(path.join(base, 'out')), []);
  });

  describe('on S3 (s3rver)', () => {
    let s3: S3TestServer;
    let client: S3Client;
    let clip: string;

    before(async () => {
      s3 = await startS3Server({ buckets: ['inbox', 'vod'] });
      client = createS3Client(s3.clientOptions());
      clip = await clipAt(path.join(dir, 's3', 'clip.mp4'), { durationSeconds: 2, width: 160, height: 90 });
    });
    after(async () => {
      client.destroy();
      await s3.stop();
    });

    it('watch: uploads whose keys map to one name get one package each', async () => {
      const clips: Record<string, { file: string; frames: number }> = {};
      for (const [i, key] of ['coll/intro.mp4', 'coll/intro.mov', 'coll/x/y.mp4', 'coll/x-y.mp4'].entries()) {
        const file = await clipAt(path.join(dir, 'watch', `c${i}${path.extname(key)}`), { durationSeconds: 1 + i, width: 160, height: 90 });
        await putFile(client, 'inbox', key, file);
        clips[key] = { file, frames: 30 * (1 + i) };
      }
      const run = await runCli(['watch', 's3://inbox/coll/', '--out', 's3://vod/w/', '--s3-endpoint', s3.endpoint, '--once', '--interval', '0.5', '--json', '--progress', 'none', ...FAST], {
        env: { ...env, ...S3_ENV },
      });
      assert.equal(run.code, 0, run.stderr);
      const lines = jsonLines(run.stdout);
      assert.equal(lines.length, 4, run.stdout);
      const byBase = new Map<string, string[]>();
      for (const line of lines) {
        assert.equal(line.watchStatus, 'done', JSON.stringify(line));
        const base = line.key.includes('intro') ? 'intro' : 'x-y';
        const hex = (await sha256Of(clips[line.key]!.file)).slice(0, 8);
        assert.ok([base, `${base}-${hex}`].includes(line.package.name), `${line.key} → ${line.package.name}`);
        byBase.set(base, [...(byBase.get(base) ?? []), line.package.name]);
        const local = path.join(dir, 'watch-fetched', line.package.name);
        await downloadPrefix(client, 'vod', `w/${line.package.name}/`, local);
        assert.equal(await decodeFrames(path.join(local, 'master.m3u8')), clips[line.key]!.frames, `${line.package.name} holds ${line.key}`);
      }
      for (const [base, names] of byBase) assert.equal(new Set(names).size, 2, `${base}: two packages, ${names.join(', ')}`);
    });

    it('a stalled server ends the publish within --s3-timeout, or at SIGTERM, with the previous package intact', async () => {
      const proxy = await startStallingProxy(Number(new URL(s3.endpoint).port));
      try {
        const args = ['transcode', clip, '--out', 's3://vod/stall/', '--s3-endpoint', proxy.endpoint, '--json', '--progress', 'none', ...FAST];
        const first = await runCli(args, { env: { ...env, ...S3_ENV } });
        assert.equal(first.code, 0, first.stderr);
        const master = await readTextObject(client, 'vod', 'stall/clip/master.m3u8');
        const intact = async () => {
          assert.equal(await readTextObject(client, 'vod', 'stall/clip/master.m3u8'), master, 'the entry playlist is the first run\'s');
          const keys = await keysUnder(client, 'vod', 'stall/clip/');
          for (const key of await hlsReferences(client, 'vod', 'stall/clip/')) assert.ok(keys.includes(key), `${key} present`);
        };

        // SIGTERM while uploads hang: every request in flight is aborted at once.
        proxy.stallOn(/^PUT \/vod\/stall\/clip\/j\w+\/video\//);
        const child = spawn(process.execPath, [VIDPIPE_BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, CI: '', ...env, ...S3_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (data) => (stderr += data));
        const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
        let signalledAt = 0;
        const deadline = Date.now() + 120_000;
        while (!proxy.stalled && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        if (proxy.stalled) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          signalledAt = Date.now();
          child.kill('SIGTERM');
        }
        const stopped = { code: await exited, stderr };
        const afterSignal = Date.now() - signalledAt;
        assert.ok(signalledAt > 0, `never stalled:\n${stopped.stderr}`);
        assert.equal(stopped.code, 130, stopped.stderr);
        assert.ok(afterSignal < 8000, `exited ${afterSignal} ms after SIGTERM`);
        await intact();
      } finally {
        await proxy.close();
      }

      const proxy2 = await startStallingProxy(Number(new URL(s3.endpoint).port));
      try {
        // No signal: the stalled upload is given up after --s3-timeout.
        proxy2.stallOn(/^PUT \/vod\/stall\/clip\/j\w+\/video\//);
        let stalledAt = 0;
        const timer = setInterval(() => proxy2.stalled && stalledAt === 0 && (stalledAt = Date.now()), 20);
        const run = await runCli(['transcode', clip, '--out', 's3://vod/stall/', '--s3-endpoint', proxy2.endpoint, '--s3-timeout', '3', '--json', '--progress', 'none', ...FAST], { env: { ...env, ...S3_ENV } });
        clearInterval(timer);
        const afterStall = Date.now() - stalledAt;
        assert.equal(run.code, 1, run.stderr);
        const result = JSON.parse(run.stdout);
        assert.equal(result.error.code, 'STORAGE_FAILED');
        assert.match(result.error.message, /did not answer within|timed out/);
        assert.ok(stalledAt > 0 && afterStall < 9000, `exited ${afterStall} ms after the server stalled (bound: 3 s per operation)`);
        const master = await readTextObject(client, 'vod', 'stall/clip/master.m3u8');
        assert.match(master!, /^j\w+\/video\/h264-90p\/index\.m3u8$/m);
        assert.equal(await decodeFrames(await fetchEntry(client, dir, 'stall/clip/')), 60);
      } finally {
        await proxy2.close();
      }
    });

    it('uses the AWS profile\'s region and credentials and AWS_ENDPOINT_URL_S3, path-style', async () => {
      const proxy = await startRecordingProxy(Number(new URL(s3.endpoint).port));
      try {
        const config = path.join(dir, 'aws-config');
        const credentials = path.join(dir, 'aws-credentials');
        await writeFile(config, '[profile media]\nregion = eu-west-1\n');
        await writeFile(credentials, '[media]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n');
        const run = await runCli(['transcode', clip, '--out', 's3://vod/aws/', '--json', '--progress', 'none', ...FAST], {
          // A host name, not an IP: the SDK itself falls back to path-style for IP addresses.
          env: { ...env, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_PROFILE: 'media', AWS_ENDPOINT_URL_S3: `http://localhost:${proxy.port}` },
        });
        assert.equal(run.code, 0, run.stderr);
        assert.equal(JSON.parse(run.stdout).outputs.hls, 's3://vod/aws/clip/master.m3u8');
        assert.ok(proxy.requests.length > 5);
        for (const request of proxy.requests) {
          assert.match(request.url, /^\/vod\//, `${request.method} ${request.url} is path-style`);
          assert.equal(request.headers.host, `localhost:${proxy.port}`);
          assert.equal(request.headers['x-amz-checksum-crc32'], undefined, 'only required checksums on a non-AWS endpoint');
          assert.match(String(request.headers.authorization), /Credential=S3RVER\/\d{8}\/eu-west-1\/s3\/aws4_request/);
        }
        assert.equal(await decodeFrames(await fetchEntry(client, dir, 'aws/clip/')), 60);
      } finally {
        await proxy.close();
      }
    });
  });
});

async function fetchEntry(client: S3Client, dir: string, prefix: string): Promise<string> {
  const local = path.join(dir, 'fetched', prefix.replace(/\W+/g, '-'));
  await downloadPrefix(client, 'vod', prefix, local);
  return path.join(local, 'master.m3u8');
}
