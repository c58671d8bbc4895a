import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { ffmpeg } from '../helpers/media-tools.js';
import { makeVidpipePackage, type VidpipePackage } from '../helpers/validate-package.js';
import { protectPackage, uuidOf } from '../helpers/protect-package.js';
import { main } from '../../src/cli/index.js';

interface JsonReport {
  ok: boolean;
  checks: { id: string; status: 'pass' | 'fail' | 'skip'; message: string; manifest?: string }[];
}

/**
 * The CLI in this process (same parsing, handlers and exit-code mapping as bin/vidpipe), for the
 * cases where a spawned process adds only start-up time; the main cases spawn the real binary.
 */
async function runInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
  const code = await main(args, { stdout: (t) => void (stdout += line(t)), stderr: (t) => void (stderr += line(t)), stderrIsTTY: false, env: process.env });
  return { code, stdout, stderr };
}

const byStatus = (report: JsonReport, status: string) => report.checks.filter((check) => check.status === status).map((check) => check.id);

/** Plain ffmpeg HLS, the reference's single-process ladder: two H.264 rungs and one AAC rendition. */
async function ffmpegHls(source: string, out: string, segmentType: 'fmp4' | 'mpegts', copy = false): Promise<string> {
  await mkdir(out, { recursive: true });
  const ext = segmentType === 'fmp4' ? 'm4s' : 'ts';
  const hls = [
    '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod', '-hls_segment_type', segmentType,
    '-hls_segment_filename', join(out, `v%v/seg_%03d.${ext}`), '-master_pl_name', 'master.m3u8',
  ];
  if (copy) {
    await ffmpeg(['-i', source, '-map', '0:v', '-map', '0:a', '-c', 'copy', ...hls, '-var_stream_map', 'v:0,a:0', join(out, 'v%v/index.m3u8')]);
    return out;
  }
  await ffmpeg([
    '-i', source,
    '-filter_complex', '[0:v]split=2[a][b];[a]scale=-2:180[v0];[b]scale=-2:144[v1]',
    '-map', '[v0]', '-map', '[v1]', '-map', '0:a:0',
    '-c:v', 'libx264', '-preset', 'superfast', '-b:v:0', '300k', '-b:v:1', '150k', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '2', '-ar', '48000',
    ...hls, '-var_stream_map', 'v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud,default:yes,language:en', join(out, 'v%v/index.m3u8'),
  ]);
  return out;
}

describe('vidpipe validate (end to end)', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let pkg: VidpipePackage;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-validate-e2e-'));
    pkg = await makeVidpipePackage(dir);
  });
  after(async () => cleanup());

  it('exits 0 on a vidpipe package with --source, every HLS and DASH check passing', async () => {
    const run = await runCli(['validate', pkg.root, '--source', pkg.source, '--json']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const report = JSON.parse(run.stdout) as JsonReport;
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.filter((check) => check.status !== 'pass'), []);
    assert.deepEqual([...new Set(report.checks.map((check) => check.manifest))], ['master.m3u8', 'manifest.mpd']);
    for (const id of ['hls-codecs-bitstream', 'hls-bandwidth', 'hls-keyframe-grid', 'hls-duration-source', 'hls-iframe-ranges', 'dash-segments', 'dash-bandwidth']) {
      assert.ok(report.checks.some((check) => check.id === id), `${id} ran`);
    }
    const grid = report.checks.find((check) => check.id === 'hls-keyframe-grid')!;
    assert.match(grid.message, /GOP 2\.000 s/);
  });

  it('prints one line per check with ✔/✖/– and a summary in text mode', async () => {
    const run = await runInProcess(['validate', join(pkg.root, 'master.m3u8')]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const checkLines = run.stdout.split('\n').filter((line) => /^\s+[✔✖–] /.test(line));
    assert.ok(checkLines.length >= 25, `${checkLines.length} check lines`);
    // Without --source the one source comparison is skipped, and says why.
    assert.deepEqual(checkLines.filter((line) => !line.includes('✔')), [checkLines.find((line) => line.includes('hls-duration-source'))]);
    assert.match(run.stdout, /– hls-duration-source\s+no --source given/);
    assert.match(run.stdout, new RegExp(`valid: ${checkLines.length - 1} passed, 0 failed, 1 skipped`));
  });

  it('exits 1 on plain ffmpeg fMP4 HLS and names what it misses', async () => {
    const source = await makeClip(join(dir, 'plain.mp4'), { durationSeconds: 6 });
    const out = await ffmpegHls(source, join(dir, 'ffmpeg-fmp4'), 'fmp4');
    const run = await runCli(['validate', out, '--json']);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as JsonReport;
    const failedIds = byStatus(report, 'fail');
    for (const id of ['hls-frame-rate', 'hls-average-bandwidth', 'hls-iframe-playlists', 'hls-audio-groups']) assert.ok(failedIds.includes(id), `${id} fails (failed: ${failedIds})`);
    // What ffmpeg does get right is measured, not assumed.
    for (const id of ['hls-codecs-bitstream', 'hls-keyframe-segment-start', 'hls-keyframe-grid', 'hls-target-duration', 'hls-uris']) assert.ok(byStatus(report, 'pass').includes(id), `${id} passes`);
    assert.match(report.checks.find((c) => c.id === 'hls-audio-groups')!.message, /no CHANNELS/);
  });

  it('measures MPEG-TS segments through ffprobe and skips what does not apply to TS', async () => {
    const source = await makeClip(join(dir, 'plain-ts.mp4'), { durationSeconds: 6 });
    const out = await ffmpegHls(source, join(dir, 'ffmpeg-ts'), 'mpegts');
    const run = await runInProcess(['validate', out, '--json']);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as JsonReport;
    assert.ok(byStatus(report, 'skip').includes('hls-map'));
    for (const id of ['hls-codecs-bitstream', 'hls-resolution', 'hls-keyframe-segment-start', 'hls-keyframe-grid', 'hls-duration-media']) assert.ok(byStatus(report, 'pass').includes(id), `${id} passes on TS`);
    for (const id of ['hls-independent-segments', 'hls-iframe-playlists', 'hls-frame-rate']) assert.ok(byStatus(report, 'fail').includes(id), `${id} fails on TS`);
  });

  it('reports CODECS dropped by ffmpeg when it stream-copies H.264 from MP4', async () => {
    const source = await makeClip(join(dir, 'copy.mp4'), { durationSeconds: 4, videoArgs: ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-pix_fmt', 'yuv420p'] });
    const out = await ffmpegHls(source, join(dir, 'ffmpeg-copy'), 'fmp4', true);
    const run = await runInProcess(['validate', join(out, 'master.m3u8')]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /✖ hls-codecs\s+variant v0\/index\.m3u8: no CODECS/);
  });

  it('validates a package served over http, fetching every file it references', async () => {
    const server = createServer((request, response) => {
      const path = join(pkg.root, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
      readFile(path).then(
        (body) => response.writeHead(200).end(request.method === 'HEAD' ? undefined : body),
        () => response.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const manifest of ['master.m3u8', 'manifest.mpd']) {
        const run = await runInProcess(['validate', `http://127.0.0.1:${port}/${manifest}`, '--json']);
        assert.equal(run.code, 0, run.stdout + run.stderr);
        const report = JSON.parse(run.stdout) as JsonReport;
        assert.deepEqual(report.checks.filter((check) => check.status !== 'pass').map((check) => check.id), [manifest === 'master.m3u8' ? 'hls-duration-source' : 'dash-duration-source']);
      }
    } finally {
      server.close();
    }
  });

  it('checks every package of an output folder (transcode --out), each reported, exit status from the worst', async () => {
    const out = join(dir, 'out');
    const audio = await runCli(['transcode', pkg.source, '--out', out, '--name', 'tone', '--audio-only', '--audio-ladder', '64', '--db', join(dir, 'meta.db'), '--quiet']);
    assert.equal(audio.code, 0, audio.stderr);
    const run = await runCli(['validate', out, '--json']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const folder = JSON.parse(run.stdout) as { ok: boolean; packages: (JsonReport & { name: string; target: string })[] };
    assert.equal(folder.ok, true);
    assert.deepEqual(folder.packages.map((p) => p.name), ['pkg', 'tone']);
    for (const report of folder.packages) {
      assert.deepEqual([...new Set(report.checks.map((check) => check.manifest))], ['master.m3u8', 'manifest.mpd'], report.name);
      assert.deepEqual(byStatus(report, 'fail'), [], report.name);
    }

    const broken = join(dir, 'out-broken');
    await cp(out, broken, { recursive: true });
    const playlist = await readFile(join(broken, 'tone', 'master.m3u8'), 'utf8');
    const audioPlaylist = join(broken, 'tone', /^([^#\s].*\.m3u8)$/m.exec(playlist)![1]!);
    await rm(join(dirname(audioPlaylist), 'seg_00001.m4s'));
    const text = await runInProcess(['validate', broken]);
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stdout, /^pkg: .*out-broken\/pkg$/m);
    assert.match(text.stdout, /^tone: .*out-broken\/tone$/m);
    assert.match(text.stdout, /✖ hls-uris/);
    assert.match(text.stdout, /2 packages in .*out-broken: 1 valid, 1 INVALID \(tone\)\n$/);

    const withSource = await runInProcess(['validate', out, '--source', pkg.source]);
    assert.equal(withSource.code, 2);
    assert.match(withSource.stderr, /--source belongs to one package/);
  });

  it('exits 2 when the target does not exist or holds no manifest', async () => {
    const missing = await runInProcess(['validate', join(dir, 'nothing-here')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const none = await runInProcess(['validate', empty]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no multivariant playlist/);
  });

  it('--key KID:KEY decrypts each encrypted track and decodes it; a wrong key exits 1; the key is never printed', async () => {
    const root = join(dir, 'encrypted');
    await cp(pkg.root, root, { recursive: true });
    const release = join(root, (await readdir(root, { withFileTypes: true })).find((entry) => entry.isDirectory())!.name);
    const kid = Buffer.from('0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'hex');
    const key = Buffer.from('f0e1d2c3b4a5968778695a4b3c2d1e0f', 'hex');
    await protectPackage(root, release, 'cbcs', { kid, key });
    // The helper drops the I-frame playlists (their ranges point into clear segments): that check fails, the rest pass.
    const right = await runInProcess(['validate', root, '--key', `${uuidOf(kid)}:${key.toString('hex')}`]);
    assert.deepEqual(right.stdout.split('\n').filter((line) => /^\s+✖ /.test(line)).map((line) => line.trim().split(/\s+/)[1]), ['hls-iframe-playlists'], right.stdout);
    assert.match(right.stdout, /✔ decrypted-samples-decode\s+3 encrypted track\(s\)/);
    const wrongKey = 'ffeeddccbbaa99887766554433221100';
    const wrong = await runInProcess(['validate', root, '--json', '--key', `${kid.toString('hex')}:${wrongKey}`]);
    assert.equal(wrong.code, 1);
    const decodeChecks = (JSON.parse(wrong.stdout) as JsonReport).checks.filter((check) => check.id === 'decrypted-samples-decode');
    assert.deepEqual(decodeChecks.map((check) => check.status), ['fail', 'fail']);
    assert.match(decodeChecks[0]!.message, /does not decode/);
    assert.doesNotMatch(wrong.stdout + wrong.stderr, new RegExp(wrongKey));
    const none = await runInProcess(['validate', root]);
    assert.match(none.stdout, /– decrypted-samples-decode\s+3 encrypted track\(s\) not decrypted/);
    const bad = await runInProcess(['validate', root, '--key', 'not-a-key']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--key: a clear key is KID:KEY/);
  });
});
