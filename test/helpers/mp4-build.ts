/** Builds ISO-BMFF boxes byte by byte, so parser tests control every field (and every mistake). */

export type Bytes = Buffer | number[];

export function u8(...values: number[]): Buffer {
  return Buffer.from(values);
}

export function u16(...values: number[]): Buffer {
  const buf = Buffer.alloc(values.length * 2);
  values.forEach((value, i) => buf.writeUInt16BE(value, i * 2));
  return buf;
}

export function u32(...values: number[]): Buffer {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => buf.writeUInt32BE(value >>> 0, i * 4));
  return buf;
}

export function i32(...values: number[]): Buffer {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => buf.writeInt32BE(value, i * 4));
  return buf;
}

export function u64(value: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(BigInt(value));
  return buf;
}

function concat(parts: Bytes[]): Buffer {
  return Buffer.concat(parts.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part))));
}

/** A box with a 32-bit size. */
export function box(type: string, ...parts: Bytes[]): Buffer {
  const body = concat(parts);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
}

/** A box using the 64-bit largesize form (size field 1). */
export function largeBox(type: string, ...parts: Bytes[]): Buffer {
  const body = concat(parts);
  return Buffer.concat([u32(1), Buffer.from(type, 'latin1'), u64(16 + body.length), body]);
}

export function fullBox(type: string, version: number, flags: number, ...parts: Bytes[]): Buffer {
  return box(type, u8(version), u8((flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff), ...parts);
}

/** MSB-first bit packing of [value, width] fields, zero-padded to whole bytes. */
export function bits(fields: [value: number, width: number][]): Buffer {
  const out: number[] = [];
  let bitCount = 0;
  for (const [value, width] of fields) {
    for (let i = width - 1; i >= 0; i--) {
      if (bitCount % 8 === 0) out.push(0);
      const bit = Math.floor(value / 2 ** i) % 2;
      out[out.length - 1]! |= bit << (7 - (bitCount % 8));
      bitCount++;
    }
  }
  return Buffer.from(out);
}

/** A visual sample entry (78 bytes of fields) with child boxes such as avcC or pasp. */
export function visualSampleEntry(type: string, width: number, height: number, ...children: Buffer[]): Buffer {
  const fields = Buffer.alloc(78);
  fields.writeUInt16BE(1, 6); // data_reference_index
  fields.writeUInt16BE(width, 24);
  fields.writeUInt16BE(height, 26);
  fields.writeUInt32BE(0x00480000, 28); // 72 dpi
  fields.writeUInt32BE(0x00480000, 32);
  fields.writeUInt16BE(1, 40); // frame_count
  fields.writeUInt16BE(0x18, 74); // depth
  fields.writeInt16BE(-1, 76);
  return box(type, fields, ...children);
}

/** An audio sample entry (28 bytes of fields, optionally a QuickTime v1 extension) with children. */
export function audioSampleEntry(type: string, channels: number, sampleRate: number, children: Buffer[], soundVersion = 0): Buffer {
  const fields = Buffer.alloc(28 + (soundVersion === 1 ? 16 : 0));
  fields.writeUInt16BE(1, 6);
  fields.writeUInt16BE(soundVersion, 8);
  fields.writeUInt16BE(channels, 16);
  fields.writeUInt16BE(16, 18);
  fields.writeUInt32BE(sampleRate * 65536, 24);
  return box(type, fields, ...children);
}

export interface TrackSpec {
  trackId?: number;
  handler: 'vide' | 'soun';
  timescale: number;
  sampleEntry: Buffer;
  /** tkhd presentation size; 0×0 (as for audio) when left out. */
  displaySize?: [width: number, height: number];
  /** elst media_time, when the track should carry an edit list. */
  editMediaTime?: number;
  trex?: { duration: number; size: number; flags: number };
  /** The sample table's sizes (a file with the samples in moov); none, as in an init segment, when left out. */
  sampleSizes?: number[];
  /** Write the sizes as a compact stz2 table (16-bit fields) instead of stsz. */
  compactSizes?: boolean;
}

function sampleSizeTable(spec: TrackSpec): Buffer {
  const sizes = spec.sampleSizes ?? [];
  if (spec.compactSizes) return fullBox('stz2', 0, 0, u8(0, 0, 0, 16), u32(sizes.length), u16(...sizes));
  return fullBox('stsz', 0, 0, u32(0, sizes.length), u32(...sizes));
}

/** The trak of one track, and its trex for moov/mvex. */
function track(spec: TrackSpec): { trak: Buffer; trex: Buffer } {
  const trackId = spec.trackId ?? 1;
  const tkhd = fullBox('tkhd', 0, 3, u32(0, 0, trackId, 0, 0), Buffer.alloc(8 + 8), u32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000), u32(...(spec.displaySize ?? [0, 0]).map((size) => size * 65536)));
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, spec.timescale, 0), u16(0x55c4, 0)); // "und"
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from(spec.handler), u32(0, 0, 0), u8(0));
  const stsd = fullBox('stsd', 0, 0, u32(1), spec.sampleEntry);
  const stbl = box('stbl', stsd, fullBox('stts', 0, 0, u32(0)), fullBox('stsc', 0, 0, u32(0)), sampleSizeTable(spec), fullBox('stco', 0, 0, u32(0)));
  const minf = box('minf', box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1))), stbl);
  const edts = spec.editMediaTime === undefined ? [] : [box('edts', fullBox('elst', 0, 0, u32(1, 0), i32(spec.editMediaTime), u32(0x10000)))];
  const trex = spec.trex ?? { duration: 0, size: 0, flags: 0 };
  return { trak: box('trak', tkhd, ...edts, box('mdia', mdhd, hdlr, minf)), trex: fullBox('trex', 0, 0, u32(trackId, 1, trex.duration, trex.size, trex.flags)) };
}

/** A moov with these tracks, in this order (mvex too, so fragments may follow). */
export function movieBox(specs: TrackSpec[]): Buffer {
  const tracks = specs.map(track);
  const nextTrackId = Math.max(...specs.map((spec) => spec.trackId ?? 1)) + 1;
  const mvhd = fullBox('mvhd', 0, 0, u32(0, 0, 1000, 0, 0x10000), u16(0x100, 0), Buffer.alloc(8 + 36 + 24), u32(nextTrackId));
  return box('moov', mvhd, ...tracks.map((t) => t.trak), box('mvex', ...tracks.map((t) => t.trex)));
}

export function ftypBox(): Buffer {
  return box('ftyp', Buffer.from('iso6'), u32(0), Buffer.from('iso6cmfc'));
}

/** ftyp + moov with one track, shaped like ffmpeg's CMAF init segments. */
export function initSegment(spec: TrackSpec): Buffer {
  return Buffer.concat([ftypBox(), movieBox([spec])]);
}

export interface RunSample {
  duration?: number;
  size?: number;
  flags?: number;
  compositionOffset?: number;
}

export interface TrunSpec {
  version?: number;
  dataOffset?: number;
  firstSampleFlags?: number;
  samples: RunSample[];
}

/** A trun whose flags say which fields are present, taken from the first sample that has them. */
export function trun(spec: TrunSpec): Buffer {
  const first = spec.samples[0] ?? {};
  const flags =
    (spec.dataOffset !== undefined ? 0x1 : 0) |
    (spec.firstSampleFlags !== undefined ? 0x4 : 0) |
    (first.duration !== undefined ? 0x100 : 0) |
    (first.size !== undefined ? 0x200 : 0) |
    (first.flags !== undefined ? 0x400 : 0) |
    (first.compositionOffset !== undefined ? 0x800 : 0);
  const header: Buffer[] = [u32(spec.samples.length)];
  if (spec.dataOffset !== undefined) header.push(i32(spec.dataOffset));
  if (spec.firstSampleFlags !== undefined) header.push(u32(spec.firstSampleFlags));
  const perSample = spec.samples.flatMap((sample) => [
    ...(flags & 0x100 ? [u32(sample.duration!)] : []),
    ...(flags & 0x200 ? [u32(sample.size!)] : []),
    ...(flags & 0x400 ? [u32(sample.flags!)] : []),
    ...(flags & 0x800 ? [i32(sample.compositionOffset!)] : []),
  ]);
  return fullBox('trun', spec.version ?? 0, flags, ...header, ...perSample);
}

export interface TfhdSpec {
  trackId: number;
  baseDataOffset?: number;
  defaultSampleDuration?: number;
  defaultSampleSize?: number;
  defaultSampleFlags?: number;
  defaultBaseIsMoof?: boolean;
}

export function tfhd(spec: TfhdSpec): Buffer {
  const parts: Buffer[] = [u32(spec.trackId)];
  let flags = spec.defaultBaseIsMoof ? 0x20000 : 0;
  if (spec.baseDataOffset !== undefined) (flags |= 0x1), parts.push(u64(spec.baseDataOffset));
  if (spec.defaultSampleDuration !== undefined) (flags |= 0x8), parts.push(u32(spec.defaultSampleDuration));
  if (spec.defaultSampleSize !== undefined) (flags |= 0x10), parts.push(u32(spec.defaultSampleSize));
  if (spec.defaultSampleFlags !== undefined) (flags |= 0x20), parts.push(u32(spec.defaultSampleFlags));
  return fullBox('tfhd', 0, flags, ...parts);
}

export function tfdt(baseMediaDecodeTime: number, version = 1): Buffer {
  return fullBox('tfdt', version, 0, version === 1 ? u64(baseMediaDecodeTime) : u32(baseMediaDecodeTime));
}

export const SYNC_FLAGS = 0x02000000;
export const NON_SYNC_FLAGS = 0x01010000;

export interface SimpleFragmentSpec {
  sequence: number;
  trackId?: number;
  baseMediaDecodeTime: number;
  /** Per-sample duration, size and sync flag; data is filled with the sample index. */
  samples: { duration: number; size: number; sync: boolean; compositionOffset?: number }[];
}

/** moof + mdat the way CMAF packagers write them: default-base-is-moof and a trun data_offset. */
export function cmafFragment(spec: SimpleFragmentSpec): Buffer {
  const build = (dataOffset: number) =>
    box(
      'moof',
      fullBox('mfhd', 0, 0, u32(spec.sequence)),
      box(
        'traf',
        tfhd({ trackId: spec.trackId ?? 1, defaultBaseIsMoof: true }),
        tfdt(spec.baseMediaDecodeTime),
        trun({
          version: 1,
          dataOffset,
          samples: spec.samples.map((sample) => ({
            duration: sample.duration,
            size: sample.size,
            flags: sample.sync ? SYNC_FLAGS : NON_SYNC_FLAGS,
            compositionOffset: sample.compositionOffset ?? 0,
          })),
        }),
      ),
    );
  const data = Buffer.concat(spec.samples.map((sample, index) => Buffer.alloc(sample.size, index + 1)));
  return moofAndMdat(build, data);
}

/**
 * A moof followed by an mdat of `data`. `buildMoof` receives the trun data_offset that points at
 * the mdat payload, counted from the moof start; it is called twice, first to learn the moof size.
 */
export function moofAndMdat(buildMoof: (dataOffset: number) => Buffer, data: Buffer): Buffer {
  const moofLength = buildMoof(0).length;
  return Buffer.concat([buildMoof(moofLength + 8), box('mdat', data)]);
}
