import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isVidpipeError } from '../../src/errors.js';
import { aacCodecString, av1CodecString, avcCodecString, codecStringFromInit, describeInit, hevcCodecString } from '../../src/media/codec-strings.js';
import { audioSampleEntry, bits, box, fullBox, initSegment, u16, u32, u8, visualSampleEntry } from '../helpers/mp4-build.js';

/** hvcC with the 13 profile/tier/level bytes, then the fields up to bit depth. */
function hvcC(profileByte: number, compatibility: number, constraints: number[], level: number): Buffer {
  return box('hvcC', u8(1, profileByte), u32(compatibility), u8(...constraints, level), u16(0xf000), u8(0xfc, 0xfd, 0xf8, 0xf8));
}

/** esds around an AudioSpecificConfig, with single-byte descriptor sizes. */
function esds(asc: Buffer, objectType = 0x40): Buffer {
  const decoderConfig = Buffer.concat([u8(0x04, 15 + asc.length, objectType, 0x15), Buffer.alloc(11), u8(0x05, asc.length), asc]);
  const es = Buffer.concat([u8(0x00, 0x01, 0x00), decoderConfig]);
  return fullBox('esds', 0, 0, u8(0x03, es.length), es);
}

const videoInit = (entry: Buffer) => initSegment({ handler: 'vide', timescale: 15360, sampleEntry: entry, displaySize: [320, 180] });
const audioInit = (entry: Buffer, timescale = 48000) => initSegment({ handler: 'soun', timescale, sampleEntry: entry, editMediaTime: 1024 });

describe('avcCodecString', () => {
  it('formats avcC bytes 1–3 as lower-case hex', () => {
    assert.equal(avcCodecString('avc1', { profileIdc: 0x64, constraintFlags: 0, levelIdc: 30 }), 'avc1.64001e');
    assert.equal(avcCodecString('avc3', { profileIdc: 0x42, constraintFlags: 0xe0, levelIdc: 0x1f }), 'avc3.42e01f');
  });
});

describe('hevcCodecString', () => {
  const base = { profileSpace: 0, tierFlag: 0, chromaFormatIdc: 1, bitDepthLuma: 8 };

  it('reverses the compatibility flags and drops trailing zero constraint bytes', () => {
    // Main: compatibility flags 1 and 2 set (MSB-first 0x60000000) → reversed 0x6.
    const main = { ...base, profileIdc: 1, compatibilityFlags: 0x60000000, constraintBytes: [0xb0, 0, 0, 0, 0, 0], levelIdc: 93 };
    assert.equal(hevcCodecString('hvc1', main), 'hvc1.1.6.L93.B0');
    const main10 = { ...base, profileIdc: 2, compatibilityFlags: 0x20000000, constraintBytes: [0xb0, 0, 0, 0, 0, 0], levelIdc: 120 };
    assert.equal(hevcCodecString('hev1', main10), 'hev1.2.4.L120.B0');
  });

  it('writes profile space, high tier and inner zero constraint bytes', () => {
    const config = { ...base, profileSpace: 1, tierFlag: 1, profileIdc: 4, compatibilityFlags: 0x08000000, constraintBytes: [0x98, 0, 0x0a, 0, 0, 0], levelIdc: 153 };
    assert.equal(hevcCodecString('hvc1', config), 'hvc1.A4.10.H153.98.0.A');
  });

  it('ends at the level when every constraint byte is zero', () => {
    const config = { ...base, profileIdc: 1, compatibilityFlags: 0x40000000, constraintBytes: [0, 0, 0, 0, 0, 0], levelIdc: 60 };
    assert.equal(hevcCodecString('hvc1', config), 'hvc1.1.2.L60');
  });
});

describe('av1CodecString', () => {
  it('pads level and bit depth to two digits and marks the tier', () => {
    assert.equal(av1CodecString({ profile: 0, level: 8, tier: 0, bitDepth: 8, monochrome: false }), 'av01.0.08M.08');
    assert.equal(av1CodecString({ profile: 2, level: 13, tier: 1, bitDepth: 12, monochrome: false }), 'av01.2.13H.12');
  });
});

describe('aacCodecString', () => {
  it('names LC, SBR and PS by object type', () => {
    assert.equal(aacCodecString(0x40, bits([[2, 5], [3, 4], [2, 4], [0, 3]])), 'mp4a.40.2');
    assert.equal(aacCodecString(0x40, bits([[5, 5], [6, 4], [2, 4], [3, 4], [2, 5]])), 'mp4a.40.5');
    assert.equal(aacCodecString(0x40, bits([[29, 5], [6, 4], [1, 4], [3, 4], [2, 5]])), 'mp4a.40.29');
    const backwardCompatibleSbr = bits([[2, 5], [6, 4], [2, 4], [0, 3], [0x2b7, 11], [5, 5], [1, 1], [3, 4]]);
    assert.equal(aacCodecString(0x40, backwardCompatibleSbr), 'mp4a.40.5');
  });

  it('uses the escaped object type', () => {
    assert.equal(aacCodecString(0x40, bits([[31, 5], [10, 6], [3, 4], [2, 4]])), 'mp4a.40.42');
  });

  it('falls back to the object type indication for non-MPEG-4 audio', () => {
    assert.equal(aacCodecString(0x6b, Buffer.alloc(0)), 'mp4a.6B');
  });
});

describe('describeInit', () => {
  it('describes an H.264 track with pasp and a PQ colr', () => {
    const entry = visualSampleEntry(
      'avc1',
      320,
      180,
      box('avcC', u8(1, 0x64, 0, 0x1e, 0xff, 0xe0, 0)),
      box('colr', Buffer.from('nclx'), u16(9, 16, 9), u8(0)),
      box('pasp', u32(40, 30)),
    );
    const description = describeInit(videoInit(entry));
    assert.deepEqual(description, {
      trackId: 1,
      handler: 'vide',
      timescale: 15360,
      language: 'und',
      sampleEntry: 'avc1',
      codecs: 'avc1.64001e',
      codec: 'h264',
      editMediaTime: 0,
      width: 320,
      height: 180,
      displayWidth: 320,
      displayHeight: 180,
      sar: '4:3',
      colour: { colourType: 'nclx', primaries: 9, transfer: 16, matrix: 9, fullRange: false },
      videoRange: 'PQ',
    });
  });

  it('marks HLG, and SDR without colr', () => {
    const hlg = visualSampleEntry('hvc1', 320, 180, hvcC(0x02, 0x20000000, [0x90, 0, 0, 0, 0, 0], 90), box('colr', Buffer.from('nclx'), u16(9, 18, 9), u8(0)));
    const hlgDescription = describeInit(videoInit(hlg));
    assert.equal(hlgDescription.videoRange, 'HLG');
    assert.equal(hlgDescription.codecs, 'hvc1.2.4.L90.90');
    assert.equal(hlgDescription.codec, 'hevc');
    const sdr = visualSampleEntry('av01', 320, 180, box('av1C', u8(0x81, 0x08, 0x0c, 0)));
    assert.equal(describeInit(videoInit(sdr)).videoRange, 'SDR');
    assert.equal(codecStringFromInit(videoInit(sdr)), 'av01.0.08M.08');
  });

  it('takes AAC channels from the AudioSpecificConfig, not the sample entry', () => {
    // ffmpeg writes channelcount 2 in every mp4a entry; the config says mono.
    const entry = audioSampleEntry('mp4a', 2, 48000, [esds(bits([[2, 5], [3, 4], [1, 4], [0, 3]]))]);
    const description = describeInit(audioInit(entry));
    assert.deepEqual(
      [description.codecs, description.codec, description.channels, description.sampleRate, description.editMediaTime, description.width],
      ['mp4a.40.2', 'aac', 1, 48000, 1024, undefined],
    );
  });

  it('counts parametric stereo as two channels', () => {
    const entry = audioSampleEntry('mp4a', 2, 48000, [esds(bits([[29, 5], [6, 4], [1, 4], [3, 4], [2, 5]]))]);
    assert.equal(describeInit(audioInit(entry)).channels, 2);
  });

  it('reports Opus as lower-case "opus" with dOps channels', () => {
    const dOps = box('dOps', u8(0, 6), u16(312), u32(48000), u16(0), u8(1), Buffer.alloc(8));
    const description = describeInit(audioInit(audioSampleEntry('Opus', 2, 48000, [dOps])));
    assert.deepEqual([description.codecs, description.codec, description.channels], ['opus', 'opus', 6]);
  });

  it('reads E-AC-3 channels from dec3, not the sample entry\'s channelcount (ffmpeg writes 2 for 5.1)', () => {
    // The dec3 ffmpeg 5.1 writes for 384 kb/s 5.1: data_rate 384, one substream, bsid 16, acmod 7 (3/2), LFE on.
    const dec3 = box('dec3', u8(0x0c, 0x00, 0x20, 0x0f, 0x00));
    const description = describeInit(audioInit(audioSampleEntry('ec-3', 2, 48000, [dec3])));
    assert.deepEqual([description.codecs, description.codec, description.channels], ['ec-3', 'eac3', 6]);
    // 2/0 without LFE, and 3/2 + LFE extended by a dependent substream carrying Lrs/Rrs (7.1).
    const stereo = box('dec3', bits([[192, 13], [0, 3], [0, 2], [16, 5], [0, 1], [0, 1], [0, 3], [2, 3], [0, 1], [0, 3], [0, 4], [0, 1]]));
    assert.equal(describeInit(audioInit(audioSampleEntry('ec-3', 2, 48000, [stereo]))).channels, 2);
    const sevenOne = box('dec3', bits([[768, 13], [0, 3], [0, 2], [16, 5], [0, 1], [0, 1], [0, 3], [7, 3], [1, 1], [0, 3], [1, 4], [0b010000000, 9]]));
    assert.equal(describeInit(audioInit(audioSampleEntry('ec-3', 2, 48000, [sevenOne]))).channels, 8);
    assert.throws(() => describeInit(audioInit(audioSampleEntry('ec-3', 6, 48000, []))), /'ec-3' sample entry has no 'dec3' box/, 'players cannot decode ec-3 without dec3');
  });

  it('reads AC-3 channels from dac3', () => {
    // fscod 0, bsid 8, bsmod 0, acmod 7, lfeon 1, bit_rate_code 14 (384 kb/s), reserved.
    const dac3 = box('dac3', bits([[0, 2], [8, 5], [0, 3], [7, 3], [1, 1], [14, 5], [0, 5]]));
    assert.equal(describeInit(audioInit(audioSampleEntry('ac-3', 2, 48000, [dac3]))).channels, 6);
  });

  it('falls back to the media timescale when the 16.16 rate field cannot hold the rate', () => {
    const entry = audioSampleEntry('mp4a', 2, 0, [esds(bits([[2, 5], [0, 4], [2, 4], [0, 3]]))]);
    assert.equal(describeInit(audioInit(entry, 96000)).sampleRate, 96000);
  });

  it('names unknown sample entries by their 4cc', () => {
    const description = describeInit(audioInit(audioSampleEntry('ac-3', 6, 48000, [])));
    assert.deepEqual([description.codecs, description.codec], ['ac-3', 'other']);
  });

  it('names an encrypted entry by the original format in sinf/frma', () => {
    const sinf = box('sinf', box('frma', Buffer.from('avc1')), fullBox('schm', 0, 0, Buffer.from('cbcs'), u32(0x10000)));
    const description = describeInit(videoInit(visualSampleEntry('encv', 320, 180, box('avcC', u8(1, 0x4d, 0x40, 0x1f, 0xff)), sinf)));
    assert.deepEqual([description.sampleEntry, description.codecs, description.codec], ['avc1', 'avc1.4d401f', 'h264']);
  });

  it('rejects an avc1 entry without avcC', () => {
    assert.throws(
      () => describeInit(videoInit(visualSampleEntry('avc1', 320, 180))),
      (error: unknown) => isVidpipeError(error) && /no 'avcC'/.test(error.message),
    );
  });
});
