import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchEncoderPsnr, parseEncoderPsnr, reportsPsnr } from '../../src/ffmpeg/encoder-psnr.js';
import { mseOfPsnr, pooledPsnr } from '../../src/metrics/quality.js';
import { buildChunkEncodeArgs } from '../../src/ffmpeg/args/video.js';
import { chunksToCorrect } from '../../src/ladder/quality-check.js';

// What ffmpeg 5.1 prints at level+info for two x264 outputs with psnr=1 (trimmed).
const STDERR = `[libx264 @ 0x5648] [warning] --psnr used with psy on: results will be invalid!
[libx264 @ 0x5648] [info] profile High, level 3.1, 4:2:0, 8-bit
[libx264 @ 0x5648] [info] frame I:2     Avg QP:18.43  size: 14504  PSNR Mean Y:40.22 U:40.50 V:40.53 Avg:40.31 Global:40.14
[libx264 @ 0x5648] [info] frame P:45    Avg QP:26.94  size:  5945  PSNR Mean Y:38.23 U:38.18 V:38.16 Avg:38.21 Global:38.20
[libx264 @ 0x5648] [info] PSNR Mean Y:37.815 U:37.801 V:37.643 Avg:37.782 Global:37.751 kb/s:1044.85
[libx264 @ 0x98c0] [info] frame I:2     Avg QP:17.67  size:  5409  PSNR Mean Y:42.05 U:41.91 V:40.96 Avg:41.82 Global:41.71
[libx264 @ 0x98c0] [info] PSNR Mean Y:inf U:inf V:inf Avg:inf Global:inf kb/s:195.74
[libx264 @ 0x98c0] [info] kb/s:195.74
`;

describe('PSNR reported by the encoder (x264 psnr=1)', () => {
  it('reads each encoder\'s closing Global PSNR and rate in order, not the per-frame-type lines; inf is 100 dB', () => {
    assert.deepEqual(parseEncoderPsnr(STDERR), [{ psnr: 37.751, kbps: 1044.85 }, { psnr: 100, kbps: 195.74 }]);
    assert.deepEqual(parseEncoderPsnr('[libx264 @ 0x1] [info] kb/s:100.00\n'), []);
  });

  it('matches reports to outputs only when the count and every rate agree (within the uncounted SEI and 2 %)', () => {
    const reports = parseEncoderPsnr(STDERR);
    // 4 s: 1044.85 kb/s is 522 425 bytes; the second 97 870 bytes.
    assert.deepEqual(matchEncoderPsnr(reports, [{ bytes: 523_100, seconds: 4 }, { bytes: 98_500, seconds: 4 }]), [37.751, 100]);
    assert.equal(matchEncoderPsnr(reports, [{ bytes: 98_500, seconds: 4 }, { bytes: 523_100, seconds: 4 }]), undefined, 'swapped outputs');
    assert.equal(matchEncoderPsnr(reports, [{ bytes: 523_100, seconds: 4 }]), undefined, 'a report too many');
    assert.equal(matchEncoderPsnr([], []), undefined);
  });

  it('pools by frames over the error, not the decibels', () => {
    const pooled = pooledPsnr([{ psnr: 40, frames: 100 }, { psnr: 30, frames: 100 }]);
    assert.ok(Math.abs(pooled - 10 * Math.log10((255 * 255) / ((mseOfPsnr(40) + mseOfPsnr(30)) / 2))) < 1e-9);
    assert.ok(pooled < 35, `${pooled}: the worse half weighs more`);
    assert.equal(pooledPsnr([{ psnr: 42, frames: 0 }]), 100);
  });

  it('is asked of x264 on constant-quality renditions only, with the log level that prints it', () => {
    const encoder = { name: 'libx264', preset: 'veryfast', threads: 'share-cores' } as const;
    const rendition = { codec: 'h264', width: 640, height: 360, bitrateKbps: 800, maxrateKbps: 1600, bufsizeKbps: 3200, profile: 'high', level: '4.0', encoder } as const;
    const args = (crf?: number) =>
      buildChunkEncodeArgs({ source: '/in.mp4', streamIndex: 0, frameRate: { num: 30, den: 1 }, chunk: { index: 0, startFrame: 0, endFrame: 60, prerollFrame: 0 }, gopFrames: 60, deinterlace: false, outputs: [{ rendition: { ...rendition, ...(crf === undefined ? {} : { crf }) }, path: '/o.mp4' }] });
    assert.equal(reportsPsnr({ crf: 26, encoder }), true);
    assert.equal(reportsPsnr({ encoder }), false);
    assert.equal(reportsPsnr({ crf: 30, encoder: { ...encoder, name: 'libx265' } }), false);
    assert.match(args(26).join(' '), /-loglevel level\+info .*-x264-params \S*:psnr=1/);
    assert.doesNotMatch(args().join(' '), /psnr=1/);
    assert.match(args().join(' '), /-loglevel level\+warning/);
  });
});

describe('a quality correction chunk by chunk', () => {
  const chunks = (...psnrs: number[]) => psnrs.map((psnr) => ({ frames: 100, psnr }));

  it('re-encodes only the chunks that hold most of the error for a near miss', () => {
    // Pooled ~39.8 dB against an aim of 40.5: the 38 dB chunk holds most of the error.
    const plan = chunksToCorrect(chunks(41, 38, 41.5, 41), 40.5, 2, 0.6);
    assert.deepEqual(plan.indices, [1]);
    const kept = 10 ** (-(0.6 * plan.step) / 10);
    const after = pooledPsnr(chunks(41, 38, 41.5, 41).map((c, i) => (i === 1 ? { frames: 100, psnr: 10 * Math.log10((255 * 255) / (mseOfPsnr(c.psnr) * kept)) } : c)));
    assert.ok(after >= 40.5 - 1e-9, `predicted ${after}`);
  });

  it('takes every chunk when their PSNR is unknown, or when no subset is enough', () => {
    assert.deepEqual(chunksToCorrect([{ frames: 100, psnr: 39 }, { frames: 100 }], 40.5, 3, 0.5).indices, [0, 1]);
    assert.deepEqual(chunksToCorrect(chunks(35, 35, 35), 40.5, 2, 0.5), { indices: [0, 1, 2], step: 2 });
  });

  it('leaves chunks without frames out', () => {
    assert.deepEqual(chunksToCorrect([{ frames: 100, psnr: 39 }, { frames: 0 }], 40.5, 8, 0.5).indices, [0]);
  });
});
