import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseGopFrames, planChunks, planJob as planJobWith, type JobPlan } from '../../src/core/plan.js';
import { DEFAULT_SETTINGS, type JobSettings } from '../../src/settings/job-settings.js';
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
    for (const chunk of video.chunks) assert.equal(chunk.startFrame % video.segmentFrames, 0, 'chunks start on segment boundaries');
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

  it('honours --chunk-duration', () => {
    const plan = planJob(probeOf([h264('30', '60'), aac(1)]), { ...settings, chunkSeconds: 12 });
    assert.equal(plan.video!.chunks.length, 5);
    assert.ok(plan.video!.chunks.every((c) => c.endFrame - c.startFrame === 360));
  });

  it('makes one audio rendition per source stream, default from the disposition', () => {
    const plan = planJob(probeOf([h264('30', '60'), aac(1, 'eng'), aac(2, 'fra', 1)]), settings);
    assert.deepEqual(plan.audio.map((a) => [a.streamIndex, a.language, a.name, a.isDefault]), [
      [1, 'eng', 'English', false],
      [2, 'fra', 'French', true],
    ]);
  });

  it('plans an audio job for audio-only input and for --audio-only', () => {
    assert.equal(planJob(probeOf([aac(0)]), settings).kind, 'audio');
    const forced = planJob(probeOf([h264('30', '60'), aac(1)]), { ...settings, audioOnly: true });
    assert.equal(forced.kind, 'audio');
    assert.equal(forced.video, undefined);
  });
});

describe('planChunks', () => {
  it('merges a tiny tail chunk into the previous one and sets a grid-aligned preroll', () => {
    const chunks = planChunks(1000, 330, 30);
    assert.deepEqual(chunks.map((c) => [c.startFrame, c.endFrame, c.prerollFrame]), [[0, 330, 0], [330, 660, 300], [660, 1000, 630]]);
  });
  it('keeps a tail that is large enough', () => {
    assert.equal(planChunks(1000, 400, 30).length, 3);
  });
});
