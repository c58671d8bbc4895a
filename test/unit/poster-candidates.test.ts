import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { candidateTimes } from '../../src/core/stages/poster.js';
import { parseProbe } from '../../src/ffmpeg/probe.js';

/** A probe of a video of `seconds` at `rate` frames per second. */
function probe(seconds: number, rate = '30') {
  const media = parseProbe('/x.mp4', 1000, {
    streams: [{ index: 0, codec_type: 'video', codec_name: 'h264', width: 640, height: 360, avg_frame_rate: rate, r_frame_rate: rate, duration: String(seconds), start_time: '0' }] as never,
    format: { format_name: 'mov,mp4', duration: String(seconds), start_time: '0' },
  });
  return { media, video: media.video! };
}

describe('poster candidate times', () => {
  it('spreads 15 times over 10–90 % of a video whose key frames are unknown', () => {
    const { media, video } = probe(20);
    const times = candidateTimes(media, video);
    assert.equal(times.length, 15);
    assert.ok(Math.abs(times[0]! - 2) < 1e-9 && Math.abs(times.at(-1)! - 18) < 1e-9, `${times}`);
  });

  it('takes the key frames in 10–90 % of a rendition with a key frame every GOP, so each seek decodes one frame', () => {
    const { media, video } = probe(20);
    assert.deepEqual(candidateTimes(media, video, 2), [2, 4, 6, 8, 10, 12, 14, 16, 18]);
    // 29.97 fps, 60-frame GOPs: 2.002 s, exact to the millisecond.
    const ntsc = probe(30, '30000/1001');
    assert.deepEqual(candidateTimes(ntsc.media, ntsc.video, 2.002), [4.004, 6.006, 8.008, 10.01, 12.012, 14.014, 16.016, 18.018, 20.02, 22.022, 24.024, 26.026]);
  });

  it('thins the key frames of a long video evenly to 15, first and last kept', () => {
    const { media, video } = probe(600);
    const times = candidateTimes(media, video, 2);
    assert.equal(times.length, 15);
    assert.equal(times[0], 60);
    assert.equal(times.at(-1), 540);
    for (const t of times) assert.equal(t % 2, 0, `${t} is a key frame`);
    assert.equal(new Set(times).size, 15, 'no key frame twice');
  });

  it('falls back to the spread times when no key frame lies in 10–90 % (a video of one GOP)', () => {
    const { media, video } = probe(1.5);
    const times = candidateTimes(media, video, 2);
    assert.equal(times.length, 15);
    assert.ok(times[0]! > 0.1 && times.at(-1)! < 1.4);
  });
});
