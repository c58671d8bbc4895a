import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildLadder as buildLadderWith, chooseFrameRate, h264Level, MIN_CODED_SIDE, renditionSize, type LadderOptions } from '../../src/core/ladder.js';
import { displaySizeAtWidth } from '../../src/ffmpeg/args/images.js';
import type { VideoStreamInfo } from '../../src/ffmpeg/probe.js';

function video(displayWidth: number, displayHeight: number): VideoStreamInfo {
  return {
    index: 0, codec: 'h264', width: displayWidth, height: displayHeight, displayWidth, displayHeight, rotation: 0,
    sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: { num: 16, den: 9 }, bitDepth: 8, startSeconds: 0, isAttachedPicture: false,
  };
}
const fps30 = { num: 30, den: 1 };
/** The ladder with the default preset and SVT-AV1 (what the encoder columns do not change). */
const buildLadder = (source: VideoStreamInfo, options: Omit<LadderOptions, 'preset' | 'av1Encoder'>) => buildLadderWith(source, { preset: 'medium', av1Encoder: 'libsvtav1', ...options });

describe('buildLadder', () => {
  it('follows the Apple table for a 1080p source, top rung first', () => {
    const ladder = buildLadder(video(1920, 1080), { codecs: ['h264'], frameRate: fps30 });
    assert.deepEqual(ladder.map((r) => [r.id, r.width, r.height, r.bitrateKbps]), [
      ['h264-1080p', 1920, 1080, 6000], ['h264-720p', 1280, 720, 3000], ['h264-540p', 960, 540, 2000],
      ['h264-432p', 768, 432, 1100], ['h264-360p', 640, 360, 730], ['h264-234p', 416, 234, 145],
    ]);
    for (const r of ladder) {
      assert.equal(r.maxrateKbps, Math.round(r.bitrateKbps * 1.1));
      assert.equal(r.bufsizeKbps, r.bitrateKbps * 2);
      assert.equal(r.profile, 'high');
    }
    assert.equal(ladder[0]!.level, '4.0');
  });

  it('gives a 4K source 2160p and 1440p HEVC and AV1 rungs at Apple\'s HEVC rates, and H.264 up to 1080p unless asked', () => {
    const ladder = buildLadder(video(3840, 2160), { codecs: ['h264', 'hevc', 'av1'], frameRate: fps30 });
    const tops = (codec: string) => ladder.filter((r) => r.codec === codec).slice(0, 3).map((r) => [r.width, r.height, r.bitrateKbps]);
    assert.deepEqual(tops('h264'), [[1920, 1080, 6000], [1280, 720, 3000], [960, 540, 2000]]);
    assert.deepEqual(tops('hevc'), [[3840, 2160, 11570], [2560, 1440, 8125], [1920, 1080, 3900]]);
    assert.deepEqual(tops('av1').map(([w]) => w), [3840, 2560, 1920]);
    const asked = buildLadder(video(3840, 2160), { codecs: ['h264'], frameRate: fps30, rungs: [{ size: 2160, kbps: 17800 }, { size: 1080, kbps: 6000 }] });
    assert.deepEqual(asked.map((r) => [r.id, r.level]), [['h264-2160p', '5.1'], ['h264-1080p', '4.0']]);
    assert.deepEqual(buildLadder(video(2560, 1440), { codecs: ['hevc'], frameRate: fps30 })[0]!.id, 'hevc-1440p', 'never taller than the source');
  });

  it('never goes taller than the source and keeps odd sources even', () => {
    const ladder = buildLadder(video(853, 479), { codecs: ['h264'], frameRate: fps30 });
    assert.deepEqual(ladder.map((r) => r.size), [432, 360, 234]);
    for (const r of ladder) {
      assert.equal(r.width % 2, 0);
      assert.equal(r.height % 2, 0);
      assert.ok(Math.abs(r.width / r.height - 853 / 479) < 0.01, `aspect ${r.width}x${r.height}`);
    }
  });

  it('treats the short side as the size class for portrait video', () => {
    const [top] = buildLadder(video(1080, 1920), { codecs: ['h264'], frameRate: fps30 });
    assert.deepEqual([top!.width, top!.height], [1080, 1920]);
  });

  it('gives a source smaller than every rung one rung at its own size', () => {
    const ladder = buildLadder(video(160, 90), { codecs: ['h264'], frameRate: fps30 });
    assert.equal(ladder.length, 1);
    assert.deepEqual([ladder[0]!.width, ladder[0]!.height], [160, 90]);
  });

  it('makes one ladder per codec with lower bit rates for HEVC and AV1', () => {
    const ladder = buildLadder(video(1280, 720), { codecs: ['h264', 'hevc', 'av1'], frameRate: fps30, rungs: [{ size: 720, kbps: 3000 }] });
    assert.deepEqual(ladder.map((r) => r.id), ['h264-720p', 'hevc-720p', 'av1-720p']);
    assert.ok(ladder[1]!.bitrateKbps < ladder[0]!.bitrateKbps && ladder[2]!.bitrateKbps < ladder[1]!.bitrateKbps);
  });

  it('spends more bits on 60 fps than on 30 fps', () => {
    const at30 = buildLadder(video(1280, 720), { codecs: ['h264'], frameRate: fps30, rungs: [{ size: 720, kbps: 3000 }] })[0]!;
    const at60 = buildLadder(video(1280, 720), { codecs: ['h264'], frameRate: { num: 60, den: 1 }, rungs: [{ size: 720, kbps: 3000 }] })[0]!;
    assert.ok(at60.bitrateKbps > at30.bitrateKbps);
    assert.equal(at60.level, '3.2');
  });
});

describe('renditionSize', () => {
  it('keeps 4:3 display aspect with even dimensions', () => {
    assert.deepEqual(renditionSize({ displayWidth: 640, displayHeight: 480 }, 360), { width: 480, height: 360 });
  });

  it('never enlarges an odd source to make it even', () => {
    assert.deepEqual(renditionSize({ displayWidth: 853, displayHeight: 479 }, 480), { width: 852, height: 478 });
  });

  it('pads a side narrower than the encoder accepts instead of stretching or enlarging the picture', () => {
    assert.deepEqual(renditionSize({ displayWidth: 1, displayHeight: 1000 }, 2), { width: 2, height: 1000, picture: { width: 1, height: 1000 } });
    assert.deepEqual(renditionSize({ displayWidth: 1000, displayHeight: 1 }, 2), { width: 1000, height: 2, picture: { width: 1000, height: 1 } });
    assert.deepEqual(renditionSize({ displayWidth: 4, displayHeight: 2000 }, 4), { width: 4, height: 2000 });
    assert.deepEqual(renditionSize({ displayWidth: 4, displayHeight: 2000 }, 4, 16), { width: 16, height: 2000, picture: { width: 4, height: 2000 } });
  });
});

describe('extreme aspect ratios', () => {
  it('gives one rung no larger than the source, padded up to each codec\'s minimum side', () => {
    for (const [w, h] of [[1, 1000], [1000, 1], [4, 2000], [2000, 4]] as const) {
      const ladder = buildLadder(video(w, h), { codecs: ['h264', 'hevc', 'av1'], frameRate: fps30 });
      assert.equal(ladder.length, 3, `${w}x${h}`);
      for (const r of ladder) {
        const picture = r.picture ?? r;
        assert.ok(picture.width <= Math.max(w, 1) && picture.height <= Math.max(h, 1), `${r.id} ${picture.width}x${picture.height} from ${w}x${h}`);
        assert.equal(r.width % 2, 0);
        assert.equal(r.height % 2, 0);
        assert.ok(Math.min(r.width, r.height) >= MIN_CODED_SIDE[r.codec], `${r.id} ${r.width}x${r.height}`);
        assert.ok(r.bitrateKbps >= 64);
      }
    }
  });
});

describe('h264Level', () => {
  it('picks the lowest level whose limits hold', () => {
    assert.equal(h264Level(640, 360, 30, 800), '3.0');
    assert.equal(h264Level(1280, 720, 30, 3300), '3.1');
    assert.equal(h264Level(1920, 1080, 30, 6600), '4.0');
    assert.equal(h264Level(1920, 1080, 60, 9000), '4.2');
    assert.throws(() => h264Level(8192, 4320, 120, 100000), /beyond H.264 level 5.2/);
  });
});

describe('chooseFrameRate', () => {
  it('keeps standard rates and snaps near ones to the closest', () => {
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 30, den: 1 } }), { num: 30, den: 1 });
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 30000, den: 1001 } }), { num: 30000, den: 1001 });
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 2987, den: 100 } }), { num: 30000, den: 1001 });
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 25, den: 1 } }), { num: 25, den: 1 });
  });
  it('halves rates above 60 fps', () => {
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 120, den: 1 } }), { num: 60, den: 1 });
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 240, den: 1 } }), { num: 60, den: 1 });
    assert.deepEqual(chooseFrameRate({ avgFrameRate: { num: 120000, den: 1001 } }), { num: 60000, den: 1001 });
  });
  it('falls back to the real frame rate, then 25', () => {
    assert.deepEqual(chooseFrameRate({ realFrameRate: { num: 24, den: 1 } }), { num: 24, den: 1 });
    assert.deepEqual(chooseFrameRate({}), { num: 25, den: 1 });
  });
});

describe('encoders', () => {
  it('gives each rendition its encoder, with the preset in its own terms', () => {
    const ladder = buildLadderWith(video(1280, 720), { codecs: ['h264', 'hevc', 'av1'], frameRate: fps30, rungs: [{ size: 720, kbps: 3000 }], preset: 'slow', av1Encoder: 'libsvtav1' });
    assert.deepEqual(ladder.map((r) => r.encoder), [
      { name: 'libx264', preset: 'slow', threads: 'share-cores' },
      { name: 'libx265', preset: 'slow', threads: 'encoder-default' },
      { name: 'libsvtav1', preset: '5', threads: 'encoder-default' },
    ]);
    const aom = buildLadderWith(video(1280, 720), { codecs: ['av1'], frameRate: fps30, rungs: [{ size: 720, kbps: 3000 }], preset: 'veryslow', av1Encoder: 'libaom-av1' });
    assert.deepEqual(aom[0]!.encoder, { name: 'libaom-av1', preset: '1', threads: 'encoder-default' });
  });
});

describe('thumbnail sizes', () => {
  it('keep the usual widths, and stay inside JPEG limits for a strip', () => {
    assert.deepEqual(displaySizeAtWidth(video(1920, 1080), 160, 320), { width: 160, height: 90 });
    assert.deepEqual(displaySizeAtWidth(video(1080, 1920), 160, 320), { width: 160, height: 284 });
    assert.deepEqual(displaySizeAtWidth(video(1, 1000), 160, 320), { width: 2, height: 320 });
    assert.deepEqual(displaySizeAtWidth(video(1000, 1), 160, 320), { width: 160, height: 2 });
    const poster = displaySizeAtWidth(video(16384, 4));
    assert.ok(poster.width <= 65535 && poster.height <= 65535);
  });
});
