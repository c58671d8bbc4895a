/**
 * `--ladder auto` as a job runs it (runJob: the graph with its analysis and rise nodes, real
 * ffmpeg, real SQLite) on tiny generated sources of different complexity. Everything asserted
 * is measured from the output: the packaged segments' rates, and PSNR of each rendition against
 * the source (--metrics), not the analysis's own prediction.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/media.js';
import { CONTENT_KINDS, makeContent, type ContentKind } from '../helpers/content.js';
import { runJob } from '../../src/job/run-job.js';
import { openMetadata } from '../../src/db/engines.js';
import type { TranscodeResult } from '../../src/core/result.js';
import { loadReport } from '../../src/report/from-database.js';
import { renderReportDocument } from '../../src/report/html.js';
import { DEFAULT_SETTINGS, type JobSettings } from '../../src/settings/job-settings.js';

const binaries = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' } as const;

let dir: string;
let cleanup: () => Promise<void>;
const auto = new Map<ContentKind, TranscodeResult>();

async function transcode(source: string, name: string, settings: Partial<JobSettings>): Promise<TranscodeResult> {
  const result = await runJob({
    input: source,
    out: join(dir, 'out'),
    name,
    settings: { ...DEFAULT_SETTINGS, concurrency: 2, segmentDurationSeconds: 2, thumbnails: false, ...settings },
    binaries,
    dbPath: join(dir, 'vidpipe.db'),
    workRoot: join(dir, 'work'),
  });
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  return result;
}

const video = (result: TranscodeResult, codec = 'h264') => result.renditions.filter((r) => r.kind === 'video' && r.codec === codec);
const signature = (result: TranscodeResult) => result.ladder!.rungs.map((r) => `${r.name}:${r.status}:${r.mode}:${r.crf ?? r.targetKbps}`).join(' ');

before(async () => {
  ({ dir, cleanup } = await tempDir('vidpipe-per-title-'));
  // One source after the other: each analysis already runs two ffmpeg processes. 640x360 has
  // two of the table's sizes (360p, 234p); the moving source also gets HEVC rungs.
  for (const kind of CONTENT_KINDS) {
    const source = await makeContent(join(dir, `${kind}.mp4`), kind, { width: 640, height: 360, durationSeconds: 3 });
    auto.set(kind, await transcode(source, kind, { rungs: 'auto', metrics: true, codecs: kind === 'moving' ? ['h264', 'hevc'] : ['h264'] }));
  }
});

after(() => cleanup?.());

describe('--ladder auto on sources of different complexity', () => {
  it('gives the three sources different ladders, spending more where the content needs more', () => {
    const [slides, moving, noisy] = CONTENT_KINDS.map((kind) => auto.get(kind)!);
    assert.equal(new Set([slides!, moving!, noisy!].map(signature)).size, 3, [slides!, moving!, noisy!].map(signature).join('\n'));
    const top = (r: TranscodeResult) => video(r)[0]!.averageBitrate;
    assert.ok(top(slides!) * 4 < top(moving!), `slides ${top(slides!)} vs moving ${top(moving!)}`);
    assert.ok(top(moving!) < top(noisy!), `moving ${top(moving!)} vs noisy ${top(noisy!)}`);
    // Slides need a fraction of the table's 730 kb/s at 360p; grain more than the table gives (VBR at the cap).
    assert.equal(slides!.ladder!.rungs[0]!.mode, 'crf');
    assert.equal(noisy!.ladder!.rungs[0]!.mode, 'cap');
    // Grain stops the analysis after the top size: the table's rates, said on every rung, and no smaller size probed.
    assert.ok(noisy!.ladder!.rungs.filter((r) => r.status === 'packaged').every((r) => r.mode === 'cap' && /^at the table's rate: the top size reaches PSNR/.test(r.reason ?? '')), JSON.stringify(noisy!.ladder!.rungs));
    assert.deepEqual([...new Set(noisy!.ladder!.probes!.map((p) => p.size))], [360]);
    assert.ok(slides!.ladder!.probes!.some((p) => p.size === 234), 'easy content goes on to the smaller sizes');
    assert.ok(video(noisy!)[0]!.averageBitrate > 600_000 && video(noisy!)[0]!.averageBitrate < 730_000 * 1.15, String(video(noisy!)[0]!.averageBitrate));
  });

  it('writes ladders whose measured rates (peak and average) rise with resolution, per codec', () => {
    for (const [kind, result] of auto) {
      for (const codec of kind === 'moving' ? ['h264', 'hevc'] : ['h264']) {
        const rungs = video(result, codec);
        assert.ok(rungs.length >= 1, `${kind} ${codec}`);
        for (let i = 1; i < rungs.length; i++) {
          assert.ok(rungs[i - 1]!.height! > rungs[i]!.height!, `${kind}: ordered by size`);
          assert.ok(rungs[i - 1]!.peakBitrate > rungs[i]!.peakBitrate && rungs[i - 1]!.averageBitrate > rungs[i]!.averageBitrate, `${kind} ${codec}: ${rungs.map((r) => `${r.name} ${r.averageBitrate}/${r.peakBitrate}`).join(', ')}`);
        }
      }
    }
  });

  it('meets the quality target on every constant-quality rung, measured from the package (capped rungs: the cap holds)', () => {
    for (const [kind, result] of auto) {
      const ladder = result.ladder!;
      assert.equal(ladder.method, 'auto');
      assert.equal(ladder.metric, 'psnr', 'Debian\'s ffmpeg has no libvmaf');
      assert.equal(ladder.target, 40);
      for (const rung of ladder.rungs.filter((r) => r.status === 'packaged')) {
        const output = result.renditions.find((r) => r.name === rung.name)!;
        assert.ok(output.quality, `${kind} ${rung.name} measured`);
        if (rung.mode === 'crf') {
          assert.ok(output.quality.psnr >= ladder.target!, `${kind} ${rung.name}: ${output.quality.psnr} dB < ${ladder.target} (predicted ${rung.predicted?.psnr})`);
        } else {
          // A size probed before an early exit has a prediction; the ones it stopped before have the table's rate and say why.
          if (rung.predicted) assert.ok(rung.predicted.psnr < ladder.target!, `${kind} ${rung.name} capped though predicted ${rung.predicted.psnr}`);
          else assert.match(rung.reason ?? '', /at the table's rate: the top size reaches PSNR/, `${kind} ${rung.name}`);
          assert.ok(output.averageBitrate <= rung.targetKbps * 1000 * 1.15, `${kind} ${rung.name}: ${output.averageBitrate} b/s over the cap ${rung.targetKbps} kb/s`);
        }
      }
    }
  });

  it('gives each codec its own rates, from its own probes', () => {
    const moving = auto.get('moving')!;
    const rung = (codec: string) => moving.ladder!.rungs.find((r) => r.codec === codec && r.size === 360 && r.status === 'packaged')!;
    const output = (codec: string) => moving.renditions.find((r) => r.name === rung(codec).name)!;
    for (const codec of ['h264', 'hevc']) {
      assert.equal(rung(codec).mode, 'crf');
      assert.ok(moving.ladder!.probes!.filter((p) => p.codec === codec && p.size === 360).length >= 2, codec);
      assert.ok(output(codec).quality!.psnr >= 40, `${codec}: ${output(codec).quality!.psnr}`);
    }
    // HEVC reaches the same target with fewer bits.
    assert.ok(output('hevc').averageBitrate < output('h264').averageBitrate, `hevc ${output('hevc').averageBitrate} vs h264 ${output('h264').averageBitrate}`);
  });

  it('records predicted and measured quality per rung in SQLite, shown by the HTML report', async () => {
    const slides = auto.get('slides')!;
    const db = await openMetadata(join(dir, 'vidpipe.db'));
    try {
      const stored = (await db.getVideo(slides.id)).ladder!;
      assert.deepEqual(stored, slides.ladder);
      const packaged = stored.rungs.filter((r) => r.status === 'packaged');
      assert.ok(packaged.every((r) => r.predicted && r.measured?.quality && r.measured.averageKbps > 0), JSON.stringify(packaged));
    } finally {
      await db.close();
    }
    const html = renderReportDocument(await loadReport(join(dir, 'vidpipe.db'), slides.id));
    assert.match(html, /<h2>Ladder choice<\/h2>/);
    assert.match(html, /crf 2\d/);
    assert.match(html, /h264-360p chosen/);
  });
});

describe('the rise check on a fixed ladder', () => {
  it('drops a rung that measured above the rung over it: not packaged, not in the playlists', async () => {
    const source = await makeContent(join(dir, 'moving-fixed.mp4'), 'moving', { width: 640, height: 360, durationSeconds: 4 });
    // 288p asks for four times 360p's rate: VBR on clean moving content hits both targets.
    const result = await transcode(source, 'fixed', { rungs: [{ size: 360, kbps: 250 }, { size: 288, kbps: 1000 }, { size: 180, kbps: 100 }] });
    assert.deepEqual(video(result).map((r) => r.name), ['h264-360p', 'h264-180p']);
    const dropped = result.ladder!.rungs.find((r) => r.name === 'h264-288p')!;
    assert.equal(result.ladder!.method, 'fixed');
    assert.equal(dropped.status, 'dropped');
    assert.match(dropped.reason!, /not below h264-360p/);
    assert.ok(dropped.measured!.averageKbps > result.ladder!.rungs[0]!.measured!.averageKbps);
    const root = result.outputs.root!;
    assert.deepEqual((await readdir(join(root, 'video'))).sort(), ['h264-180p', 'h264-360p']);
    assert.doesNotMatch(await readFile(join(dir, 'out', 'fixed', 'master.m3u8'), 'utf8').then(async (master) => master + (await readFile(join(dir, 'out', 'fixed', 'manifest.mpd'), 'utf8'))), /288p|512x288/);
  });
});
