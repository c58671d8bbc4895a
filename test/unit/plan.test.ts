import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseGopFrames, planJob as planJobWith, type JobPlan } from '../../src/core/plan.js';
import { DEFAULT_SETTINGS, type JobSettings } from '../../src/settings/job-settings.js';
import { parseRungs } from '../../src/settings/rungs.js';
import { parseProbe } from '../../src/ffmpeg/probe.js';

const settings: JobSettings = { ...DEFAULT_SETTINGS, concurrency: 2, audioSampleRate: 48000 };
const planJob = (probe: Parameters<typeof planJobWith>[0], with_: JobSettings): JobPlan => planJobWith(probe, with_, { av1Encoder: 'libsvtav1' });

function probeOf(streams: object[], duration = '60.0') {
  return parseProbe('/x.mp4', 1000, { streams: streams as never, format: { format_name: 'mov,mp4', duration, start_time: '0' } });
}
const h264 = (rate: string, duration: string) => ({ index: 0, codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, avg_frame_rate: rate, r_frame_rate: rate, duration, start_time: '0' });
const aac = (index: number, language?: string, isDefault = 0) => ({ index, codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000', tags: language ? { language } : {}, disposition: { default: isDefault } });

describe('planJob', () => {
  it('puts the grid on whole frames: 29.97 fps gives 60-frame GOPs and 180-frame segments', () => {
    const plan = planJob(probeOf([h264('30000/1001', '60.060'), aac(1)]), settings);
    const video = plan.video!;
    assert.equal(video.gopFrames, 60);
    assert.equal(video.segmentFrames, 180);
    assert.equal(video.totalFrames, 1800);
    assert.ok(Math.abs(plan.segmentDurationSeconds - 6.006) < 1e-9);
    for (const chunk of video.chunks) assert.equal(chunk.startFrame % video.gopFrames, 0, 'chunks start on GOP boundaries (key frames)');
    assert.equal(video.chunks.at(-1)!.endFrame, 1800);
    assert.equal(video.chunks.reduce((n, c) => n + c.endFrame - c.startFrame, 0), 1800, 'chunks cover every frame once');
  });

  it('keeps the segment duration exact and picks the GOP dividing it closest to 2 s', () => {
    const plan = planJob(probeOf([h264('25', '30'), aac(1)], '30'), { ...settings, segmentDurationSeconds: 5 });
    assert.equal(plan.video!.segmentFrames, 125);
    assert.equal(plan.video!.gopFrames, 25);
    assert.equal(chooseGopFrames(144, 24000 / 1001, 2), 48);
    assert.equal(chooseGopFrames(360, 60000 / 1001, 2), 120);
    assert.equal(chooseGopFrames(60, 30, 2), 60);
  });

  it('starts each chunk\'s decode just past the source key frame within a second before it', () => {
    const probe = probeOf([h264('30', '20'), aac(1)], '20');
    const video = planJob({ ...probe, video: { ...probe.video!, keyFrameSeconds: [0, 1.266667, 5.6, 10.566667, 15.533333] } }, settings).video!;
    // Chunks at 180, 360 and 480 (6, 12 and 16 s): key frames at 5.6 and 15.53 s lie in their prerolls, 10.57 s does not.
    assert.deepEqual(video.chunks.map((c) => [c.startFrame, c.prerollFrame]), [[0, 0], [180, 169], [360, 330], [480, 467]]);
  });

  it('allows the audio of a video job as many damaged frames as 0.1 % of its 20 ms frames (10 at least), any with --allow-decode-errors', () => {
    assert.equal(planJob(probeOf([h264('30', '3600'), aac(1)], '3600'), settings).maxAudioDecodeErrors, 180);
    assert.equal(planJob(probeOf([h264('30', '6'), aac(1)], '6'), settings).maxAudioDecodeErrors, 10);
    assert.equal(planJob(probeOf([h264('30', '3600'), aac(1)], '3600'), { ...settings, allowDecodeErrors: true }).maxAudioDecodeErrors, undefined);
    assert.equal(planJob(probeOf([h264('30', '6')], '6'), settings).maxAudioDecodeErrors, undefined, 'no audio, no allowance');
  });

  it('honours --chunk-duration', () => {
    const plan = planJob(probeOf([h264('30', '60'), aac(1)]), { ...settings, chunkSeconds: 12 });
    assert.equal(plan.video!.chunks.length, 5);
    assert.ok(plan.video!.chunks.every((c) => c.endFrame - c.startFrame === 360));
  });

  it('decodes the poster frame from the rendition at its size, and from the source when none is', () => {
    const thumbnails = (probe: ReturnType<typeof probeOf>, rungs?: string) =>
      planJob(probe, { ...settings, ...(rungs ? { rungs: parseRungs(rungs, { flag: '--ladder', from: 'cli' }) } : {}) }).thumbnails as { fromRendition: string; posterFrameFrom?: string };
    const full = thumbnails(probeOf([h264('30', '60'), aac(1)]));
    assert.equal(full.posterFrameFrom, 'h264-1080p');
    assert.notEqual(full.fromRendition, 'h264-1080p', 'the choice itself is still made on the smallest rendition');
    assert.equal(thumbnails(probeOf([h264('30', '60'), aac(1)]), '720p,360p').posterFrameFrom, undefined, 'no rendition at the poster size');
    const hdr = { ...h264('30', '60'), codec_name: 'hevc', color_transfer: 'smpte2084', color_primaries: 'bt2020', pix_fmt: 'yuv420p10le' };
    assert.equal(thumbnails(probeOf([hdr, aac(1)])).posterFrameFrom, undefined, 'an HDR source keeps its own frame');
  });

  it('makes one audio rendition per source stream, default from the disposition', () => {
    const plan = planJob(probeOf([h264('30', '60'), aac(1, 'eng'), aac(2, 'fra', 1)]), settings);
    assert.deepEqual(plan.audio.map((a) => [a.streamIndex, a.language, a.name, a.isDefault]), [
      [1, 'eng', 'English', false],
      [2, 'fra', 'Français', true],
    ]);
  });

  it('plans an audio job for audio-only input and for --audio-only', () => {
    assert.equal(planJob(probeOf([aac(0)]), settings).kind, 'audio');
    const forced = planJob(probeOf([h264('30', '60'), aac(1)]), { ...settings, audioOnly: true });
    assert.equal(forced.kind, 'audio');
    assert.equal(forced.video, undefined);
  });
});
