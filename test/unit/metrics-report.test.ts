import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePsnrStats, parseSsimStats, parseVmafLog } from '../../src/metrics/quality.js';
import { assignLanes, renderReportDocument } from '../../src/report/html.js';
import type { ReportData } from '../../src/report/model.js';

test('PSNR is computed from the mean MSE over frames, as ffmpeg defines its average', () => {
  const stats = [
    'n:1 mse_avg:10.00 mse_y:12.00 mse_u:5.00 mse_v:6.00 psnr_avg:38.13 psnr_y:37.34 psnr_u:41.14 psnr_v:40.35 ',
    'n:2 mse_avg:30.00 mse_y:31.00 mse_u:25.00 mse_v:27.00 psnr_avg:33.36 psnr_y:33.22 psnr_u:34.15 psnr_v:33.82 ',
    '',
  ].join('\n');
  const result = parsePsnrStats(stats);
  assert.equal(result.frames, 2);
  assert.ok(Math.abs(result.psnr - 10 * Math.log10((255 * 255) / 20)) < 1e-9);
  assert.ok(Math.abs(result.psnrMin - 10 * Math.log10((255 * 255) / 30)) < 1e-9);
  assert.equal(parsePsnrStats('n:1 mse_avg:0.00 psnr_avg:inf\n').psnr, 100);
  assert.throws(() => parsePsnrStats(''), /no frames/);
});

test('SSIM is the mean of the per-frame "All" values', () => {
  const result = parseSsimStats('n:1 Y:0.90 U:0.95 V:0.96 All:0.920000 (10.9)\nn:2 Y:0.80 U:0.85 V:0.86 All:0.820000 (7.4)\n');
  assert.equal(result.frames, 2);
  assert.ok(Math.abs(result.ssim - 0.87) < 1e-12);
  assert.equal(result.ssimMin, 0.82);
  assert.equal(parseVmafLog(JSON.stringify({ pooled_metrics: { vmaf: { mean: 91.5 } } })), 91.5);
  assert.throws(() => parseVmafLog('{}'), /VMAF/);
});

test('timeline lanes: overlapping tasks never share a lane', () => {
  const tasks = [{ start: 0, end: 10 }, { start: 1, end: 5 }, { start: 5, end: 8 }, { start: 10, end: 12 }, { start: 2, end: 3 }];
  const lanes = assignLanes(tasks);
  assert.equal(Math.max(...lanes) + 1, 3);
  for (let i = 0; i < tasks.length; i++) {
    for (let j = i + 1; j < tasks.length; j++) {
      const overlap = tasks[i]!.start < tasks[j]!.end && tasks[j]!.start < tasks[i]!.end;
      if (overlap) assert.notEqual(lanes[i], lanes[j], `tasks ${i} and ${j} overlap`);
    }
  }
});

test('the HTML report is self-contained: every rendition, chart point and task, nothing fetched', () => {
  const quality = (psnr: number, ssim: number) => ({ psnr, psnrMin: psnr - 2, ssim, ssimMin: ssim - 0.02, vmaf: null, vmafNote: 'no libvmaf', frames: 60, reference: 'source scaled to 1x1 at 30 fps', measuredAt: '' });
  const video = (name: string, height: number, bits: number, q: ReturnType<typeof quality>) => ({
    name, kind: 'video' as const, codec: 'h264', codecs: 'avc1.64000d', width: (height * 16) / 9, height, frameRate: 30, channels: null,
    averageBitrate: bits, peakBitrate: bits * 1.1, targetBitrate: bits, sizeBytes: bits, segments: 3, quality: q,
  });
  const data: ReportData = {
    title: 'talk <1>', videoId: 'v1', jobId: 'j1', source: 'talk.mp4', kind: 'video', durationSeconds: 6, from: 'database', ladder: null,
    renditions: [video('h264-180p', 180, 400_000, quality(38, 0.97)), video('h264-144p', 144, 100_000, quality(31, 0.9))],
    tasks: [
      { id: 'encode-video-0', kind: 'encode-video', label: 'x', status: 'succeeded', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:02.000Z', worker: 'host:1' },
      { id: 'encode-video-1', kind: 'encode-video', label: 'x', status: 'succeeded', startedAt: '2026-01-01T00:00:00.500Z', finishedAt: '2026-01-01T00:00:03.000Z', worker: 'host:1' },
      { id: 'manifests', kind: 'manifests', label: 'x', status: 'succeeded', startedAt: '2026-01-01T00:00:03.000Z', finishedAt: '2026-01-01T00:00:03.100Z', worker: 'host:1' },
    ],
  };
  const html = renderReportDocument(data);
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script|<link|src=|href=|url\(/i, 'nothing external');
  assert.ok(html.includes('talk &lt;1&gt;'), 'titles are escaped');
  assert.equal((html.match(/class="vp-point"/g) ?? []).length, 4, 'one point per rendition in each of the two charts');
  assert.equal((html.match(/class="vp-task"/g) ?? []).length, 3);
  assert.match(html, /at most 2 ran at once/);
  assert.match(html, /38\.00/);
  assert.match(html, /VMAF not measured: no libvmaf/);
});
