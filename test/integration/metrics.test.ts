import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import type { TranscodeResult } from '../../src/core/result.js';
import { readPackageSummary, type PackageSummary } from '../../src/core/package-summary.js';
import { withMetadata } from '../../src/db/engines.js';
import { measureVideo } from '../../src/metrics/for-video.js';
import { loadReport } from '../../src/report/from-database.js';
import { reportFromPackage } from '../../src/report/model.js';
import { resolveBinaries } from '../../src/ffmpeg/binaries.js';

/** Published renditions as the database has them (read in-process: spawning the CLI is slow on a busy machine). */
const storedRenditions = async () => (await withMetadata(db, (x) => x.getVideo(result.id))).renditions;

let dir: string;
let cleanup: () => Promise<void>;
let db: string;
let result: TranscodeResult;

// Two rungs far apart in bits per pixel, so the expected order of their quality is not in doubt.
const LADDER = '180p:400,144p:60';

before(async () => {
  ({ dir, cleanup } = await tempDir('vidpipe-metrics-'));
  db = join(dir, 'db.sqlite');
  await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 6, audio: false });
  await makeClip(join(dir, 'other.mp4'), { durationSeconds: 6, audio: false, width: 320, height: 180, rate: '25' });
  const run = await runCli([
    'transcode', join(dir, 'clip.mp4'), '--out', join(dir, 'out'), '--db', db, '--ladder', LADDER, '--segment-duration', '2',
    '--preset', 'superfast', '--no-thumbnails', '--metrics', '--json', '--progress', 'none',
  ]);
  assert.equal(run.code, 0, run.stderr);
  result = JSON.parse(run.stdout) as TranscodeResult;
});

after(async () => cleanup?.());

test('--metrics measures every video rendition against the source, frame by frame', (t) => {
  const [high, low] = ['h264-180p', 'h264-144p'].map((name) => result.renditions.find((r) => r.name === name)!);
  for (const r of [high!, low!]) {
    const q = r.quality!;
    assert.ok(q, `${r.name} has metrics`);
    assert.equal(q.frames, 180, 'all 6 s × 30 fps compared');
    assert.ok(q.psnr > 20 && q.psnr < 60, `${r.name} PSNR ${q.psnr}`);
    assert.ok(q.psnrMin <= q.psnr && q.ssimMin <= q.ssim);
    assert.ok(q.ssim > 0.5 && q.ssim < 1, `${r.name} SSIM ${q.ssim}`);
    assert.equal(q.vmaf, null);
    assert.match(q.vmafNote!, /libvmaf/);
    assert.equal(q.reference, `source scaled to ${r.width}x${r.height} at 30 fps`);
  }
  for (const r of [high!, low!]) t.diagnostic(`${r.name}: ${Math.round(r.averageBitrate / 1000)} kb/s, PSNR ${r.quality!.psnr} dB (min ${r.quality!.psnrMin}), SSIM ${r.quality!.ssim}`);
  // A lower rung (fewer pixels, far fewer bits) must measure worse on the same content.
  assert.ok(high!.quality!.psnr > low!.quality!.psnr + 1, `PSNR 180p ${high!.quality!.psnr} vs 144p ${low!.quality!.psnr}`);
  assert.ok(high!.quality!.ssim > low!.quality!.ssim, `SSIM 180p ${high!.quality!.ssim} vs 144p ${low!.quality!.ssim}`);
});

test('the metrics are stored with the renditions and shown by `vidpipe show`', async () => {
  const show = await runCli(['show', result.id, '--db', db]);
  assert.equal(show.code, 0, show.stderr);
  const row = show.stdout.split('\n').find((line) => line.trim().startsWith('h264-180p'))!;
  assert.ok(row.includes(result.renditions[0]!.quality!.psnr.toFixed(2)), row);
  assert.deepEqual((await storedRenditions())[0]!.properties.quality, result.renditions[0]!.quality);
});

test('the package carries vidpipe.json with the result, the metrics and the task timeline', async () => {
  const summary = JSON.parse(await readFile(join(result.outputs.root!, 'vidpipe.json'), 'utf8')) as PackageSummary;
  assert.equal(summary.result.id, result.id);
  assert.deepEqual(summary.result.renditions.map((r) => r.quality?.psnr), result.renditions.map((r) => r.quality?.psnr));
  const metrics = summary.tasks.find((t) => t.id === 'metrics')!;
  const manifests = summary.tasks.find((t) => t.id === 'manifests')!;
  assert.equal(metrics.status, 'succeeded');
  assert.ok(Date.parse(metrics.startedAt!) >= Date.parse(manifests.finishedAt!), 'metrics run after packaging');
  for (const task of summary.tasks.filter((t) => t.id.startsWith('encode-'))) {
    assert.ok(Date.parse(task.finishedAt!) > Date.parse(task.startedAt!), task.id);
    assert.match(task.worker!, /:\d+$/);
  }
});

test('`vidpipe metrics <id>` re-measures after the fact and stores the same numbers', async () => {
  const sqlite = new Database(db);
  sqlite.prepare("UPDATE renditions SET properties = '{}' WHERE job_id = ?").run(result.jobId);
  sqlite.close();
  assert.equal((await storedRenditions())[0]!.properties.quality, undefined);

  const run = await runCli(['metrics', result.id.slice(0, 8), '--db', db]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /h264-144p\s+\d+\.\d\d/);
  assert.match(run.stdout, /VMAF: n\/a/);
  // Same files, same source, same filters: the numbers are reproduced exactly.
  const stored = await storedRenditions();
  for (const r of result.renditions.filter((x) => x.kind === 'video')) {
    const quality = stored.find((x) => x.name === r.name)!.properties.quality as { psnr: number; ssim: number; frames: number };
    assert.equal(quality.psnr, r.quality!.psnr, r.name);
    assert.equal(quality.ssim, r.quality!.ssim, r.name);
    assert.equal(quality.frames, 180, r.name);
  }
});

test('`vidpipe metrics` refuses a source that is not the transcoded file', async () => {
  const run = await runCli(['metrics', result.id, '--db', db, '--source', join(dir, 'other.mp4')]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /SHA-256 differs/);
  const binaries = await resolveBinaries({}, process.env);
  await assert.rejects(measureVideo({ db, id: result.id, binaries, source: join(dir, 'gone.mp4') }), (e: Error & { code?: string }) => e.code === 'INPUT_NOT_FOUND' && /is not there/.test(e.message));
});

test('`vidpipe report --html` writes one self-contained page; the package alone gives the same report', async () => {
  const html = join(dir, 'report.html');
  const run = await runCli(['report', result.id, '--db', db, '--html', html]);
  assert.equal(run.code, 0, run.stderr);
  const page = await readFile(html, 'utf8');
  assert.doesNotMatch(page, /<script|<link|src=|url\(/i);
  assert.equal((page.match(/class="vp-point"/g) ?? []).length, 4);
  assert.ok(page.includes(result.renditions[1]!.quality!.psnr.toFixed(2)));
  assert.ok((page.match(/class="vp-task"/g) ?? []).length >= 8, 'the task timeline');
  const fromDb = await loadReport(db, result.id);
  const fromPackage = reportFromPackage((await readPackageSummary(result.outputs.root!))!);
  assert.deepEqual(fromPackage.renditions.map((r) => [r.name, r.averageBitrate, r.sizeBytes, r.quality?.psnr]), fromDb.renditions.map((r) => [r.name, r.averageBitrate, r.sizeBytes, r.quality?.psnr]));
});
