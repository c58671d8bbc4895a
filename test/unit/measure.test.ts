import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVidpipeError } from '../../src/errors.js';
import {
  averageSegmentBitrate,
  iFrameBitrates,
  measureTrack,
  peakSegmentBitrate,
  readFragmentSamples,
  targetDuration,
} from '../../src/media/measure.js';
import { readBoxes, type TrackExtends } from '../../src/media/mp4-boxes.js';
import {
  NON_SYNC_FLAGS,
  SYNC_FLAGS,
  box,
  cmafFragment,
  fullBox,
  initSegment,
  moofAndMdat,
  tfdt,
  tfhd,
  trun,
  u32,
  u8,
  visualSampleEntry,
} from '../helpers/mp4-build.js';

const styp = box('styp', Buffer.from('msdh'), u32(0), Buffer.from('msdhmsix'));
const sidx = fullBox('sidx', 1, 0, u32(1, 15360), Buffer.alloc(16), u32(1, 0, 15360, 0x90000000));
const mfhd = (sequence: number) => fullBox('mfhd', 0, 0, u32(sequence));
const trex = (defaults: Partial<TrackExtends>): TrackExtends => ({
  trackId: 1,
  defaultSampleDescriptionIndex: 1,
  defaultSampleDuration: 0,
  defaultSampleSize: 0,
  defaultSampleFlags: 0,
  ...defaults,
});

describe('readFragmentSamples', () => {
  const first = cmafFragment({
    sequence: 1,
    baseMediaDecodeTime: 3000,
    samples: [
      { duration: 512, size: 40, sync: true, compositionOffset: 1024 },
      { duration: 512, size: 7, sync: false, compositionOffset: -512 },
    ],
  });
  const second = cmafFragment({ sequence: 2, baseMediaDecodeTime: 4024, samples: [{ duration: 256, size: 9, sync: false }] });
  const segment = Buffer.concat([styp, sidx, first, second]);

  it('starts a fragment at the sidx directly before its moof, else at the moof', () => {
    const fragments = readFragmentSamples(segment);
    assert.deepEqual(
      fragments.map((fragment) => [fragment.sequenceNumber, fragment.offset, fragment.moofOffset]),
      [
        [1, styp.length, styp.length + sidx.length],
        [2, styp.length + sidx.length + first.length, styp.length + sidx.length + first.length],
      ],
    );
  });

  it('places each sample on its bytes in mdat and times it from tfdt', () => {
    const fragments = readFragmentSamples(segment);
    const samples = fragments.flatMap((fragment) => fragment.samples);
    assert.deepEqual(
      samples.map((sample) => [sample.decodeTime, sample.duration, sample.compositionOffset, sample.size, sample.isSync]),
      [
        [3000, 512, 1024, 40, true],
        [3512, 512, -512, 7, false],
        [4024, 256, 0, 9, false],
      ],
    );
    // cmafFragment fills sample i with byte i + 1, so a wrong offset shows up as wrong content.
    const fills = [1, 2, 1];
    samples.forEach((sample, index) => {
      assert.ok(segment.subarray(sample.offset, sample.offset + sample.size).every((byte) => byte === fills[index]), `sample ${index}`);
    });
    assert.equal(samples[2]!.offset + samples[2]!.size, segment.length);
  });

  it('fills durations, sizes and flags from tfhd, then trex, with first_sample_flags for sample 0', () => {
    const buf = moofAndMdat(
      (dataOffset) =>
        box(
          'moof',
          mfhd(1),
          box(
            'traf',
            tfhd({ trackId: 1, defaultBaseIsMoof: true, defaultSampleSize: 10 }),
            tfdt(0),
            trun({ dataOffset, firstSampleFlags: SYNC_FLAGS, samples: [{ size: 4 }, { size: 6 }, { size: 5 }] }),
          ),
        ),
      Buffer.alloc(15),
    );
    const [fragment] = readFragmentSamples(buf, trex({ defaultSampleDuration: 1001, defaultSampleFlags: NON_SYNC_FLAGS }));
    assert.deepEqual(
      fragment!.samples.map((sample) => [sample.decodeTime, sample.size, sample.isSync, sample.flags]),
      [
        [0, 4, true, SYNC_FLAGS],
        [1001, 6, false, NON_SYNC_FLAGS],
        [2002, 5, false, NON_SYNC_FLAGS],
      ],
    );
  });

  it('ignores trex defaults of other tracks and fails without a duration', () => {
    const buf = moofAndMdat(
      (dataOffset) => box('moof', mfhd(1), box('traf', tfhd({ trackId: 1, defaultBaseIsMoof: true }), tfdt(0), trun({ dataOffset, samples: [{ size: 1 }] }))),
      u8(0),
    );
    assert.throws(
      () => readFragmentSamples(buf, [trex({ trackId: 2, defaultSampleDuration: 512 })]),
      (error: unknown) => isVidpipeError(error) && /no sample duration/.test(error.message),
    );
    assert.equal(readFragmentSamples(buf, [trex({ trackId: 2 }), trex({ defaultSampleDuration: 512 })])[0]!.samples[0]!.duration, 512);
  });

  it('counts a second traf without base flags from the end of the first traf\'s data', () => {
    // Two tracks in one moof, no base-data-offset and no default-base-is-moof (ISO 14496-12 §8.8.7.1).
    const buf = moofAndMdat(
      (dataOffset) =>
        box(
          'moof',
          mfhd(7),
          box('traf', tfhd({ trackId: 1, defaultSampleDuration: 10 }), tfdt(0), trun({ dataOffset, samples: [{ size: 3 }, { size: 2 }] })),
          box('traf', tfhd({ trackId: 2, defaultSampleDuration: 20 }), tfdt(0), trun({ samples: [{ size: 4 }] })),
        ),
      u8(1, 1, 1, 1, 1, 2, 2, 2, 2),
    );
    const moof = readBoxes(buf)[0]!;
    const fragments = readFragmentSamples(buf);
    assert.deepEqual(
      fragments.map((fragment) => [fragment.trackId, fragment.samples.map((sample) => sample.offset)]),
      [
        [1, [moof.end + 8, moof.end + 11]],
        [2, [moof.end + 13]],
      ],
    );
  });

  it('uses an explicit base_data_offset and chains truns without data_offset', () => {
    const mdatStart = 200;
    const traf = box(
      'traf',
      tfhd({ trackId: 1, baseDataOffset: mdatStart + 8, defaultSampleDuration: 1 }),
      trun({ samples: [{ size: 2 }] }),
      trun({ samples: [{ size: 3 }] }),
      trun({ dataOffset: 0, samples: [{ size: 1 }] }),
    );
    const moof = box('moof', mfhd(1), traf);
    const buf = Buffer.concat([moof, box('free', Buffer.alloc(mdatStart - moof.length - 8)), box('mdat', Buffer.alloc(5))]);
    const [fragment] = readFragmentSamples(buf);
    assert.deepEqual(
      fragment!.samples.map((sample) => sample.offset),
      [208, 210, 208],
    );
  });

  it('continues decode time across fragments without tfdt', () => {
    const makeFragment = (sequence: number) =>
      moofAndMdat(
        (dataOffset) =>
          box('moof', mfhd(sequence), box('traf', tfhd({ trackId: 1, defaultBaseIsMoof: true, defaultSampleDuration: 100 }), trun({ dataOffset, samples: [{ size: 1 }, { size: 1 }] }))),
        u8(0, 0),
      );
    const fragments = readFragmentSamples(Buffer.concat([makeFragment(1), makeFragment(2)]));
    assert.equal(fragments[0]!.baseMediaDecodeTime, undefined);
    assert.deepEqual(
      fragments.flatMap((fragment) => fragment.samples.map((sample) => sample.decodeTime)),
      [0, 100, 200, 300],
    );
  });

  it('rejects samples whose bytes lie outside every mdat', () => {
    const fragment = cmafFragment({ sequence: 1, baseMediaDecodeTime: 0, samples: [{ duration: 1, size: 10, sync: true }] });
    const [moof] = readBoxes(fragment);
    const shortMdat = Buffer.concat([fragment.subarray(0, moof!.end), box('mdat', Buffer.alloc(9))]);
    assert.throws(() => readFragmentSamples(shortMdat), (error: unknown) => isVidpipeError(error) && /outside every mdat/.test(error.message));
  });
});

describe('targetDuration', () => {
  it('rounds the longest segment to the nearest integer, at least 1', () => {
    assert.equal(targetDuration([5.5, 6.4, 2]), 6);
    assert.equal(targetDuration([6.006, 6.5]), 7);
    assert.equal(targetDuration([0.2]), 1);
    assert.equal(targetDuration([]), 1);
  });
});

describe('averageSegmentBitrate', () => {
  it('divides all bits by the total duration, rounding up', () => {
    assert.equal(averageSegmentBitrate([{ bytes: 1000, durationSeconds: 2 }, { bytes: 2001, durationSeconds: 1 }]), Math.ceil((3001 * 8) / 3));
    assert.equal(averageSegmentBitrate([]), 0);
  });
});

describe('peakSegmentBitrate', () => {
  const oneSecond = (bytes: number) => ({ bytes, durationSeconds: 1 });

  it('only counts runs whose duration lies within 0.5–1.5 × the target duration', () => {
    // A 1 s spike is shorter than 0.5 × 6 s, so it is averaged over at least 3 s.
    const segs = [1000, 1000, 1000, 100_000, 1000, 1000].map(oneSecond);
    assert.equal(peakSegmentBitrate(segs, 6), Math.ceil(((100_000 + 2000) * 8) / 3));
    // With TD 2, single 1 s segments qualify.
    assert.equal(peakSegmentBitrate(segs, 2), 800_000);
  });

  it('includes runs exactly at either end of the window and nothing beyond it', () => {
    // TD 2 → window [1, 3] s.
    const span = (bytes: number, durationSeconds: number) => ({ bytes, durationSeconds });
    assert.equal(peakSegmentBitrate([span(10_000, 1), span(100, 2.5)], 2), 80_000);
    assert.equal(peakSegmentBitrate([span(10_000, 0.2), span(1000, 2.8)], 2), Math.ceil(88_000 / 3));
    assert.equal(peakSegmentBitrate([span(10_000, 0.4), span(1000, 2.8)], 2), Math.ceil(8000 / 2.8));
  });

  it('accepts a run whose summed duration drifts a rounding error below the window', () => {
    // Ten 0.1 s segments sum to 0.9999999999999999 s, just under 0.5 × TD.
    const segs = [1000, 0, 0, 0, 0, 0, 0, 0, 0, 0].map((bytes) => ({ bytes, durationSeconds: 0.1 }));
    assert.equal(peakSegmentBitrate(segs, 2), 8000);
  });

  it('falls back to the largest single-segment rate when no run qualifies', () => {
    assert.equal(peakSegmentBitrate([{ bytes: 500, durationSeconds: 0.5 }], 6), 8000);
    assert.equal(peakSegmentBitrate([], 6), 0);
  });
});

describe('iFrameBitrates', () => {
  it('spreads each key frame range over the time to the next key frame or the track end', () => {
    const keyFrames = [
      { uri: 'a', offset: 0, length: 1000, time: 90_000 },
      { uri: 'a', offset: 5000, length: 3000, time: 270_000 },
      { uri: 'b', offset: 0, length: 2000, time: 450_000 },
    ];
    // Spacing 2 s, 2 s, 1 s (track of 5 s starting at 1 s); TD 2 → window [1, 3].
    const result = iFrameBitrates(keyFrames, 90_000, 5);
    assert.equal(result.average, Math.ceil((6000 * 8) / 5));
    assert.equal(result.peak, 16_000);
  });

  it('returns zero rates without key frames and rejects a track end before the last key frame', () => {
    assert.deepEqual(iFrameBitrates([], 1000, 10), { peak: 0, average: 0 });
    const keyFrames = [
      { uri: 'a', offset: 0, length: 10, time: 0 },
      { uri: 'a', offset: 0, length: 10, time: 5000 },
    ];
    assert.throws(() => iFrameBitrates(keyFrames, 1000, 4), (error: unknown) => isVidpipeError(error));
  });
});

describe('measureTrack', () => {
  let dir: string;
  const init = initSegment({
    handler: 'vide',
    timescale: 15360,
    sampleEntry: visualSampleEntry('avc1', 320, 180, box('avcC', u8(1, 0x64, 0, 0x1e, 0xff, 0xe0, 0))),
    displaySize: [320, 180],
    trex: { duration: 512, size: 0, flags: NON_SYNC_FLAGS },
  });
  const frames = (count: number, keyEvery: number, size: number) =>
    Array.from({ length: count }, (_, i) => ({ duration: 512, size: size + i, sync: i % keyEvery === 0 }));
  const segments = [
    Buffer.concat([styp, sidx, cmafFragment({ sequence: 1, baseMediaDecodeTime: 0, samples: frames(60, 30, 100) })]),
    Buffer.concat([styp, cmafFragment({ sequence: 2, baseMediaDecodeTime: 30720, samples: frames(45, 30, 50) })]),
  ];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidpipe-measure-unit-'));
    await writeFile(join(dir, 'init.mp4'), init);
    await Promise.all(segments.map((segment, i) => writeFile(join(dir, `s${i}.m4s`), segment)));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const input = () => ({
    initPath: join(dir, 'init.mp4'),
    initUri: 'v/init.mp4',
    segments: segments.map((_, i) => ({ path: join(dir, `s${i}.m4s`), uri: `v/s${i}.m4s` })),
  });

  it('measures segments, frames, key frames and bit rates', async () => {
    const track = await measureTrack(input());
    assert.deepEqual(track.segments, [
      { uri: 'v/s0.m4s', bytes: segments[0]!.length, startTime: 0, duration: 60 * 512 },
      { uri: 'v/s1.m4s', bytes: segments[1]!.length, startTime: 30720, duration: 45 * 512 },
    ]);
    assert.equal(track.frameCount, 105);
    assert.equal(track.durationSeconds, (105 * 512) / 15360);
    assert.deepEqual(track.frameRate, { num: 30, den: 1 });
    assert.equal(track.codecs, 'avc1.64001e');
    assert.equal(track.initUri, 'v/init.mp4');
    assert.deepEqual(
      track.keyFrames.map((keyFrame) => [keyFrame.uri, keyFrame.time]),
      [
        ['v/s0.m4s', 0],
        ['v/s0.m4s', 15360],
        ['v/s1.m4s', 30720],
        ['v/s1.m4s', 46080],
      ],
    );
    // The first fragment of segment 0 starts at its sidx, the one of segment 1 at its moof.
    assert.deepEqual(
      track.keyFrames.map((keyFrame) => keyFrame.offset),
      [styp.length, styp.length, styp.length, styp.length],
    );
    const second = track.keyFrames[1]!;
    const firstData = segments[0]!.length - frames(60, 30, 100).reduce((sum, frame) => sum + frame.size, 0);
    const sizesBefore = frames(30, 30, 100).reduce((sum, frame) => sum + frame.size, 0);
    assert.equal(second.offset + second.length, firstData + sizesBefore + 130);
    assert.equal(track.targetDurationSeconds, 2);
    const rate = (i: number, seconds: number) => Math.ceil((segments[i]!.length * 8) / seconds);
    assert.equal(track.peakBitrate, Math.max(rate(0, 2), rate(1, 1.5)));
    assert.equal(track.averageBitrate, Math.ceil(((segments[0]!.length + segments[1]!.length) * 8) / 3.5));
    assert.ok(track.iFramePeakBitrate! > 0);
  });

  it('measures the peak against a given target duration', async () => {
    const track = await measureTrack({ ...input(), targetDurationSeconds: 6 });
    assert.equal(track.targetDurationSeconds, 6);
    assert.equal(track.peakBitrate, track.averageBitrate);
  });

  it('names the file in parse errors', async () => {
    await writeFile(join(dir, 'bad.m4s'), segments[1]!.subarray(0, 200));
    await assert.rejects(
      measureTrack({ ...input(), segments: [{ path: join(dir, 'bad.m4s'), uri: 'v/bad.m4s' }] }),
      (error: unknown) => isVidpipeError(error) && error.code === 'VALIDATION_FAILED' && error.message.includes('bad.m4s'),
    );
  });

  it('rejects a segment without tfdt', async () => {
    const noTfdt = moofAndMdat((dataOffset) => box('moof', mfhd(1), box('traf', tfhd({ trackId: 1, defaultBaseIsMoof: true }), trun({ dataOffset, samples: [{ size: 1 }] }))), u8(0));
    await writeFile(join(dir, 'notfdt.m4s'), noTfdt);
    await assert.rejects(
      measureTrack({ ...input(), segments: [{ path: join(dir, 'notfdt.m4s'), uri: 'x' }] }),
      (error: unknown) => isVidpipeError(error) && /no tfdt/.test(error.message),
    );
  });
});
