/**
 * `vidpipe transcode --ladder auto` as a user runs it (the real binary), checked by `vidpipe
 * validate` and by an independent HLS parser: BANDWIDTH rises with resolution, and `show`
 * tells how the ladder was chosen. The source is a 960x540 slide deck with audio: four of the
 * table's sizes are candidates, and still pictures need a fraction of the table's rates.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import HLS from 'hls-parser';
import { runCli, tempDir } from '../helpers/media.js';
import { ffmpeg } from '../helpers/media-tools.js';
import { makeContent } from '../helpers/content.js';

describe('transcode --ladder auto (end to end)', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-per-title-e2e-'));
    const picture = await makeContent(join(dir, 'slides-video.mp4'), 'slides', { width: 960, height: 540, durationSeconds: 4 });
    source = join(dir, 'slides.mp4');
    await ffmpeg(['-i', picture, '-f', 'lavfi', '-i', 'sine=frequency=440:duration=4', '-map', '0:v', '-map', '1:a', '-c:v', 'copy', '-c:a', 'aac', '-shortest', source]);
  });
  after(async () => cleanup());

  it('writes a package that validates, with BANDWIDTH rising with resolution and rates far under the table', async () => {
    const db = join(dir, 'vidpipe.db');
    const run = await runCli(['transcode', source, '--ladder', 'auto', '--quality-target', '40', '-o', join(dir, 'out'), '--db', db, '--work-dir', join(dir, 'work'), '--json', '--concurrency', '2']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.ladder.method, 'auto');

    const check = await runCli(['validate', join(dir, 'out', 'slides')]);
    assert.equal(check.code, 0, check.stdout + check.stderr);

    const master = HLS.parse(await readFile(join(dir, 'out', 'slides', 'master.m3u8'), 'utf8')) as any;
    const variants = master.variants.filter((v: any) => !v.isIFrameOnly).sort((a: any, b: any) => b.resolution.height - a.resolution.height);
    assert.ok(variants.length >= 2, `${variants.length} variants`);
    for (let i = 1; i < variants.length; i++) {
      assert.ok(variants[i - 1].bandwidth > variants[i].bandwidth, variants.map((v: any) => `${v.resolution.height}p ${v.bandwidth}`).join(', '));
    }
    // The table gives 540p 2000 kb/s; a slide deck at 40 dB needs a small part of it (audio is ~130 kb/s of BANDWIDTH).
    assert.ok(variants[0].bandwidth < 1_000_000, String(variants[0].bandwidth));

    const show = await runCli(['show', result.id, '--db', db]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Ladder \(auto: PSNR target 40/);
    assert.match(show.stdout, /h264-540p\s+packaged\s+crf \d/);

    // The package's own report (what `serve` shows, from vidpipe.json): the curves and the chosen points.
    const html = join(dir, 'report.html');
    const report = await runCli(['report', join(dir, 'out', 'slides'), '--html', html]);
    assert.equal(report.code, 0, report.stderr);
    const page = await readFile(html, 'utf8');
    assert.match(page, /<h2>Ladder choice<\/h2>/);
    assert.match(page, /h264-540p chosen/);
    assert.match(page, /h264-540p-crf|crf 22/);
  });

  it('refuses a quality target outside the metric\'s range with exit 2, naming the option', async () => {
    const run = await runCli(['transcode', source, '--ladder', 'auto', '--quality-target', '93', '-o', join(dir, 'out-bad'), '--db', join(dir, 'bad.db'), '--work-dir', join(dir, 'work')]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--quality-target: 93 is outside 25–60 for PSNR/);
  });
});
