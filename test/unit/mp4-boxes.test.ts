import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isVidpipeError } from '../../src/errors.js';
import {
  childBoxes,
  findBox,
  findBoxes,
  parseAudioSpecificConfig,
  parseColr,
  parseEsds,
  parseMdhd,
  parseSidx,
  parseStsd,
  parseTfhd,
  parseTkhd,
  parseTrun,
  readBoxes,
  readTrackExtends,
  isSyncSampleFlags,
  withMdhdLanguage,
} from '../../src/media/mp4-boxes.js';
import {
  audioSampleEntry,
  bits,
  box,
  fullBox,
  initSegment,
  largeBox,
  tfhd,
  trun,
  u16,
  u32,
  u64,
  u8,
  visualSampleEntry,
} from '../helpers/mp4-build.js';

const isMalformed = (error: unknown) => isVidpipeError(error) && error.code === 'VALIDATION_FAILED' && /malformed MP4/.test(error.message);

describe('readBoxes', () => {
  it('reads 32-bit, largesize, uuid and size-0 boxes in order', () => {
    const uuid = Buffer.concat([u32(8 + 16 + 2), Buffer.from('uuid'), Buffer.alloc(16, 0xaa), u8(1, 2)]);
    const toEnd = Buffer.concat([u32(0), Buffer.from('mdat'), Buffer.alloc(5)]);
    const buf = Buffer.concat([box('ftyp', Buffer.alloc(4)), largeBox('free', Buffer.alloc(3)), uuid, toEnd]);
    const boxes = readBoxes(buf);
    assert.deepEqual(
      boxes.map((b) => [b.type, b.start, b.headerSize, b.end]),
      [
        ['ftyp', 0, 8, 12],
        ['free', 12, 16, 31],
        ['uuid', 31, 24, 57],
        ['mdat', 57, 8, buf.length],
      ],
    );
  });

  it('rejects a box that claims more bytes than the buffer holds', () => {
    const truncated = box('moof', Buffer.alloc(20)).subarray(0, 20);
    assert.throws(() => readBoxes(truncated), isMalformed);
  });

  it('rejects a size smaller than the header', () => {
    assert.throws(() => readBoxes(Buffer.concat([u32(4), Buffer.from('free')])), isMalformed);
  });
});

describe('findBoxes', () => {
  const entry = visualSampleEntry('avc1', 320, 180, box('avcC', u8(1, 0x64, 0, 0x1e, 0xff)), box('pasp', u32(4, 3)));
  const init = initSegment({ handler: 'vide', timescale: 15360, sampleEntry: entry, displaySize: [426.5, 180] });

  it('walks nested containers by path', () => {
    const [mdhd] = findBoxes(init, 'moov/trak/mdia/mdhd');
    assert.ok(mdhd);
    assert.deepEqual(parseMdhd(init, mdhd), { timescale: 15360, duration: 0, language: 'und' });
  });

  it('rewrites the media header\'s language in a copy, leaving every other byte as it was', () => {
    const french = withMdhdLanguage(init, 'fra');
    const mdhd = findBox(french, 'moov/trak/mdia/mdhd')!;
    assert.deepEqual(parseMdhd(french, mdhd), { timescale: 15360, duration: 0, language: 'fra' });
    assert.equal(parseMdhd(init, mdhd).language, 'und', 'the input is untouched');
    const changed = [...french].flatMap((byte, i) => (byte === init[i] ? [] : [i]));
    assert.ok(changed.length > 0 && changed.every((i) => i >= mdhd.start && i < mdhd.end), String(changed));
    const long = box('moov', box('trak', box('mdia', fullBox('mdhd', 1, 0, u64(1), u64(2), u32(48000), u64(96000), u16(0x55c4), u16(0)))));
    const german = withMdhdLanguage(long, 'deu');
    assert.deepEqual(parseMdhd(german, findBox(german, 'moov/trak/mdia/mdhd')!), { timescale: 48000, duration: 96000, language: 'deu' });
    assert.throws(() => withMdhdLanguage(init, 'fr'));
  });

  it('descends through stsd into sample entry children', () => {
    const stsd = findBox(init, 'moov/trak/mdia/minf/stbl/stsd')!;
    const [sampleEntry] = parseStsd(init, stsd);
    assert.equal(sampleEntry!.type, 'avc1');
    assert.equal(sampleEntry!.kind, 'visual');
    assert.deepEqual([sampleEntry!.width, sampleEntry!.height], [320, 180]);
    assert.deepEqual(
      sampleEntry!.children.map((child) => child.type),
      ['avcC', 'pasp'],
    );
    assert.ok(findBox(init, 'moov/trak/mdia/minf/stbl/stsd/avc1/pasp'));
  });

  it('reads tkhd 16.16 sizes and trex defaults', () => {
    assert.deepEqual(parseTkhd(init, findBox(init, 'moov/trak/tkhd')!), { trackId: 1, width: 426.5, height: 180 });
    assert.deepEqual(readTrackExtends(init), [
      { trackId: 1, defaultSampleDescriptionIndex: 1, defaultSampleDuration: 0, defaultSampleSize: 0, defaultSampleFlags: 0 },
    ]);
  });

  it('returns no children for leaf boxes', () => {
    assert.deepEqual(childBoxes(init, findBox(init, 'moov/trak/tkhd')!), []);
  });
});

describe('audio sample entries', () => {
  it('skips the QuickTime version 1 sound description fields before child boxes', () => {
    const esds = box('esds', Buffer.alloc(4));
    for (const version of [0, 1]) {
      const buf = fullBox('stsd', 0, 0, u32(1), audioSampleEntry('mp4a', 6, 48000, [esds], version));
      const [entry] = parseStsd(buf, readBoxes(buf)[0]!);
      assert.equal(entry!.channelCount, 6);
      assert.equal(entry!.sampleRate, 48000);
      assert.deepEqual(entry!.children.map((child) => child.type), ['esds'], `sound version ${version}`);
    }
  });
});

describe('esds', () => {
  it('reads the AudioSpecificConfig through 4-byte descriptor sizes (as ffmpeg writes them)', () => {
    // Bytes of an esds written by ffmpeg 5.1's native AAC encoder.
    const payload = Buffer.from('00000000038080802500010004808080174015000000000112880001128805808080051208' + '56e500068080800102', 'hex');
    const buf = box('esds', payload);
    const esds = parseEsds(buf, readBoxes(buf)[0]!);
    assert.equal(esds.objectTypeIndication, 0x40);
    assert.equal(esds.decoderSpecificInfo.toString('hex'), '120856e500');
  });

  it('reads single-byte descriptor sizes and optional ES flags', () => {
    const asc = u8(0x11, 0x90);
    const decoderConfig = Buffer.concat([u8(0x04, 13 + 2 + asc.length, 0x40, 0x15), Buffer.alloc(11), u8(0x05, asc.length), asc]);
    // ES_ID, flags (dependsOn, URL, OCR), dependsOn_ES_ID, URL "abc", OCR_ES_Id.
    const es = Buffer.concat([u8(0x00, 0x01, 0xe0, 0x00, 0x02, 0x03), Buffer.from('abc'), u8(0x00, 0x05), decoderConfig]);
    const buf = fullBox('esds', 0, 0, u8(0x03, es.length), es);
    assert.equal(parseEsds(buf, readBoxes(buf)[0]!).decoderSpecificInfo.toString('hex'), '1190');
  });
});

describe('parseAudioSpecificConfig', () => {
  it('reads plain AAC-LC', () => {
    const asc = parseAudioSpecificConfig(bits([[2, 5], [3, 4], [2, 4], [0, 3]]));
    assert.deepEqual(asc, { audioObjectType: 2, sbr: false, ps: false, samplingFrequency: 48000, extensionSamplingFrequency: 48000, channelConfiguration: 2 });
  });

  it('reads ffmpeg-style backward-compatible signalling with sbrPresentFlag 0 as plain LC', () => {
    const asc = parseAudioSpecificConfig(Buffer.from('120856e500', 'hex'));
    assert.equal(asc.audioObjectType, 2);
    assert.equal(asc.sbr, false);
    assert.equal(asc.samplingFrequency, 44100);
  });

  it('reads hierarchical HE-AAC (AOT 5) and HE-AACv2 (AOT 29)', () => {
    const he = parseAudioSpecificConfig(bits([[5, 5], [6, 4], [2, 4], [3, 4], [2, 5], [0, 3]]));
    assert.deepEqual(he, { audioObjectType: 2, sbr: true, ps: false, samplingFrequency: 24000, extensionSamplingFrequency: 48000, channelConfiguration: 2 });
    const v2 = parseAudioSpecificConfig(bits([[29, 5], [6, 4], [1, 4], [3, 4], [2, 5], [0, 3]]));
    assert.equal(v2.sbr, true);
    assert.equal(v2.ps, true);
    assert.equal(v2.channelConfiguration, 1);
  });

  it('reads backward-compatible SBR and PS extensions after the GASpecificConfig', () => {
    const core: [number, number][] = [[2, 5], [6, 4], [1, 4], [0, 3]];
    const sbr: [number, number][] = [[0x2b7, 11], [5, 5], [1, 1], [3, 4]];
    const withSbr = parseAudioSpecificConfig(bits([...core, ...sbr]));
    assert.deepEqual([withSbr.sbr, withSbr.ps, withSbr.extensionSamplingFrequency], [true, false, 48000]);
    const withPs = parseAudioSpecificConfig(bits([...core, ...sbr, [0x548, 11], [1, 1]]));
    assert.deepEqual([withPs.sbr, withPs.ps], [true, true]);
  });

  it('reads the escaped 6-bit object type and an explicit 24-bit sampling frequency', () => {
    const asc = parseAudioSpecificConfig(bits([[31, 5], [10, 6], [15, 4], [37800, 24], [2, 4]]));
    assert.equal(asc.audioObjectType, 42);
    assert.equal(asc.samplingFrequency, 37800);
    assert.equal(asc.channelConfiguration, 2);
  });

  it('rejects a config cut short', () => {
    assert.throws(() => parseAudioSpecificConfig(u8(0x12)), isMalformed);
  });
});

describe('colr', () => {
  it('reads nclx with the full-range bit and nclc without it, ignores ICC profiles', () => {
    const nclx = box('colr', Buffer.from('nclx'), u16(9, 16, 9), u8(0x80));
    assert.deepEqual(parseColr(nclx, readBoxes(nclx)[0]!), { colourType: 'nclx', primaries: 9, transfer: 16, matrix: 9, fullRange: true });
    const nclc = box('colr', Buffer.from('nclc'), u16(1, 1, 1));
    assert.deepEqual(parseColr(nclc, readBoxes(nclc)[0]!), { colourType: 'nclc', primaries: 1, transfer: 1, matrix: 1 });
    const icc = box('colr', Buffer.from('prof'), Buffer.alloc(10));
    assert.equal(parseColr(icc, readBoxes(icc)[0]!), undefined);
  });
});

describe('fragment boxes', () => {
  it('reads a version 1 sidx with 64-bit times and SAP fields', () => {
    const reference = u32((1 << 31) | 1234, 15360, (1 << 31) | (1 << 28) | 7);
    const buf = fullBox('sidx', 1, 0, u32(1, 15360), u64(2 ** 40), u64(0), u16(0, 1), reference);
    assert.deepEqual(parseSidx(buf, readBoxes(buf)[0]!), {
      referenceId: 1,
      timescale: 15360,
      earliestPresentationTime: 2 ** 40,
      firstOffset: 0,
      references: [{ referenceType: 1, referencedSize: 1234, subsegmentDuration: 15360, startsWithSap: true, sapType: 1, sapDeltaTime: 7 }],
    });
  });

  it('reads tfhd optional fields in flag order', () => {
    const buf = tfhd({ trackId: 2, baseDataOffset: 5000, defaultSampleDuration: 512, defaultSampleSize: 100, defaultSampleFlags: 0x01010000 });
    const header = parseTfhd(buf, readBoxes(buf)[0]!);
    assert.deepEqual(
      [header.trackId, header.baseDataOffset, header.sampleDescriptionIndex, header.defaultSampleDuration, header.defaultSampleSize, header.defaultSampleFlags, header.defaultBaseIsMoof],
      [2, 5000, undefined, 512, 100, 0x01010000, false],
    );
  });

  it('reads every trun field, with signed composition offsets in version 1', () => {
    const buf = trun({
      version: 1,
      dataOffset: -8,
      firstSampleFlags: 0x02000000,
      samples: [
        { duration: 512, size: 300, flags: 0x01010000, compositionOffset: -512 },
        { duration: 256, size: 20, flags: 0x01010000, compositionOffset: 1024 },
      ],
    });
    const run = parseTrun(buf, readBoxes(buf)[0]!);
    assert.equal(run.dataOffset, -8);
    assert.equal(run.firstSampleFlags, 0x02000000);
    assert.deepEqual(run.samples, [
      { duration: 512, size: 300, flags: 0x01010000, compositionOffset: -512 },
      { duration: 256, size: 20, flags: 0x01010000, compositionOffset: 1024 },
    ]);
  });

  it('reads version 0 composition offsets as unsigned', () => {
    const buf = trun({ version: 0, samples: [{ compositionOffset: -1 }] });
    assert.equal(parseTrun(buf, readBoxes(buf)[0]!).samples[0]!.compositionOffset, 2 ** 32 - 1);
  });

  it('rejects a sample count larger than the box', () => {
    const buf = fullBox('trun', 0, 0x200, u32(1_000_000), u32(1));
    assert.throws(() => parseTrun(buf, readBoxes(buf)[0]!), isMalformed);
  });

  it('treats only bit 16 of the sample flags as non-sync', () => {
    assert.equal(isSyncSampleFlags(0x02000000), true);
    assert.equal(isSyncSampleFlags(0x01010000), false);
    assert.equal(isSyncSampleFlags(0x00010000), false);
    assert.equal(isSyncSampleFlags(0x01000000), true);
  });
});
