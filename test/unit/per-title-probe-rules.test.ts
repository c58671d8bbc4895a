/**
 * The rules that decide what the per-title analysis probes next (src/ladder/probe-rules.ts): the
 * early exit on complex content, the CRF a smaller size is probed at first, the stopping rule
 * (one probe within tolerance of the aim is enough), the second CRF after a miss, the modelled
 * second point, and the table ladder an early exit gives.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildLadder } from '../../src/core/ladder.js';
import type { VideoStreamInfo } from '../../src/ffmpeg/probe.js';
import { chooseLadder, DEFAULT_CHOICE, tableLadder, type ProbeResult } from '../../src/ladder/choose.js';
import { curveFitted, firstCrf, FIT_TOLERANCE, modelledPoint, secondCrf, slopesOf, tableRatesNeeded, topSecondCrf } from '../../src/ladder/probe-rules.js';

const probe = (size: number, crf: number, kbps: number, psnr: number, extra: Partial<ProbeResult> = {}): ProbeResult => ({
  codec: 'h264', size, width: Math.round((size * 16) / 9), height: size, crf, kbps, psnr, ssim: 0.95, displayPsnr: psnr, vmaf: null, ...extra,
});

// The top size (1080p, table rate 6000 kb/s) of heavy grain: 12 Mb/s (capped at twice the table) reaches 34 dB.
const grain = [probe(1080, 22, 12000, 34), probe(1080, 32, 4000, 29.5)];
// Clean moving content: 40 dB at ~1800 kb/s.
const clean = [probe(1080, 22, 5000, 45), probe(1080, 32, 1800, 40)];
const aim = 40.5;

describe('the top size\'s second probe', () => {
  it('goes where the first one\'s quality says the aim lies, within 0.4–1.6 of the probe spacing', () => {
    // testsrc2 at CRF 22: 44.3 dB, 3.8 dB over the aim at ~0.5 dB a step: 29.6.
    assert.equal(topSecondCrf(probe(1080, 22, 5000, 44.3), aim, 'psnr', [22, 32]), 29.6);
    // Slides, far over: at most 16 steps on. Close to or under the aim: at least 4.
    assert.equal(topSecondCrf(probe(1080, 22, 400, 55), aim, 'psnr', [22, 32]), 38);
    assert.equal(topSecondCrf(probe(1080, 22, 9000, 39), aim, 'psnr', [22, 32]), 26);
    // SVT-AV1's wider scale, in whole steps.
    assert.equal(topSecondCrf({ ...probe(1080, 30, 3000, 44.3), codec: 'av1' }, aim, 'psnr', [30, 44]), 41);
  });
});

describe('early exit: content that needs the table rates', () => {
  it('stops on grain: the top size stays far under the aim at the table rate', () => {
    const why = tableRatesNeeded(grain, 6000, aim, 'psnr');
    assert.ok(why, 'grain should stop the analysis');
    assert.match(why, /reaches PSNR 3\d\.\d dB at the table's 6000 kb\/s/);
  });

  it('decides on the lowest CRF\'s probe alone only when it is above the table rate and still far under the aim', () => {
    // Grain at CRF 22: 16.7 Mb/s, 32.6 dB: at 6 Mb/s it can only be worse.
    assert.match(tableRatesNeeded([probe(1080, 22, 16_700, 32.6)], 6000, aim, 'psnr')!, /reaches PSNR 32\.6 dB at 16700 kb\/s \(CRF 22\), above the table's 6000 kb\/s/);
    // Under the table rate, one point says nothing of the rate at the cap; near the aim, nothing at all.
    assert.equal(tableRatesNeeded([probe(1080, 22, 5000, 32.6)], 6000, aim, 'psnr'), undefined);
    assert.equal(tableRatesNeeded([probe(1080, 22, 16_700, 38)], 6000, aim, 'psnr'), undefined);
  });

  it('goes on for content that reaches the aim under the table rate, or nearly does', () => {
    assert.equal(tableRatesNeeded(clean, 6000, aim, 'psnr'), undefined);
    // 2 dB short at the cap: the smaller rungs may still save, keep probing.
    assert.equal(tableRatesNeeded([probe(1080, 22, 12000, 40.5), probe(1080, 32, 3000, 36.5)], 6000, aim, 'psnr'), undefined);
  });

  it('reads the curve at the cap, not at the probes: the same probes with a higher table rate go on', () => {
    assert.ok(tableRatesNeeded(grain, 6000, aim, 'psnr'));
    assert.equal(tableRatesNeeded([probe(1080, 22, 12000, 38), probe(1080, 32, 4000, 33)], 12000, aim, 'psnr'), undefined);
    assert.ok(tableRatesNeeded([probe(1080, 22, 12000, 38), probe(1080, 32, 4000, 33)], 4000, aim, 'psnr'));
  });

  it('judges VMAF targets on VMAF', () => {
    const vmaf = [probe(1080, 22, 12000, 30, { vmaf: 70 }), probe(1080, 32, 4000, 27, { vmaf: 55 })];
    assert.match(tableRatesNeeded(vmaf, 6000, 93.5, 'vmaf') ?? '', /VMAF/);
    assert.equal(tableRatesNeeded([probe(1080, 22, 5000, 44, { vmaf: 96 }), probe(1080, 32, 1800, 39, { vmaf: 90 })], 6000, 93.5, 'vmaf'), undefined);
  });

  it('gives the table ladder: every candidate VBR at its table rate, predicted only where probed', () => {
    const video: VideoStreamInfo = {
      index: 0, codec: 'h264', width: 1920, height: 1080, displayWidth: 1920, displayHeight: 1080, rotation: 0,
      sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: { num: 16, den: 9 }, bitDepth: 8, startSeconds: 0, isAttachedPicture: false,
    };
    const candidates = buildLadder(video, { codecs: ['h264'], frameRate: { num: 25, den: 1 }, preset: 'medium', av1Encoder: 'libsvtav1' });
    const rungs = tableLadder(candidates, grain, 4500);
    assert.equal(rungs.length, candidates.length);
    for (const [i, rung] of rungs.entries()) {
      assert.equal(rung.mode, 'cap');
      assert.equal(rung.rendition.crf, undefined);
      assert.equal(rung.rendition.bitrateKbps, Math.min(candidates[i]!.bitrateKbps, 4500), rung.rendition.id);
      assert.ok(rung.rendition.maxrateKbps <= 4500);
      assert.equal(rung.predicted !== undefined, candidates[i]!.size === 1080, rung.rendition.id);
    }
  });
});

describe('the curve-fit stopping rule', () => {
  it('probes a smaller size first where the top curve meets the aim, within the probes\' range', () => {
    // 40.5 dB lies a tenth of the way from 40 (CRF 32) to 45 dB (CRF 22) in quality: CRF 31.
    assert.equal(firstCrf(clean, aim, 'psnr', 'h264', [22, 32]), 31);
    // Slides: the aim lies far beyond the cheapest probe, kept within half a step of the range.
    assert.equal(firstCrf([probe(1080, 22, 300, 52), probe(1080, 32, 120, 47)], aim, 'psnr', 'h264', [22, 32]), 37);
    assert.equal(firstCrf(clean, aim, 'psnr', 'av1', [30, 44]) % 1, 0, 'SVT-AV1 takes whole CRFs');
  });

  it('stops after one probe within the tolerance of the aim, not otherwise', () => {
    assert.equal(curveFitted(probe(540, 31, 600, aim + 0.9), aim, 'psnr'), true);
    assert.equal(curveFitted(probe(540, 31, 600, aim - FIT_TOLERANCE.psnr), aim, 'psnr'), true);
    assert.equal(curveFitted(probe(540, 31, 600, aim + 1.3), aim, 'psnr'), false);
    assert.equal(curveFitted(probe(540, 31, 600, aim - 2), aim, 'psnr'), false);
  });

  it('counts a probe as fitted when the aim lies between it and its modelled point, along the top\'s slope', () => {
    const slopes = slopesOf(clean)!; // 0.5 dB a CRF step: 5 steps reach 2.5 dB
    assert.equal(curveFitted(probe(540, 31, 600, aim - 2.4), aim, 'psnr', slopes), true);
    assert.equal(curveFitted(probe(540, 31, 600, aim + 2.5), aim, 'psnr', slopes), true);
    assert.equal(curveFitted(probe(540, 31, 600, aim - 2.6), aim, 'psnr', slopes), false);
    assert.equal(curveFitted(probe(540, 31, 600, aim - 2.4), aim, 'psnr'), false, 'without slopes: the tolerance alone');
    // A flat top curve (0.1 dB a step) reaches only 0.5 dB: the tolerance still holds.
    const flat = slopesOf([probe(1080, 22, 5000, 41), probe(1080, 32, 1800, 40)])!;
    assert.equal(curveFitted(probe(540, 31, 600, aim + 0.9), aim, 'psnr', flat), true);
    assert.equal(curveFitted(probe(540, 31, 600, aim + 1.2), aim, 'psnr', flat), false);
  });

  it('after a miss, probes a second CRF on the other side of the aim', () => {
    const slopes = slopesOf(clean)!;
    assert.ok(Math.abs(slopes.psnrPerCrf + 0.5) < 1e-9);
    // 3 dB over the aim at 0.5 dB a step: 6 steps up, and a fifth more, to land past the aim.
    const above = secondCrf(probe(540, 31, 600, aim + 3), aim, 'psnr', slopes);
    assert.equal(above, 38.2);
    const below = secondCrf(probe(540, 31, 600, aim - 2), aim, 'psnr', slopes);
    assert.equal(below, 26.2);
    // At least two steps away, within the encoder's range.
    assert.equal(secondCrf(probe(540, 31, 600, aim + 1.1), aim, 'psnr', slopes), 33.6);
    assert.equal(secondCrf(probe(540, 50, 60, aim + 30), aim, 'psnr', slopes), 51);
  });

  it('models a fitted size\'s second point from the top\'s slopes, away from the aim', () => {
    const slopes = slopesOf(clean)!;
    const measured = probe(540, 31, 700, 41, { displayPsnr: 38, ssim: 0.97 });
    const point = modelledPoint(measured, slopes, aim, 'psnr');
    assert.equal(point.modelled, true);
    assert.equal(point.crf, 36, 'over the aim: the modelled point is cheaper');
    assert.ok(Math.abs(point.psnr - 38.5) < 1e-6, String(point.psnr));
    assert.ok(Math.abs(point.kbps - 700 * (1800 / 5000) ** 0.5) < 0.1, String(point.kbps));
    assert.ok(point.displayPsnr < 38 && point.displayPsnr < point.psnr, 'the resolution loss stays');
    assert.equal(modelledPoint(probe(540, 31, 700, 40), slopes, aim, 'psnr').crf, 26, 'under the aim: the modelled point is dearer');
  });

  it('lets the choice read a fitted size from its one probe and the modelled point', () => {
    const slopes = slopesOf(clean)!;
    const small = probe(540, 31, 700, 41);
    const probes = [...clean, small, modelledPoint(small, slopes, aim, 'psnr')];
    const candidates = [1080, 540].map((size) => ({
      id: `h264-${size}p`, codec: 'h264' as const, size, width: Math.round((size * 16) / 9), height: size, bitrateKbps: size === 1080 ? 6000 : 2000,
      maxrateKbps: size === 1080 ? 6600 : 2200, bufsizeKbps: size === 1080 ? 12000 : 4000, profile: 'high', level: '4.0', encoder: { name: 'libx264', args: [] },
    }));
    const choice = chooseLadder(candidates as never, probes, { ...DEFAULT_CHOICE, metric: 'psnr', target: 40 });
    const rung = choice.rungs.find((r) => r.rendition.size === 540)!;
    assert.equal(rung.mode, 'crf');
    // 0.5 dB under the measured point at 0.5 dB a CRF step (the top's slope): CRF 32, and a lower rate than the probe's.
    assert.ok(Math.abs(rung.rendition.crf! - 32) <= 0.15, String(rung.rendition.crf));
    assert.ok(rung.rendition.bitrateKbps < 700 && rung.rendition.bitrateKbps > 550, String(rung.rendition.bitrateKbps));
  });
});
