/**
 * The Common Encryption engine on hand-built inputs whose every byte is known: box writers,
 * subsample maps of known NAL layouts (slice header lengths counted by hand from the H.264
 * syntax tables), the two ciphers, and a synthetic CMAF track rewritten end to end.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { findBox, findBoxes, parseSidx, parseStsd, parseTrun, readBoxes, readFullBox, requireBox } from '../../src/media/mp4-boxes.js';
import { commonPssh, writePssh, writeSaio, writeSaiz, writeSenc, writeTenc } from '../../src/protection/cenc-boxes.js';
import { protectInitSegment, protectMediaSegment, type CencSettings } from '../../src/protection/cenc-file.js';
import { h264SliceHeaderBits, parseH264Pps, parseH264Sps } from '../../src/protection/h264-slice.js';
import { storedLength, unescapeRbsp } from '../../src/protection/rbsp.js';
import { encryptCbcsSample, encryptCencSample, VIDEO_PATTERN } from '../../src/protection/sample-crypto.js';
import { H264Nals, nalSubsamples } from '../../src/protection/subsamples.js';
import { encryptAes128Segment, mediaSequenceIv } from '../../src/protection/aes-128.js';
import { audioSampleEntry, bits, box, fullBox, initSegment, moofAndMdat, tfdt, tfhd, trun, u16, u32, u8, visualSampleEntry } from '../helpers/mp4-build.js';

const KID = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const IV = Buffer.from('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', 'hex');

/** ue(v) as a [value, width] field of bits(): n leading zeros, then value+1 in n+1 bits. */
function ue(value: number): [number, number] {
  return [value + 1, 2 * Math.floor(Math.log2(value + 1)) + 1];
}
const se = (value: number): [number, number] => ue(value > 0 ? 2 * value - 1 : -2 * value);

// Baseline SPS: 320x192, frame_num in 4 bits, POC type 2 (no POC fields in slice headers).
const SPS = bits([[0x67, 8], [66, 8], [0, 8], [30, 8], ue(0), ue(0), ue(2), ue(1), [0, 1], ue(19), ue(11), [1, 1], [1, 1], [0, 1], [0, 1], [1, 1]]);
// CAVLC PPS with deblocking control present (so slices carry the deblocking fields).
const PPS = bits([[0x68, 8], ue(0), ue(0), [0, 1], [0, 1], ue(0), ue(0), ue(0), [0, 1], [0, 2], se(0), se(0), se(0), [1, 1], [0, 1], [0, 1], [1, 1]]);
/** IDR slice header: 8 + 1+7+1+4+1+2+1+1+1+1 = 28 bits → 4 bytes (the 4th shared with slice data). */
const IDR_HEADER_FIELDS: [number, number][] = [[0x65, 8], ue(0), ue(7), ue(0), [0, 4], ue(0), [0, 2], se(0), ue(0), se(0), se(0)];
/**
 * P slice header with a list modification and memory management operations:
 * 8 + 1+5+1+4 + 1+3 + 1+1+5+5 + 1+3+1+1 + 3 + 3 = 47 bits → 6 bytes.
 */
const P_HEADER_FIELDS: [number, number][] = [
  [0x41, 8], ue(0), ue(5), ue(0), [1, 4],
  [1, 1], ue(2),
  [1, 1], ue(0), ue(3), ue(3),
  [1, 1], ue(1), ue(0), ue(0),
  se(1),
  ue(1),
];

/** A slice NAL: its header fields padded to whole bytes, then `dataBytes` of slice data. */
function nal(headerFields: [number, number][], dataBytes: number): Buffer {
  return Buffer.concat([bits(headerFields), Buffer.alloc(dataBytes, 0xab)]);
}

function lengthPrefixed(...nals: Buffer[]): Buffer {
  return Buffer.concat(nals.flatMap((n) => [u32(n.length), n]));
}

const sei = (size: number) => Buffer.concat([u8(0x06), Buffer.alloc(size - 1, 0x55)]);
const codec = () => new H264Nals(4, [SPS, PPS]);

describe('H.264 slice header length', () => {
  const sets = { sps: new Map([[0, parseH264Sps(SPS)]]), pps: new Map([[0, parseH264Pps(PPS)]]) };

  it('counts an IDR slice header bit for bit', () => {
    assert.equal(h264SliceHeaderBits(nal(IDR_HEADER_FIELDS, 10), sets), 28);
  });

  it('counts list modifications and memory management operations of a P slice', () => {
    assert.equal(h264SliceHeaderBits(nal(P_HEADER_FIELDS, 10), sets), 47);
  });

  it('refuses a slice whose PPS the stream never carried', () => {
    const other = { sps: sets.sps, pps: new Map() };
    assert.throws(() => h264SliceHeaderBits(nal(IDR_HEADER_FIELDS, 10), other), /PPS 0/);
  });
});

describe('RBSP unescaping', () => {
  it('drops 0x03 after two zero bytes and maps RBSP lengths back to stored bytes', () => {
    const rbsp = unescapeRbsp(Buffer.from([0x65, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03, 0x00]));
    assert.deepEqual([...rbsp.bytes], [0x65, 0, 0, 1, 0, 0, 0]);
    assert.deepEqual(rbsp.removedAt, [3, 7]);
    assert.equal(storedLength(rbsp, 3), 3);
    assert.equal(storedLength(rbsp, 4), 5);
    assert.equal(storedLength(rbsp, 7), 9);
  });
});

describe('subsample maps of NAL samples', () => {
  it("keeps lengths, parameter sets and the slice header clear and protects the slice data ('cbcs')", () => {
    const sample = lengthPrefixed(SPS, PPS, nal(IDR_HEADER_FIELDS, 100));
    assert.deepEqual(nalSubsamples(sample, codec(), 'cbcs'), [{ clearBytes: 4 + SPS.length + 4 + PPS.length + 4 + 4, protectedBytes: 100 }]);
  });

  it("block-aligns the protected part for 'cenc' by clearing its first bytes", () => {
    const sample = lengthPrefixed(SPS, PPS, nal(IDR_HEADER_FIELDS, 100));
    assert.deepEqual(nalSubsamples(sample, codec(), 'cenc'), [{ clearBytes: 4 + SPS.length + 4 + PPS.length + 4 + 4 + 4, protectedBytes: 96 }]);
  });

  it('ends with a clear subsample for NAL units after the last slice, and leaves short slices clear', () => {
    const sample = lengthPrefixed(nal(P_HEADER_FIELDS, 40), sei(10), nal(P_HEADER_FIELDS, 15), sei(3));
    assert.deepEqual(nalSubsamples(sample, codec(), 'cbcs'), [
      { clearBytes: 4 + 6, protectedBytes: 40 },
      { clearBytes: 4 + 10 + 4 + 6 + 15 + 4 + 3, protectedBytes: 0 },
    ]);
    assert.deepEqual(nalSubsamples(sample, codec(), 'cenc'), [
      { clearBytes: 4 + 6 + 8, protectedBytes: 32 },
      { clearBytes: 4 + 10 + 4 + 6 + 15 + 4 + 3, protectedBytes: 0 },
    ]);
  });

  it('splits a clear run longer than 65535 bytes', () => {
    const sample = lengthPrefixed(sei(70000), nal(IDR_HEADER_FIELDS, 64));
    assert.deepEqual(nalSubsamples(sample, codec(), 'cbcs'), [
      { clearBytes: 65535, protectedBytes: 0 },
      { clearBytes: 4 + 70000 + 4 + 4 - 65535, protectedBytes: 64 },
    ]);
  });

  it('refuses a NAL unit that runs past its sample', () => {
    const sample = lengthPrefixed(nal(IDR_HEADER_FIELDS, 20)).subarray(0, 20);
    assert.throws(() => nalSubsamples(sample, codec(), 'cbcs'), /runs past/);
  });
});

describe('sample ciphers', () => {
  const decryptCbc = (data: Buffer, iv: Buffer) => {
    const decipher = createDecipheriv('aes-128-cbc', KEY, iv).setAutoPadding(false);
    return Buffer.concat([decipher.update(data), decipher.final()]);
  };

  it("'cbcs' 1:9 encrypts blocks 0, 10, 20 as one CBC chain, restarts per subsample, leaves the rest", () => {
    const clear = Buffer.from(Array.from({ length: 10 + 25 * 16 + 5 + 3 + 32 }, (_, i) => i & 0xff));
    const sample = Buffer.from(clear);
    const subsamples = [{ clearBytes: 10, protectedBytes: 25 * 16 + 5 }, { clearBytes: 3, protectedBytes: 32 }];
    encryptCbcsSample(sample, KEY, IV, VIDEO_PATTERN, subsamples);
    const range = (at: number) => sample.subarray(at, at + 16);
    for (let block = 0; block < 25; block++) {
      const at = 10 + block * 16;
      if (block % 10 === 0) assert.notDeepEqual(range(at), clear.subarray(at, at + 16), `block ${block}`);
      else assert.deepEqual(range(at), clear.subarray(at, at + 16), `block ${block}`);
    }
    const chain = decryptCbc(Buffer.concat([range(10), range(10 + 160), range(10 + 320)]), IV);
    assert.deepEqual(chain, Buffer.concat([clear.subarray(10, 26), clear.subarray(170, 186), clear.subarray(330, 346)]));
    assert.deepEqual(sample.subarray(0, 10), clear.subarray(0, 10));
    assert.deepEqual(sample.subarray(410, 418), clear.subarray(410, 418), 'partial block and next clear bytes');
    const second = 418;
    assert.deepEqual(decryptCbc(range(second), IV), clear.subarray(second, second + 16), 'second subsample restarts at the IV');
    assert.deepEqual(range(second + 16), clear.subarray(second + 16, second + 32));
  });

  it("'cenc' runs one CTR keystream through the protected ranges of a sample", () => {
    const clear = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 7) & 0xff));
    const sample = Buffer.from(clear);
    const iv = Buffer.from('0102030405060708', 'hex');
    encryptCencSample(sample, KEY, iv, [{ clearBytes: 5, protectedBytes: 32 }, { clearBytes: 11, protectedBytes: 52 }]);
    const protectedBytes = Buffer.concat([sample.subarray(5, 37), sample.subarray(48, 100)]);
    const decipher = createDecipheriv('aes-128-ctr', KEY, Buffer.concat([iv, Buffer.alloc(8)]));
    assert.deepEqual(decipher.update(protectedBytes), Buffer.concat([clear.subarray(5, 37), clear.subarray(48, 100)]));
    assert.deepEqual(sample.subarray(37, 48), clear.subarray(37, 48));
  });
});

describe('Common Encryption boxes', () => {
  it("writes tenc version 1 with the 1:9 pattern and a constant IV for 'cbcs' video", () => {
    const tenc = writeTenc({ scheme: 'cbcs', kid: KID, perSampleIvSize: 0, constantIv: IV, pattern: VIDEO_PATTERN });
    assert.deepEqual(tenc, Buffer.concat([u32(49), Buffer.from('tenc'), u8(1, 0, 0, 0), u8(0, 0x19, 1, 0), KID, u8(16), IV]));
  });

  it("writes tenc version 0 with 8-byte per-sample IVs for 'cenc'", () => {
    const tenc = writeTenc({ scheme: 'cenc', kid: KID, perSampleIvSize: 8, pattern: { cryptBlocks: 0, skipBlocks: 0 } });
    assert.deepEqual(tenc, Buffer.concat([u32(32), Buffer.from('tenc'), u8(0, 0, 0, 0), u8(0, 0, 1, 8), KID]));
  });

  it('writes the W3C common pssh, version 1 with its KIDs', () => {
    const pssh = commonPssh([KID]);
    assert.deepEqual(pssh, Buffer.concat([u32(52), Buffer.from('pssh'), u8(1, 0, 0, 0), Buffer.from('1077efecc0b24d02ace33c1e52e2fb4b', 'hex'), u32(1), KID, u32(0)]));
  });

  it('writes senc entries with subsamples, and saiz with one default size or a size each', () => {
    const iv = Buffer.alloc(8, 1);
    const layout = writeSenc([{ iv, subsamples: [{ clearBytes: 7, protectedBytes: 32 }] }, { iv, subsamples: [] }], true);
    assert.deepEqual(layout.entrySizes, [16, 10]);
    assert.deepEqual(layout.senc, Buffer.concat([u32(16 + 26), Buffer.from('senc'), u8(0, 0, 0, 2), u32(2), iv, u16(1, 7), u32(32), iv, u16(0)]));
    assert.deepEqual(writeSaiz([16, 10]), Buffer.concat([u32(19), Buffer.from('saiz'), u32(0), u8(0), u32(2), u8(16, 10)]));
    assert.deepEqual(writeSaiz([8, 8, 8]), Buffer.concat([u32(17), Buffer.from('saiz'), u32(0), u8(8), u32(3)]));
    assert.deepEqual(writeSaio(1234), Buffer.concat([u32(20), Buffer.from('saio'), u32(0), u32(1), u32(1234)]));
  });
});

const AVCC = box('avcC', u8(1, 66, 0, 30, 0xff, 0xe1), u16(SPS.length), SPS, u8(1), u16(PPS.length), PPS);
const VIDEO_INIT = initSegment({ handler: 'vide', timescale: 30, sampleEntry: visualSampleEntry('avc1', 320, 192, AVCC), displaySize: [320, 192] });
const SAMPLES = [
  lengthPrefixed(SPS, PPS, nal(IDR_HEADER_FIELDS, 300)),
  lengthPrefixed(nal(P_HEADER_FIELDS, 90), sei(12)),
  lengthPrefixed(nal(P_HEADER_FIELDS, 17)),
];

function fragment(sequence: number, samples: Buffer[]): Buffer {
  return moofAndMdat(
    (dataOffset) =>
      box(
        'moof',
        fullBox('mfhd', 0, 0, u32(sequence)),
        box('traf', tfhd({ trackId: 1, defaultBaseIsMoof: true }), tfdt(sequence * 3), trun({ dataOffset, samples: samples.map((s) => ({ duration: 1, size: s.length })) })),
      ),
    Buffer.concat(samples),
  );
}

/** styp, then each fragment behind a sidx that references it (ffmpeg's dash muxer layout). */
function segmentOf(fragments: Buffer[]): Buffer {
  const sidx = (size: number) => fullBox('sidx', 0, 0, u32(1, 30, 0, 0), u16(0, 1), u32(size, 3, 0x90000000));
  return Buffer.concat([box('styp', Buffer.from('msdh'), u32(0), Buffer.from('msdhmsix')), ...fragments.flatMap((f) => [sidx(f.length), f])]);
}

describe('protecting a CMAF track', () => {
  const settings: CencSettings = { scheme: 'cbcs', key: { kid: KID, key: KEY }, constantIv: IV, pssh: [writePssh({ systemId: Buffer.alloc(16, 7), data: Buffer.from('hello') })] };

  it('renames the sample entry, keeps its avcC, adds sinf/frma/schm/tenc and the pssh', () => {
    const init = protectInitSegment(VIDEO_INIT, settings);
    const [entry] = parseStsd(init, requireBox(init, 'moov/trak/mdia/minf/stbl/stsd'));
    assert.equal(entry!.type, 'encv');
    assert.equal(entry!.format, 'avc1');
    assert.deepEqual(entry!.children.map((child) => child.type), ['avcC', 'sinf']);
    const sinf = entry!.children[1]!;
    const schm = requireBox(init, 'schm', sinf);
    assert.deepEqual(init.subarray(schm.start + 12, schm.end), Buffer.concat([Buffer.from('cbcs'), u32(0x00010000)]));
    const tenc = requireBox(init, 'schi/tenc', sinf);
    assert.equal(init[tenc.start + 8], 1, 'tenc version 1');
    assert.equal(init[tenc.start + 13], 0x19, '1:9 pattern');
    const pssh = findBoxes(init, 'moov/pssh');
    assert.equal(pssh.length, 1);
    assert.deepEqual(init.subarray(pssh[0]!.start, pssh[0]!.end), settings.pssh![0]);
    assert.throws(() => protectInitSegment(VIDEO_INIT, { ...settings, pssh: [Buffer.from('not a box at all')] }), /not one pssh box/);
    assert.equal(readBoxes(init).at(-1)!.end, init.length, 'box sizes add up');
  });

  it('encrypts every fragment, adds senc/saiz/saio pointing at the entries, and moves data offsets and sidx sizes', () => {
    const clear = segmentOf([fragment(1, SAMPLES), fragment(2, SAMPLES.slice(1))]);
    const protectedSegment = protectMediaSegment(clear, VIDEO_INIT, settings);
    const top = readBoxes(protectedSegment);
    assert.deepEqual(top.map((b) => b.type), ['styp', 'sidx', 'moof', 'mdat', 'sidx', 'moof', 'mdat']);
    const clearMdats = readBoxes(clear).filter((b) => b.type === 'mdat');
    for (const [index, moof] of top.filter((b) => b.type === 'moof').entries()) {
      const samples = index === 0 ? SAMPLES : SAMPLES.slice(1);
      const sidx = top[top.indexOf(moof) - 1]!;
      const mdat = top[top.indexOf(moof) + 1]!;
      assert.equal(parseSidx(protectedSegment, sidx).references[0]!.referencedSize, mdat.end - moof.start, 'sidx covers the grown moof');
      assert.equal(mdat.end - mdat.start, clearMdats[index]!.end - clearMdats[index]!.start, 'sample sizes unchanged');
      const traf = requireBox(protectedSegment, 'traf', moof);
      const run = parseTrun(protectedSegment, requireBox(protectedSegment, 'trun', traf));
      assert.equal(moof.start + run.dataOffset!, mdat.start + 8, 'trun data_offset points at the mdat payload');
      const senc = requireBox(protectedSegment, 'senc', traf);
      const saio = requireBox(protectedSegment, 'saio', traf);
      const saiz = requireBox(protectedSegment, 'saiz', traf);
      assert.equal(moof.start + protectedSegment.readUInt32BE(saio.end - 4), senc.start + 16, 'saio points at the first senc entry');
      const { reader } = readFullBox(protectedSegment, saiz);
      assert.equal(reader.u8(), 0);
      assert.equal(reader.u32(), samples.length);
      // Decrypt by the senc subsamples and compare with the clear samples.
      const sencReader = readFullBox(protectedSegment, senc).reader;
      assert.equal(sencReader.u32(), samples.length);
      let at = mdat.start + 8;
      for (const [i, clearSample] of samples.entries()) {
        const subsampleCount = sencReader.u16();
        assert.equal(reader.u8(), 2 + 6 * subsampleCount, `saiz size of sample ${i}`);
        const sample = Buffer.from(protectedSegment.subarray(at, at + clearSample.length));
        let pos = 0;
        for (let s = 0; s < subsampleCount; s++) {
          pos += sencReader.u16();
          const protectedBytes = sencReader.u32();
          const blocks = Math.floor(protectedBytes / 16);
          // 1:9: blocks 0, 10, 20 … of the range form one CBC chain from the constant IV.
          const picked = Array.from({ length: Math.ceil(blocks / 10) }, (_, k) => sample.subarray(pos + k * 160, pos + k * 160 + 16));
          const plain = createDecipheriv('aes-128-cbc', KEY, IV).setAutoPadding(false).update(Buffer.concat(picked));
          picked.forEach((block, k) => plain.copy(block, 0, k * 16, k * 16 + 16));
          pos += protectedBytes;
        }
        assert.equal(pos, clearSample.length, `subsamples of sample ${i} add up to its size`);
        assert.deepEqual(sample, clearSample, `sample ${i} decrypts to the clear one`);
        assert.notDeepEqual(protectedSegment.subarray(at, at + clearSample.length), clearSample, `sample ${i} is encrypted`);
        at += clearSample.length;
      }
    }
  });

  it("leaves 'cbcs' audio without saiz/saio (empty auxiliary information) and gives 'cenc' audio 8-byte IVs", () => {
    const init = initSegment({ handler: 'soun', timescale: 48000, sampleEntry: audioSampleEntry('mp4a', 2, 48000, []) });
    const clear = segmentOf([fragment(1, [Buffer.alloc(100, 1), Buffer.alloc(33, 2)])]);
    const cbcs = protectMediaSegment(clear, init, settings);
    const traf = findBoxes(cbcs, 'moof/traf')[0]!;
    assert.ok(findBox(cbcs, 'senc', traf));
    assert.equal(findBox(cbcs, 'saiz', traf), undefined);
    const cenc = protectMediaSegment(clear, init, { scheme: 'cenc', key: { kid: KID, key: KEY } });
    const cencTraf = findBoxes(cenc, 'moof/traf')[0]!;
    const saiz = readFullBox(cenc, requireBox(cenc, 'saiz', cencTraf)).reader;
    assert.equal(saiz.u8(), 8);
    const [entry] = parseStsd(protectInitSegment(init, settings), requireBox(protectInitSegment(init, settings), 'moov/trak/mdia/minf/stbl/stsd'));
    assert.equal(entry!.type, 'enca');
  });

  it('refuses codecs it cannot encrypt, and segments or inits that are encrypted already', () => {
    const av1 = initSegment({ handler: 'vide', timescale: 30, sampleEntry: visualSampleEntry('av01', 320, 192, box('av1C', u8(0x81, 0, 0, 0))) });
    assert.throws(() => protectInitSegment(av1, settings), (error: any) => error.code === 'USAGE' && /av01/.test(error.message));
    assert.throws(() => protectInitSegment(protectInitSegment(VIDEO_INIT, settings), settings), /already encrypted/);
    const once = protectMediaSegment(segmentOf([fragment(1, SAMPLES)]), VIDEO_INIT, settings);
    assert.throws(() => protectMediaSegment(once, VIDEO_INIT, settings), /already encrypted/);
  });
});

describe('HLS AES-128 whole-segment encryption', () => {
  it('pads with PKCS7 (a full block when aligned) and decrypts with the IV', () => {
    for (const size of [0, 15, 16, 1000]) {
      const clear = Buffer.alloc(size, 9);
      const encrypted = encryptAes128Segment(clear, KEY, IV);
      assert.equal(encrypted.length, (Math.floor(size / 16) + 1) * 16);
      const decipher = createDecipheriv('aes-128-cbc', KEY, IV);
      assert.deepEqual(Buffer.concat([decipher.update(encrypted), decipher.final()]), clear);
    }
  });

  it('derives the IV from the media sequence number, big-endian in 16 bytes', () => {
    assert.deepEqual(mediaSequenceIv(0x0102), Buffer.from('00000000000000000000000000000102', 'hex'));
  });
});
