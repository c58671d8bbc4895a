import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildLadder, type Rendition } from '../../src/core/ladder.js';
import type { VideoCodec } from '../../src/settings/job-settings.js';
import { parseTranscodeOptions, parseUploadOverrides } from '../../src/settings/job-settings.js';
import type { VideoStreamInfo } from '../../src/ffmpeg/probe.js';
import { crfAt, fitCurve, qualityAt, rateFor } from '../../src/ladder/curve.js';
import { chooseLadder, DEFAULT_CHOICE, type ChoiceOptions, type ProbeResult } from '../../src/ladder/choose.js';
import { checkRise, segmentBytes } from '../../src/ladder/rise.js';
import { planSamples, sampleCount } from '../../src/ladder/sampling.js';
import { DEFAULT_QUALITY_TARGET, qualityTargetFor } from '../../src/settings/quality-target.js';

function video(displayWidth: number, displayHeight: number): VideoStreamInfo {
  return {
    index: 0, codec: 'h264', width: displayWidth, height: displayHeight, displayWidth, displayHeight, rotation: 0,
    sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: { num: 16, den: 9 }, bitDepth: 8, startSeconds: 0, isAttachedPicture: false,
  };
}
const fps25 = { num: 25, den: 1 };
const ladder = (codecs: VideoCodec[] = ['h264']) => buildLadder(video(1920, 1080), { codecs, frameRate: fps25, preset: 'medium', av1Encoder: 'libsvtav1' });

/**
 * Probes of a modelled content: at each size PSNR = base + 6 dB per doubling of rate from the
 * rate `kbps40` where the size reaches 40 dB; CRF 20/29/38 land at 4x, 1x and 1/4 of a reference.
 */
function probesFor(candidates: Rendition[], kbps40: (r: Rendition) => number, display: (r: Rendition, psnr: number) => number = (_r, q) => q): ProbeResult[] {
  return candidates.flatMap((r) =>
    [20, 29, 38].map((crf) => {
      const kbps = kbps40(r) * 2 ** ((29 - crf) / 4.5);
      const psnr = 40 + 6 * Math.log2(kbps / kbps40(r));
      return { codec: r.codec, size: r.size, width: r.width, height: r.height, crf, kbps, psnr, ssim: 0.99, displayPsnr: display(r, psnr), vmaf: null };
    }),
  );
}
const options: ChoiceOptions = { ...DEFAULT_CHOICE, metric: 'psnr', target: 40 };
const pixels = (r: Rendition) => r.width * r.height;
const near = (actual: number | undefined, expected: number, what = '') => assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-6, `${what} ${actual} ≠ ${expected}`);

describe('rate–quality curve', () => {
  const curve = fitCurve([
    { crf: 38, kbps: 100, quality: 36 },
    { crf: 20, kbps: 1600, quality: 48 },
    { crf: 29, kbps: 400, quality: 42 },
  ]);
  it('interpolates quality and CRF linearly in log rate', () => {
    near(qualityAt(curve, 200), 39);
    near(rateFor(curve, 39), 200);
    assert.ok(Math.abs(crfAt(curve, 200) - 33.5) < 1e-9);
  });
  it('follows the end slopes for at most a doubling, and says when the content needs more', () => {
    near(qualityAt(curve, 3200), 51);
    near(qualityAt(curve, 100_000), 51);
    assert.ok(Math.abs(rateFor(curve, 50)! - 1600 * 2 ** (2 / 3)) < 1e-6);
    assert.equal(rateFor(curve, 52), undefined);
    near(rateFor(curve, 30), 50);
  });
  it('treats a lower quality at a higher rate as noise (never non-monotonic)', () => {
    const noisy = fitCurve([{ crf: 38, kbps: 100, quality: 40 }, { crf: 29, kbps: 400, quality: 39 }, { crf: 20, kbps: 1600, quality: 44 }]);
    assert.deepEqual(noisy.points.map((p) => p.quality), [40, 40, 44]);
    assert.equal(rateFor(noisy, 40), 100);
  });
});

describe('chooseLadder', () => {
  it('gives each size the lowest rate that reaches target + margin, as capped CRF under the table rate', () => {
    const candidates = ladder();
    // Rates at 40 dB well apart: 4x per size step (like detailed content).
    const need = (r: Rendition) => 1000 * (pixels(r) / (1920 * 1080));
    const choice = chooseLadder(candidates, probesFor(candidates, need), options);
    const top = choice.rungs[0]!;
    assert.equal(top.rendition.id, 'h264-1080p');
    assert.equal(top.mode, 'crf');
    assert.ok(Math.abs(top.rendition.bitrateKbps - 1000 * 2 ** (0.5 / 6)) < 1, String(top.rendition.bitrateKbps));
    assert.ok(top.predicted!.psnr >= 40.5 - 0.01);
    assert.ok(top.rendition.crf! > 20 && top.rendition.crf! < 38);
    assert.equal(top.rendition.maxrateKbps, 6600, 'the cap stays the table rate');
    for (const r of choice.rungs) assert.ok(r.predicted!.psnr >= 40.49, `${r.rendition.id} ${r.predicted!.psnr}`);
  });

  it('caps a size whose content needs more than the table rate (VBR at the cap, like the fixed ladder)', () => {
    const candidates = ladder();
    // Grain: every size needs 3x its table rate; upscaled, each smaller size shows visibly less.
    const display = (r: Rendition, q: number) => q - (1080 - r.size) / 100;
    const choice = chooseLadder(candidates, probesFor(candidates, (r) => r.bitrateKbps * 3, display), options);
    assert.deepEqual(choice.rungs.map((r) => [r.rendition.id, r.mode, r.rendition.bitrateKbps, r.rendition.crf]), candidates.map((r) => [r.id, 'cap', r.bitrateKbps, undefined]));
    assert.ok(choice.rungs[0]!.predicted!.psnr < 40);
  });

  it('honours the ceiling on every rung', () => {
    const candidates = ladder();
    const choice = chooseLadder(candidates, probesFor(candidates, (r) => r.bitrateKbps), { ...options, maxBitrateKbps: 2500 });
    assert.ok(choice.rungs.every((r) => r.rendition.bitrateKbps <= 2500 && r.rendition.maxrateKbps <= 2500), JSON.stringify(choice.rungs.map((r) => r.rendition)));
    assert.equal(choice.rungs[0]!.mode, 'cap');
  });

  it('drops rungs closer than 1.5x in rate, keeps the floor, and rises strictly with resolution', () => {
    const candidates = ladder();
    // Slide-like: every size needs about the same rate (key frames of text), lower sizes barely less.
    const choice = chooseLadder(candidates, probesFor(candidates, (r) => 80 * (pixels(r) / (1920 * 1080)) ** 0.2), options);
    const rates = choice.rungs.map((r) => r.rendition.bitrateKbps);
    for (let i = 1; i < rates.length; i++) assert.ok(rates[i - 1]! >= rates[i]! * 1.5, rates.join(' '));
    assert.equal(choice.rungs.at(-1)!.rendition.id, 'h264-234p', 'the smallest size stays as the floor');
    assert.ok(choice.dropped.length >= 3);
    assert.match(choice.dropped[0]!.reason, /within 1.5x/);
  });

  it('drops a lower size that needs no fewer bits than the size above it', () => {
    const candidates = ladder();
    const choice = chooseLadder(candidates, probesFor(candidates, (r) => (r.size === 720 ? 700 : 500 * (pixels(r) / (1920 * 1080)))), options);
    const dropped = choice.dropped.find((d) => d.id === 'h264-720p');
    assert.ok(dropped, JSON.stringify(choice.dropped));
    assert.match(dropped.reason, /needs no fewer bits than h264-1080p/);
  });

  it('drops a bigger rung that shows no more at the display size (an upscaled source)', () => {
    const candidates = ladder();
    // The 1080p source is 720p upscaled: 1080p and 720p look the same on screen.
    const display = (r: Rendition, q: number) => (r.size >= 720 ? q - 2 : q - 2 - (720 - r.size) / 40);
    const choice = chooseLadder(candidates, probesFor(candidates, (r) => 1000 * (pixels(r) / (1920 * 1080)), display), options);
    assert.equal(choice.rungs[0]!.rendition.id, 'h264-720p');
    assert.match(choice.dropped.find((d) => d.id === 'h264-1080p')!.reason, /at the display size/);
  });

  it('reports gaps wider than 2x', () => {
    const candidates = ladder();
    const choice = chooseLadder(candidates, probesFor(candidates, (r) => 1000 * (pixels(r) / (1920 * 1080)) ** 1.5), options);
    assert.ok(choice.gaps.length > 0 && choice.gaps.every((g) => g.ratio > 2));
  });

  it('keeps the CRF within the encoder\'s range on content easier than every probe', () => {
    const candidates = buildLadder(video(1920, 1080), { codecs: ['av1'], frameRate: fps25, preset: 'medium', av1Encoder: 'libsvtav1' });
    // Probes at AV1 CRF 30/44 land far above the target: the curve is followed down to CRF ~70.
    const probes = candidates.flatMap((r) => [30, 44].map((crf) => ({ codec: r.codec, size: r.size, width: r.width, height: r.height, crf, kbps: 100 * 2 ** ((44 - crf) / 7), psnr: 50 + (44 - crf) / 2, ssim: 0.99, displayPsnr: 45, vmaf: null })));
    const choice = chooseLadder(candidates, probes, options);
    const top = choice.rungs[0]!;
    assert.equal(top.mode, 'crf');
    assert.ok(top.rendition.crf! > 44 && top.rendition.crf! <= 63, String(top.rendition.crf));
    assert.ok(choice.rungs.every((r) => r.rendition.crf === undefined || r.rendition.crf <= 63));
  });

  it('chooses each codec from its own probes', () => {
    const candidates = ladder(['h264', 'hevc']);
    const need = (r: Rendition) => (r.codec === 'hevc' ? 0.6 : 1) * 1500 * (pixels(r) / (1920 * 1080));
    const choice = chooseLadder(candidates, probesFor(candidates, need), options);
    const h264 = choice.rungs.filter((r) => r.rendition.codec === 'h264');
    const hevc = choice.rungs.filter((r) => r.rendition.codec === 'hevc');
    assert.ok(h264.length >= 2 && hevc.length >= 2);
    assert.ok(Math.abs(hevc[0]!.rendition.bitrateKbps / h264[0]!.rendition.bitrateKbps - 0.6) < 0.01);
  });

  it('with VMAF, the top rung meets the VMAF target and lower rungs its own-size PSNR', () => {
    const candidates = ladder();
    const probes = probesFor(candidates, (r) => 1000 * (pixels(r) / (1920 * 1080))).map((p) => ({ ...p, vmaf: 93 + (p.psnr - 42) * 2 }));
    const choice = chooseLadder(candidates, probes, { ...options, metric: 'vmaf', target: 93, margin: 1 });
    assert.ok(Math.abs(choice.rungs[0]!.predicted!.vmaf! - 94) < 0.01);
    // VMAF 94 is PSNR 42.5 here: every lower rung aims at that.
    for (const r of choice.rungs.slice(1)) assert.ok(Math.abs(r.predicted!.psnr - 42.5) < 0.05, `${r.rendition.id} ${r.predicted!.psnr}`);
  });
});

describe('checkRise (after the encodes)', () => {
  const rung = (id: string, size: number, peakKbps: number, averageKbps = peakKbps, codec: VideoCodec = 'h264') => ({ id, codec, size, peakKbps, averageKbps });
  it('drops a rung that measured at or above the rung kept over it (issue 15: 1080p 291 kb/s, 720p 543)', () => {
    const check = checkRise([rung('h264-1080p', 1080, 291), rung('h264-720p', 720, 543), rung('h264-540p', 540, 291), rung('h264-360p', 360, 110)]);
    assert.deepEqual(check.kept, ['h264-1080p', 'h264-360p']);
    assert.deepEqual(check.dropped.map((d) => d.id), ['h264-720p', 'h264-540p']);
    assert.match(check.dropped[0]!.reason, /543 kb\/s \(peak\), not below h264-1080p's 291/);
  });
  it('needs both the peak and the average below the rung over it', () => {
    const check = checkRise([rung('a', 720, 1000, 500), rung('b', 540, 900, 600)]);
    assert.deepEqual(check.kept, ['a']);
    assert.match(check.dropped[0]!.reason, /average/);
  });
  it('judges each codec on its own and keeps every ordered ladder whole', () => {
    const check = checkRise([rung('h264-720p', 720, 3000), rung('h264-360p', 360, 700), rung('hevc-540p', 540, 2500, 2500, 'hevc')]);
    assert.deepEqual(check.kept, ['h264-720p', 'h264-360p', 'hevc-540p']);
    assert.deepEqual(check.dropped, []);
  });
  it('adds packet bytes up per segment of the package grid', () => {
    // 25 fps, 2-frame segments: frames 0,1 | 2,3 | 4.
    assert.deepEqual(segmentBytes('0.000000,100\n0.040000,10\n0.080000,200\n0.119999,20\n0.160000,5\n\n', 25, 2), [110, 220, 5]);
  });
});

describe('planSamples', () => {
  it('probes the whole of a short title', () => {
    assert.deepEqual(planSamples(150, 50, 25), [{ index: 0, startFrame: 0, endFrame: 150, prerollFrame: 0 }]);
  });
  it('spreads whole-GOP samples over a longer title, on the key-frame grid', () => {
    // 20 s: two samples (under a minute); 80 s: three.
    assert.deepEqual(planSamples(500, 50, 25).map((s) => [s.startFrame, s.endFrame, s.prerollFrame]), [[100, 150, 75], [350, 400, 325]]);
    assert.deepEqual(planSamples(2000, 50, 25).map((s) => [s.startFrame, s.endFrame, s.prerollFrame]), [[300, 350, 275], [1000, 1050, 975], [1650, 1700, 1625]]);
    assert.equal(sampleCount(20), 2);
    assert.equal(sampleCount(60), 3);
    assert.equal(sampleCount(3600), 8);
    const hour = planSamples(90_000, 50, 25);
    assert.equal(hour.length, 8);
    assert.ok(hour.every((s) => s.startFrame % 50 === 0 && s.endFrame <= 90_000));
  });
  it('starts a sample on a source key frame within half a GOP, seeking straight to it (no preroll)', () => {
    // Source key frames every 2 s, each counted from the grid frame after it (sourceKeyFrames).
    const keys = Array.from({ length: 10 }, (_, i) => i * 50 + 1);
    assert.deepEqual(planSamples(500, 50, 25, {}, keys).map((s) => [s.startFrame, s.endFrame, s.prerollFrame]), [[101, 151, 101], [351, 401, 351]]);
    // Key frames too far from where a sample goes (or too late for a whole sample): on the grid, with the preroll.
    assert.deepEqual(planSamples(500, 50, 25, {}, [140, 480]).map((s) => [s.startFrame, s.prerollFrame]), [[100, 75], [350, 325]]);
    // The first sample at the start stays there.
    assert.equal(planSamples(500, 50, 25, { count: 8 }, keys)[0]!.startFrame, 0);
  });
});

describe('per-title settings (option table entries)', () => {
  it('reads --ladder auto, --quality-target and --max-bitrate from the command line, with defaults per metric', () => {
    const { settings } = parseTranscodeOptions({ ladder: 'AUTO', qualityTarget: '42', maxBitrate: '4500' });
    assert.equal(settings.rungs, 'auto');
    assert.equal(settings.qualityTarget, 42);
    assert.equal(settings.maxBitrateKbps, 4500);
    const defaults = parseTranscodeOptions({}).settings;
    assert.equal(defaults.qualityTarget, undefined);
    assert.equal(qualityTargetFor('psnr', defaults.qualityTarget), DEFAULT_QUALITY_TARGET.psnr);
    assert.equal(qualityTargetFor('vmaf', undefined), 93);
  });
  it('takes the same settings from a watch sidecar or object metadata', () => {
    const sidecar = parseUploadOverrides({ ladder: 'auto', qualityTarget: 41, 'max-bitrate': 3000 }, 'a.vidpipe.json');
    assert.deepEqual(sidecar.settings, { rungs: 'auto', qualityTarget: 41, maxBitrateKbps: 3000 });
    const metadata = parseUploadOverrides({ ladder: 'auto', 'quality-target': '38.5' }, 'metadata of s3://b/k');
    assert.deepEqual(metadata.settings, { rungs: 'auto', qualityTarget: 38.5 });
  });
  it('refuses values a user must correct (exit 2)', () => {
    assert.throws(() => parseTranscodeOptions({ qualityTarget: 'high' }), (e: Error & { code?: string }) => e.code === 'USAGE' && /--quality-target/.test(e.message));
    assert.throws(() => parseTranscodeOptions({ maxBitrate: '-1' }), /--max-bitrate/);
    assert.throws(() => qualityTargetFor('psnr', 93), /outside 25–60 for PSNR/);
  });
});
