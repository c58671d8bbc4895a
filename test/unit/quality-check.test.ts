import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { correctedCrf, MAX_CORRECTIONS, qualityPerCrf } from '../../src/ladder/quality-check.js';
import { qualityNote } from '../../src/ladder/report.js';
import type { ProbeResult } from '../../src/ladder/choose.js';

describe('the quality check of a constant-quality rung', () => {
  const base = { codec: 'h264' as const, crf: 26, target: 40, corrections: 0 };

  it('keeps a rung that met the target', () => {
    assert.equal(correctedCrf({ ...base, measured: 40 }), undefined);
    assert.equal(correctedCrf({ ...base, measured: 41.2 }), undefined);
  });

  it('lowers the CRF of a miss by the shortfall plus the margin over the probes\' slope, at least one step', () => {
    assert.equal(correctedCrf({ ...base, measured: 39.9, qualityPerCrf: 0.6 }), 25); // (0.1 + 0.5) / 0.6 = 1
    assert.equal(correctedCrf({ ...base, measured: 38.5, qualityPerCrf: 0.5 }), 22); // 4 steps
    assert.equal(correctedCrf({ ...base, measured: 39.99, qualityPerCrf: 5 }), 25, 'at least one step');
    assert.equal(correctedCrf({ ...base, measured: 30, qualityPerCrf: 0.5 }), 18, 'at most 8 steps at once');
    assert.equal(correctedCrf({ ...base, crf: 0.5, measured: 39 }), 0, 'never below 0');
    assert.equal(correctedCrf({ ...base, codec: 'av1', crf: 35, measured: 39.6, qualityPerCrf: 0.35 }), 32, 'AV1 takes whole CRFs, rounded towards quality');
  });

  it('stops after its corrections, or at CRF 0', () => {
    assert.equal(correctedCrf({ ...base, measured: 39, corrections: MAX_CORRECTIONS }), undefined);
    assert.equal(correctedCrf({ ...base, crf: 0, measured: 39 }), undefined);
  });

  it('takes the slope from the size\'s own probes', () => {
    const probe = (size: number, crf: number, psnr: number) => ({ codec: 'h264', size, crf, psnr, kbps: 100, ssim: 0.9, displayPsnr: psnr, vmaf: null }) as unknown as ProbeResult;
    const probes = [probe(360, 22, 44), probe(360, 32, 38), probe(234, 22, 46), probe(234, 32, 41)];
    const rendition = { codec: 'h264', size: 360 } as never;
    assert.ok(Math.abs(qualityPerCrf(probes, rendition, 'psnr')! - 0.6) < 1e-9);
    assert.equal(qualityPerCrf([probes[0]!], rendition, 'psnr'), undefined);
  });

  it('reports a miss as missed, never as met', () => {
    const check = { id: 'h264-360p', metric: 'psnr' as const, target: 40, crf: 22, chosenCrf: 26, corrections: 2, path: '' };
    assert.equal(qualityNote({ ...check, measured: 39.61, met: false }), 'target 40 dB missed: PSNR 39.61 dB after 2 re-encodes (CRF 26 → 22)');
    assert.equal(qualityNote({ ...check, measured: 40.3, met: true, corrections: 1 }), 'target 40 dB met after 1 re-encode (CRF 26 → 22): PSNR 40.30 dB');
  });
});
