import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertProcessable, parseProbe, probeFailureReason } from '../../src/ffmpeg/probe.js';
import { chooseFrameRate } from '../../src/core/ladder.js';

function probeOf(stream: Record<string, unknown>) {
  return parseProbe('clip.mp4', 1000, {
    streams: [{ index: 0, codec_type: 'video', codec_name: 'h264', width: 320, height: 180, avg_frame_rate: '30/1', ...stream }],
    format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '2.0' },
  } as never);
}

describe('probe of unusual input', () => {
  it('reads the same clockwise rotation from ffprobe 5 (display matrix, counter-clockwise) and ffprobe 4 (rotate tag)', () => {
    // What both ffprobe versions print for one file written with `-metadata:s:v rotate=90` by ffmpeg 5.1.
    const v5 = probeOf({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: 90 }] }).video!;
    const v4 = probeOf({ tags: { rotate: '270' } }).video!;
    for (const video of [v5, v4]) {
      assert.equal(video.rotation, 270);
      assert.deepEqual([video.displayWidth, video.displayHeight], [180, 320]);
    }
    assert.equal(probeOf({ side_data_list: [{ rotation: -90 }] }).video!.rotation, 90);
  });

  it('applies the sample aspect ratio to the display size', () => {
    const video = probeOf({ width: 360, height: 240, sample_aspect_ratio: '32:27' }).video!;
    assert.deepEqual([video.displayWidth, video.displayHeight], [427, 240]);
  });

  it('refuses absurd declared sizes before anything is decoded', () => {
    assert.throws(() => assertProcessable(probeOf({ width: 16000, height: 12000 })), /absurd picture size 16000x12000/);
    assert.throws(() => assertProcessable(probeOf({ width: 20000, height: 100 })), /absurd/);
    assertProcessable(probeOf({ width: 7680, height: 4320 }));
  });

  it('explains a probe failure with its cause, not only the final errno', () => {
    const stderr = '[IMGUTILS @ 0x7ffe1bab4590] Picture size 100000x100000 is invalid\n./huge.y4m: Device or resource busy\n';
    assert.equal(probeFailureReason(stderr), 'Picture size 100000x100000 is invalid; Device or resource busy');
    assert.equal(probeFailureReason('[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] moov atom not found\ncut.mp4: Invalid data found when processing input\n'),
      'moov atom not found; Invalid data found when processing input');
  });
});

describe('frame rate of variable-rate sources', () => {
  it('goes up to the next standard rate when the average is no standard rate', () => {
    // 1.5 s at 25 fps then 1.5 s at 30 fps, as ffprobe reports it.
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 83000000, den: 2986667 }, realFrameRate: { num: 25, den: 1 } }), { num: 30, den: 1 });
    // A phone's jittery 29.87 still snaps to the nearest standard rate; a steady odd rate is kept.
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 2987, den: 100 }, realFrameRate: { num: 30, den: 1 } }), { num: 30000, den: 1001 });
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 15, den: 1 }, realFrameRate: { num: 15, den: 1 } }), { num: 15, den: 1 });
  });
});
