/**
 * A small ISO-BMFF (ISO/IEC 14496-12) reader over a Buffer: enough of the box tree and of the
 * codec configuration records to measure what vidpipe wrote, without trusting encoder settings.
 * Every read is bounds-checked: a truncated or malformed file throws a VidpipeError instead of
 * yielding garbage numbers that would end up in a manifest.
 */
import { VidpipeError } from '../errors.js';

export interface Box {
  type: string;
  /** Offset of the box's first byte (its size field) in the buffer. */
  start: number;
  /** Size of size + type (+ largesize, + usertype for 'uuid'). */
  headerSize: number;
  /** Offset one past the box's last byte. */
  end: number;
}

export function malformed(detail: string): VidpipeError {
  return new VidpipeError('VALIDATION_FAILED', `malformed MP4: ${detail}`);
}

export function payloadStart(box: Box): number {
  return box.start + box.headerSize;
}

/** Big-endian cursor with bounds checks, so each box parser reads like its syntax table. */
export class ByteReader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
    private readonly limit: number = buf.length,
  ) {}

  get remaining(): number {
    return this.limit - this.pos;
  }

  private take(n: number): number {
    if (n > this.remaining) throw malformed(`read of ${n} bytes at ${this.pos} runs past ${this.limit}`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  skip(n: number): void {
    this.take(n);
  }
  u8(): number {
    return this.buf.readUInt8(this.take(1));
  }
  u16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }
  i16(): number {
    return this.buf.readInt16BE(this.take(2));
  }
  u24(): number {
    return this.buf.readUIntBE(this.take(3), 3);
  }
  u32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }
  i32(): number {
    return this.buf.readInt32BE(this.take(4));
  }
  /** 64-bit value as a Number; anything beyond 2^53 is treated as corruption, not silently rounded. */
  u64(): number {
    const value = this.buf.readBigUInt64BE(this.take(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`64-bit value ${value} at ${this.pos - 8} is too large`);
    return Number(value);
  }
  i64(): number {
    const value = this.buf.readBigInt64BE(this.take(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw malformed(`64-bit value ${value} at ${this.pos - 8} is out of range`);
    }
    return Number(value);
  }
  /** A 32-bit or 64-bit unsigned field, as full boxes switch on version. */
  uintV(version: number): number {
    return version === 1 ? this.u64() : this.u32();
  }
  fourcc(): string {
    const at = this.take(4);
    return this.buf.toString('latin1', at, at + 4);
  }
  bytes(n: number): Buffer {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
}

/** MSB-first bit reader for bit-packed structures (AudioSpecificConfig). */
export class BitReader {
  private bit = 0;
  constructor(private readonly bytes: Buffer) {}

  get remaining(): number {
    return this.bytes.length * 8 - this.bit;
  }

  read(count: number): number {
    if (count > this.remaining) throw malformed(`bit field of ${count} bits runs past the end`);
    let value = 0;
    for (let i = 0; i < count; i++) {
      const byte = this.bytes[(this.bit + i) >> 3]!;
      value = value * 2 + ((byte >> (7 - ((this.bit + i) & 7))) & 1);
    }
    this.bit += count;
    return value;
  }
}

/** Reads the sibling boxes laid out in [start, end). */
export function readBoxes(buf: Buffer, start = 0, end = buf.length): Box[] {
  const boxes: Box[] = [];
  let pos = start;
  while (pos < end) {
    const box = readBoxHeader(buf, pos, end);
    boxes.push(box);
    pos = box.end;
  }
  return boxes;
}

function readBoxHeader(buf: Buffer, start: number, limit: number): Box {
  const reader = new ByteReader(buf, start, limit);
  let size = reader.u32();
  const type = reader.fourcc();
  if (size === 1) size = reader.u64();
  else if (size === 0) size = limit - start; // "extends to the end of the file"
  if (type === 'uuid') reader.skip(16);
  const headerSize = reader.pos - start;
  if (size < headerSize || start + size > limit) {
    throw malformed(`box '${type}' at ${start} declares ${size} bytes but only ${limit - start} are available`);
  }
  return { type, start, headerSize, end: start + size };
}

const PLAIN_CONTAINERS = new Set([
  'moov', 'trak', 'mdia', 'minf', 'stbl', 'moof', 'traf', 'mvex', 'edts', 'dinf', 'sinf', 'schi', 'udta', 'mfra', 'tref', 'rinf',
]);
/** Containers that start with a full-box header (+ an entry count for the lists). */
const FULL_BOX_CONTAINER_SKIP: Record<string, number> = { meta: 4, stsd: 8, dref: 8 };
/** Visual sample entries: fixed VisualSampleEntry fields, then child boxes (avcC, colr, pasp …). */
const VISUAL_ENTRIES = new Set(['avc1', 'avc2', 'avc3', 'avc4', 'hvc1', 'hev1', 'dvh1', 'dvhe', 'av01', 'vp08', 'vp09', 'mp4v', 'encv']);
const AUDIO_ENTRIES = new Set(['mp4a', 'Opus', 'fLaC', 'ac-3', 'ec-3', 'ac-4', 'alac', 'enca']);
const VISUAL_ENTRY_FIELDS = 78;
const AUDIO_ENTRY_FIELDS = 28;

/** Where the child boxes of `box` start, or undefined when it is not a container this reader knows. */
function childOffset(buf: Buffer, box: Box): number | undefined {
  const start = payloadStart(box);
  if (PLAIN_CONTAINERS.has(box.type)) return start;
  const skip = FULL_BOX_CONTAINER_SKIP[box.type];
  if (skip !== undefined) return start + skip;
  if (VISUAL_ENTRIES.has(box.type)) return start + VISUAL_ENTRY_FIELDS;
  if (AUDIO_ENTRIES.has(box.type)) {
    // QuickTime sound description versions 1 and 2 append 16 / 36 bytes to the ISO layout.
    const soundVersion = new ByteReader(buf, start + 8, box.end).u16();
    return start + AUDIO_ENTRY_FIELDS + (soundVersion === 1 ? 16 : soundVersion === 2 ? 36 : 0);
  }
  return undefined;
}

export function childBoxes(buf: Buffer, box: Box): Box[] {
  const offset = childOffset(buf, box);
  if (offset === undefined || offset > box.end) return [];
  return readBoxes(buf, offset, box.end);
}

/**
 * All boxes matching a '/'-separated path of types, e.g. "moov/trak/mdia/mdhd", searched
 * from the top level of `buf` or from the children of `within`.
 */
export function findBoxes(buf: Buffer, path: string, within?: Box): Box[] {
  let level = within ? childBoxes(buf, within) : readBoxes(buf);
  const types = path.split('/');
  for (let i = 0; i < types.length; i++) {
    const matching = level.filter((box) => box.type === types[i]);
    if (i === types.length - 1) return matching;
    level = matching.flatMap((box) => childBoxes(buf, box));
  }
  return [];
}

export function findBox(buf: Buffer, path: string, within?: Box): Box | undefined {
  return findBoxes(buf, path, within)[0];
}

export function requireBox(buf: Buffer, path: string, within?: Box): Box {
  const box = findBox(buf, path, within);
  if (!box) throw malformed(`no '${path}' box${within ? ` in '${within.type}' at ${within.start}` : ''}`);
  return box;
}

/** A reader over a box's payload, stopping at the box's end. */
export function boxReader(buf: Buffer, box: Box): ByteReader {
  return new ByteReader(buf, payloadStart(box), box.end);
}

export interface FullBoxHeader {
  version: number;
  flags: number;
  /** Reader positioned after version and flags. */
  reader: ByteReader;
}

export function readFullBox(buf: Buffer, box: Box): FullBoxHeader {
  const reader = boxReader(buf, box);
  const version = reader.u8();
  const flags = reader.u24();
  return { version, flags, reader };
}

// ---- moov ---------------------------------------------------------------------------------

export interface MediaHeader {
  timescale: number;
  duration: number;
  /** ISO 639-2/T code packed in mdhd, e.g. "eng" or "und". */
  language: string;
}

export function parseMdhd(buf: Buffer, box: Box): MediaHeader {
  const { version, reader } = readFullBox(buf, box);
  reader.skip(version === 1 ? 16 : 8); // creation and modification times
  const timescale = reader.u32();
  const duration = reader.uintV(version);
  const packed = reader.u16();
  const language = [10, 5, 0].map((shift) => String.fromCharCode(((packed >> shift) & 0x1f) + 0x60)).join('');
  if (timescale === 0) throw malformed('mdhd timescale is 0');
  return { timescale, duration, language };
}

/**
 * A copy of an init segment whose every track's media header says `language` (ISO 639-2/T,
 * three lowercase letters): ffmpeg's dash muxer writes "und" whatever its input said.
 */
export function withMdhdLanguage(init: Buffer, language: string): Buffer {
  if (!/^[a-z]{3}$/.test(language)) throw new VidpipeError('INTERNAL', `not an ISO 639-2 code: ${JSON.stringify(language)}`);
  const packed = [...language].reduce((code, c) => (code << 5) | (c.charCodeAt(0) - 0x60), 0);
  const out = Buffer.from(init);
  for (const box of findBoxes(out, 'moov/trak/mdia/mdhd')) {
    const { version } = readFullBox(out, box);
    // version and flags, creation and modification times, timescale, duration
    const at = payloadStart(box) + 4 + (version === 1 ? 16 : 8) + 4 + (version === 1 ? 8 : 4);
    if (at + 2 > box.end) throw malformed('mdhd too short for its language');
    out.writeUInt16BE(packed, at);
  }
  return out;
}

/** The handler type: 'vide', 'soun', 'text', 'subt' … */
export function parseHdlr(buf: Buffer, box: Box): string {
  const { reader } = readFullBox(buf, box);
  reader.skip(4); // pre_defined
  return reader.fourcc();
}

export interface TrackHeader {
  trackId: number;
  /** Presentation size (16.16 fixed point in the box), after any pasp scaling the muxer applied. */
  width: number;
  height: number;
}

export function parseTkhd(buf: Buffer, box: Box): TrackHeader {
  const { version, reader } = readFullBox(buf, box);
  reader.skip(version === 1 ? 16 : 8);
  const trackId = reader.u32();
  reader.skip(4); // reserved
  reader.uintV(version); // duration
  reader.skip(8 + 2 + 2 + 2 + 2 + 36); // reserved, layer, alternate_group, volume, reserved, matrix
  const width = reader.u32() / 65536;
  const height = reader.u32() / 65536;
  return { trackId, width, height };
}

export interface EditListEntry {
  /** In movie (mvhd) timescale. */
  segmentDuration: number;
  /** In media (mdhd) timescale; -1 marks an empty edit. */
  mediaTime: number;
  mediaRate: number;
}

export function parseElst(buf: Buffer, box: Box): EditListEntry[] {
  const { version, reader } = readFullBox(buf, box);
  const count = reader.u32();
  const entries: EditListEntry[] = [];
  for (let i = 0; i < count; i++) {
    const segmentDuration = reader.uintV(version);
    const mediaTime = version === 1 ? reader.i64() : reader.i32();
    const mediaRate = reader.i32() / 65536;
    entries.push({ segmentDuration, mediaTime, mediaRate });
  }
  return entries;
}

export interface TrackExtends {
  trackId: number;
  defaultSampleDescriptionIndex: number;
  defaultSampleDuration: number;
  defaultSampleSize: number;
  defaultSampleFlags: number;
}

export function parseTrex(buf: Buffer, box: Box): TrackExtends {
  const { reader } = readFullBox(buf, box);
  return {
    trackId: reader.u32(),
    defaultSampleDescriptionIndex: reader.u32(),
    defaultSampleDuration: reader.u32(),
    defaultSampleSize: reader.u32(),
    defaultSampleFlags: reader.u32(),
  };
}

/** The trex boxes of an init segment's moov/mvex (one per track). */
export function readTrackExtends(init: Buffer): TrackExtends[] {
  return findBoxes(init, 'moov/mvex/trex').map((box) => parseTrex(init, box));
}

// ---- sample description -------------------------------------------------------------------

export interface SampleEntry {
  box: Box;
  /** The sample entry 4cc, e.g. 'avc1', 'hev1', 'mp4a', 'Opus'. */
  type: string;
  /** The codec 4cc: same as `type`, except for encrypted entries, where it comes from sinf/frma. */
  format: string;
  kind: 'visual' | 'audio' | 'other';
  /** Coded size, for visual entries. */
  width?: number;
  height?: number;
  /** For audio entries. */
  channelCount?: number;
  /** Integer part of the 16.16 samplerate field; 0 when the rate does not fit (> 65535). */
  sampleRate?: number;
  children: Box[];
}

/** The sample entries listed in an stsd box. */
export function parseStsd(buf: Buffer, box: Box): SampleEntry[] {
  return childBoxes(buf, box).map((entry) => parseSampleEntry(buf, entry));
}

function parseSampleEntry(buf: Buffer, box: Box): SampleEntry {
  const children = childBoxes(buf, box);
  const sinf = children.find((child) => child.type === 'sinf');
  const originalFormat = sinf ? findBox(buf, 'frma', sinf) : undefined;
  const format = originalFormat ? boxReader(buf, originalFormat).fourcc() : box.type;
  const reader = boxReader(buf, box);
  reader.skip(8); // reserved[6], data_reference_index
  if (VISUAL_ENTRIES.has(box.type)) {
    reader.skip(16); // pre_defined, reserved, pre_defined[3]
    const width = reader.u16();
    const height = reader.u16();
    return { box, type: box.type, format, kind: 'visual', width, height, children };
  }
  if (AUDIO_ENTRIES.has(box.type)) {
    reader.skip(8); // reserved[2] (QuickTime: version, revision, vendor)
    const channelCount = reader.u16();
    reader.skip(6); // samplesize, pre_defined, reserved
    const sampleRate = reader.u32() >>> 16;
    return { box, type: box.type, format, kind: 'audio', channelCount, sampleRate, children };
  }
  return { box, type: box.type, format, kind: 'other', children };
}

export interface AvcConfig {
  profileIdc: number;
  /** constraint_set flags byte (profile_compatibility). */
  constraintFlags: number;
  levelIdc: number;
}

export function parseAvcC(buf: Buffer, box: Box): AvcConfig {
  const reader = boxReader(buf, box);
  reader.skip(1); // configurationVersion
  return { profileIdc: reader.u8(), constraintFlags: reader.u8(), levelIdc: reader.u8() };
}

export interface HevcConfig {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  /** general_profile_compatibility_flags as stored (flag 0 is the most significant bit). */
  compatibilityFlags: number;
  /** The 6 bytes of general constraint indicator flags. */
  constraintBytes: number[];
  levelIdc: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
}

export function parseHvcC(buf: Buffer, box: Box): HevcConfig {
  const reader = boxReader(buf, box);
  reader.skip(1); // configurationVersion
  const byte = reader.u8();
  const compatibilityFlags = reader.u32();
  const constraintBytes = [...reader.bytes(6)];
  const levelIdc = reader.u8();
  reader.skip(4); // min_spatial_segmentation_idc, parallelismType
  const chromaFormatIdc = reader.u8() & 0x03;
  const bitDepthLuma = (reader.u8() & 0x07) + 8;
  return {
    profileSpace: byte >> 6,
    tierFlag: (byte >> 5) & 1,
    profileIdc: byte & 0x1f,
    compatibilityFlags,
    constraintBytes,
    levelIdc,
    chromaFormatIdc,
    bitDepthLuma,
  };
}

export interface Av1Config {
  profile: number;
  level: number;
  tier: number;
  bitDepth: number;
  monochrome: boolean;
}

export function parseAv1C(buf: Buffer, box: Box): Av1Config {
  const reader = boxReader(buf, box);
  reader.skip(1); // marker, version
  const profileLevel = reader.u8();
  const flags = reader.u8();
  const highBitdepth = (flags >> 6) & 1;
  const twelveBit = (flags >> 5) & 1;
  return {
    profile: profileLevel >> 5,
    level: profileLevel & 0x1f,
    tier: flags >> 7,
    bitDepth: highBitdepth ? (twelveBit ? 12 : 10) : 8,
    monochrome: ((flags >> 4) & 1) === 1,
  };
}

export interface EsDescriptor {
  /** MPEG-4 objectTypeIndication: 0x40 for MPEG-4 Audio (AAC). */
  objectTypeIndication: number;
  /** DecoderSpecificInfo bytes (the AudioSpecificConfig for AAC); empty when absent. */
  decoderSpecificInfo: Buffer;
}

const ES_DESCRIPTOR_TAG = 0x03;
const DECODER_CONFIG_TAG = 0x04;
const DECODER_SPECIFIC_INFO_TAG = 0x05;

/** Descriptor sizes use 7 bits per byte with a continuation bit (ISO/IEC 14496-1 expandable class). */
function readDescriptorHeader(reader: ByteReader): { tag: number; size: number } {
  const tag = reader.u8();
  let size = 0;
  for (let i = 0; i < 4; i++) {
    const byte = reader.u8();
    size = size * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) break;
  }
  return { tag, size };
}

export function parseEsds(buf: Buffer, box: Box): EsDescriptor {
  const { reader } = readFullBox(buf, box);
  const es = readDescriptorHeader(reader);
  if (es.tag !== ES_DESCRIPTOR_TAG) throw malformed(`esds starts with descriptor tag ${es.tag}, expected 3`);
  reader.skip(2); // ES_ID
  const esFlags = reader.u8();
  if (esFlags & 0x80) reader.skip(2); // dependsOn_ES_ID
  if (esFlags & 0x40) reader.skip(reader.u8()); // URL
  if (esFlags & 0x20) reader.skip(2); // OCR_ES_Id
  const config = readDescriptorHeader(reader);
  if (config.tag !== DECODER_CONFIG_TAG) throw malformed(`esds has descriptor tag ${config.tag} where DecoderConfigDescriptor belongs`);
  const configEnd = reader.pos + config.size;
  const objectTypeIndication = reader.u8();
  reader.skip(12); // streamType, bufferSizeDB, maxBitrate, avgBitrate
  if (reader.pos >= configEnd) return { objectTypeIndication, decoderSpecificInfo: Buffer.alloc(0) };
  const info = readDescriptorHeader(reader);
  if (info.tag !== DECODER_SPECIFIC_INFO_TAG) return { objectTypeIndication, decoderSpecificInfo: Buffer.alloc(0) };
  return { objectTypeIndication, decoderSpecificInfo: reader.bytes(info.size) };
}

export interface AudioSpecificConfig {
  /** The core object type: 2 for AAC-LC, also under SBR/PS. */
  audioObjectType: number;
  /** SBR explicitly signalled (hierarchically, AOT 5/29, or by the backward-compatible 0x2b7 extension). */
  sbr: boolean;
  /** Parametric stereo explicitly signalled. */
  ps: boolean;
  samplingFrequency: number;
  /** Output rate when SBR doubles it, else equal to samplingFrequency. */
  extensionSamplingFrequency: number;
  channelConfiguration: number;
}

const AAC_SAMPLING_FREQUENCIES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
const AOT_SBR = 5;
const AOT_PS = 29;
const SYNC_EXTENSION_SBR = 0x2b7;
const SYNC_EXTENSION_PS = 0x548;

function readAudioObjectType(bits: BitReader): number {
  const aot = bits.read(5);
  return aot === 31 ? 32 + bits.read(6) : aot;
}

function readSamplingFrequency(bits: BitReader): number {
  const index = bits.read(4);
  if (index === 0x0f) return bits.read(24);
  const frequency = AAC_SAMPLING_FREQUENCIES[index];
  if (frequency === undefined) throw malformed(`reserved AAC sampling frequency index ${index}`);
  return frequency;
}

/** ISO/IEC 14496-3 §1.6.2.1, including explicit SBR/PS signalling (both hierarchical and backward-compatible). */
export function parseAudioSpecificConfig(asc: Buffer): AudioSpecificConfig {
  const bits = new BitReader(asc);
  let audioObjectType = readAudioObjectType(bits);
  const samplingFrequency = readSamplingFrequency(bits);
  const channelConfiguration = bits.read(4);
  const result: AudioSpecificConfig = {
    audioObjectType,
    sbr: false,
    ps: false,
    samplingFrequency,
    extensionSamplingFrequency: samplingFrequency,
    channelConfiguration,
  };
  if (audioObjectType === AOT_SBR || audioObjectType === AOT_PS) {
    result.sbr = true;
    result.ps = audioObjectType === AOT_PS;
    result.extensionSamplingFrequency = readSamplingFrequency(bits);
    audioObjectType = readAudioObjectType(bits);
    result.audioObjectType = audioObjectType;
    return result;
  }
  readBackwardCompatibleExtension(bits, result);
  return result;
}

/**
 * The backward-compatible signalling appends an SBR/PS extension after the GASpecificConfig of
 * an AAC-LC config. ffmpeg's own AAC encoder writes it with sbrPresentFlag 0, so the flag must be
 * read, not just the sync word. Only plain LC with a channel configuration is walked: other
 * object types carry GASpecificConfig variants this reader does not need.
 */
function readBackwardCompatibleExtension(bits: BitReader, result: AudioSpecificConfig): void {
  if (result.audioObjectType !== 2 || result.channelConfiguration === 0) return;
  bits.read(1); // frameLengthFlag
  if (bits.read(1)) bits.read(14); // dependsOnCoreCoder → coreCoderDelay
  bits.read(1); // extensionFlag (0 for AAC-LC)
  if (bits.remaining < 16 || bits.read(11) !== SYNC_EXTENSION_SBR) return;
  if (readAudioObjectType(bits) !== AOT_SBR) return;
  result.sbr = bits.read(1) === 1;
  if (!result.sbr) return;
  result.extensionSamplingFrequency = readSamplingFrequency(bits);
  if (bits.remaining >= 12 && bits.read(11) === SYNC_EXTENSION_PS) result.ps = bits.read(1) === 1;
}

export interface OpusConfig {
  outputChannelCount: number;
  preSkip: number;
  inputSampleRate: number;
  outputGain: number;
  channelMappingFamily: number;
}

export function parseDOps(buf: Buffer, box: Box): OpusConfig {
  const reader = boxReader(buf, box);
  reader.skip(1); // Version
  return {
    outputChannelCount: reader.u8(),
    preSkip: reader.u16(),
    inputSampleRate: reader.u32(),
    outputGain: reader.i16(),
    channelMappingFamily: reader.u8(),
  };
}

/**
 * What a Dolby sample entry's configuration says of its main programme (ETSI TS 102 366 Annex F):
 * `dac3` (AC-3) or `dec3` (E-AC-3, its first independent substream and the dependent substreams
 * that extend it).
 */
export interface DolbyConfig {
  /** Audio coding mode: 0 = 1+1, 1 = 1/0 (C), 2 = 2/0, … 7 = 3/2 (L C R Ls Rs). */
  acmod: number;
  lfeon: boolean;
  /** dec3 chan_loc of the dependent substreams: channels they add (0 for AC-3 or none). */
  chanLoc: number;
  /** The rate: dec3 data_rate, or dac3's bit_rate_code mapped to kb/s. */
  kbps: number;
}

/** Full-bandwidth channels per acmod (ETSI TS 102 366 Table 4.3). */
const DOLBY_ACMOD_CHANNELS = [2, 1, 2, 3, 3, 4, 4, 5];
/** chan_loc bits (8 … 0: Lc/Rc, Lrs/Rrs, Cs, Ts, Lsd/Rsd, Lw/Rw, Vhl/Vhr, Vhc, LFE2) that stand for a pair (Table F.6.1). */
const DOLBY_CHAN_LOC_PAIRS = new Set([8, 7, 4, 3, 2]);
const AC3_BIT_RATES = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640];

/** Channels a dac3/dec3 configuration decodes to, LFE included. */
export function dolbyChannelCount(config: DolbyConfig): number {
  let channels = DOLBY_ACMOD_CHANNELS[config.acmod]! + (config.lfeon ? 1 : 0);
  for (let bit = 8; bit >= 0; bit--) if (config.chanLoc & (1 << bit)) channels += DOLBY_CHAN_LOC_PAIRS.has(bit) ? 2 : 1;
  return channels;
}

/** AC3SpecificBox (F.4): fscod 2, bsid 5, bsmod 3, acmod 3, lfeon 1, bit_rate_code 5. */
export function parseDac3(buf: Buffer, box: Box): DolbyConfig {
  const bits = new BitReader(buf.subarray(payloadStart(box), box.end));
  bits.read(2 + 5 + 3);
  const acmod = bits.read(3);
  const lfeon = bits.read(1) === 1;
  const rate = AC3_BIT_RATES[bits.read(5)];
  if (rate === undefined) throw malformed('dac3 has a reserved bit_rate_code');
  return { acmod, lfeon, chanLoc: 0, kbps: rate };
}

/**
 * EC3SpecificBox (F.6): data_rate 13, num_ind_sub 3; per independent substream fscod 2, bsid 5,
 * reserved 1, asvc 1, bsmod 3, acmod 3, lfeon 1, reserved 3, num_dep_sub 4, then chan_loc 9 (or
 * a reserved bit). The first independent substream is the programme a decoder plays.
 */
export function parseDec3(buf: Buffer, box: Box): DolbyConfig {
  const bits = new BitReader(buf.subarray(payloadStart(box), box.end));
  const kbps = bits.read(13);
  bits.read(3);
  bits.read(2 + 5 + 1 + 1 + 3);
  const acmod = bits.read(3);
  const lfeon = bits.read(1) === 1;
  bits.read(3);
  const dependent = bits.read(4);
  const chanLoc = dependent > 0 ? bits.read(9) : 0;
  return { acmod, lfeon, chanLoc, kbps };
}

export interface ColourInfo {
  /** 'nclx' (ISO) or 'nclc' (QuickTime, no range flag). */
  colourType: 'nclx' | 'nclc';
  /** ITU-T H.273 code points. */
  primaries: number;
  transfer: number;
  matrix: number;
  fullRange?: boolean;
}

/** The colour parameters of a colr box, or undefined for ICC profiles. */
export function parseColr(buf: Buffer, box: Box): ColourInfo | undefined {
  const reader = boxReader(buf, box);
  const colourType = reader.fourcc();
  if (colourType !== 'nclx' && colourType !== 'nclc') return undefined;
  const primaries = reader.u16();
  const transfer = reader.u16();
  const matrix = reader.u16();
  if (colourType === 'nclc') return { colourType, primaries, transfer, matrix };
  return { colourType, primaries, transfer, matrix, fullRange: (reader.u8() & 0x80) !== 0 };
}

export interface PixelAspectRatio {
  hSpacing: number;
  vSpacing: number;
}

export function parsePasp(buf: Buffer, box: Box): PixelAspectRatio {
  const reader = boxReader(buf, box);
  return { hSpacing: reader.u32(), vSpacing: reader.u32() };
}

// ---- fragments ----------------------------------------------------------------------------

export interface SegmentIndexReference {
  /** 1: the reference points at another sidx, 0: at media (moof+mdat). */
  referenceType: number;
  referencedSize: number;
  subsegmentDuration: number;
  startsWithSap: boolean;
  sapType: number;
  sapDeltaTime: number;
}

export interface SegmentIndex {
  referenceId: number;
  timescale: number;
  earliestPresentationTime: number;
  firstOffset: number;
  references: SegmentIndexReference[];
}

export function parseSidx(buf: Buffer, box: Box): SegmentIndex {
  const { version, reader } = readFullBox(buf, box);
  const referenceId = reader.u32();
  const timescale = reader.u32();
  const earliestPresentationTime = reader.uintV(version);
  const firstOffset = reader.uintV(version);
  reader.skip(2); // reserved
  const count = reader.u16();
  const references: SegmentIndexReference[] = [];
  for (let i = 0; i < count; i++) {
    const typeAndSize = reader.u32();
    const subsegmentDuration = reader.u32();
    const sap = reader.u32();
    references.push({
      referenceType: typeAndSize >>> 31,
      referencedSize: typeAndSize & 0x7fffffff,
      subsegmentDuration,
      startsWithSap: sap >>> 31 === 1,
      sapType: (sap >>> 28) & 0x7,
      sapDeltaTime: sap & 0x0fffffff,
    });
  }
  return { referenceId, timescale, earliestPresentationTime, firstOffset, references };
}

export function parseMfhd(buf: Buffer, box: Box): number {
  return readFullBox(buf, box).reader.u32();
}

export const TFHD_BASE_DATA_OFFSET = 0x000001;
export const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x000002;
export const TFHD_DEFAULT_SAMPLE_DURATION = 0x000008;
export const TFHD_DEFAULT_SAMPLE_SIZE = 0x000010;
export const TFHD_DEFAULT_SAMPLE_FLAGS = 0x000020;
export const TFHD_DURATION_IS_EMPTY = 0x010000;
export const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;

export interface TrackFragmentHeader {
  trackId: number;
  flags: number;
  baseDataOffset?: number;
  sampleDescriptionIndex?: number;
  defaultSampleDuration?: number;
  defaultSampleSize?: number;
  defaultSampleFlags?: number;
  defaultBaseIsMoof: boolean;
}

export function parseTfhd(buf: Buffer, box: Box): TrackFragmentHeader {
  const { flags, reader } = readFullBox(buf, box);
  const optional = (flag: number, read: () => number) => (flags & flag ? read() : undefined);
  return {
    trackId: reader.u32(),
    flags,
    baseDataOffset: optional(TFHD_BASE_DATA_OFFSET, () => reader.u64()),
    sampleDescriptionIndex: optional(TFHD_SAMPLE_DESCRIPTION_INDEX, () => reader.u32()),
    defaultSampleDuration: optional(TFHD_DEFAULT_SAMPLE_DURATION, () => reader.u32()),
    defaultSampleSize: optional(TFHD_DEFAULT_SAMPLE_SIZE, () => reader.u32()),
    defaultSampleFlags: optional(TFHD_DEFAULT_SAMPLE_FLAGS, () => reader.u32()),
    defaultBaseIsMoof: (flags & TFHD_DEFAULT_BASE_IS_MOOF) !== 0,
  };
}

/** baseMediaDecodeTime, in track timescale units. */
export function parseTfdt(buf: Buffer, box: Box): number {
  const { version, reader } = readFullBox(buf, box);
  return reader.uintV(version);
}

export const TRUN_DATA_OFFSET = 0x000001;
export const TRUN_FIRST_SAMPLE_FLAGS = 0x000004;
export const TRUN_SAMPLE_DURATION = 0x000100;
export const TRUN_SAMPLE_SIZE = 0x000200;
export const TRUN_SAMPLE_FLAGS = 0x000400;
export const TRUN_SAMPLE_COMPOSITION_TIME_OFFSET = 0x000800;

/** Fields a trun may leave out, to be filled from tfhd and trex defaults. */
export interface TrunSample {
  duration?: number;
  size?: number;
  flags?: number;
  compositionOffset?: number;
}

export interface TrackRun {
  version: number;
  flags: number;
  /** Relative to the track fragment's base data offset. */
  dataOffset?: number;
  firstSampleFlags?: number;
  samples: TrunSample[];
}

export function parseTrun(buf: Buffer, box: Box): TrackRun {
  const { version, flags, reader } = readFullBox(buf, box);
  const count = reader.u32();
  const dataOffset = flags & TRUN_DATA_OFFSET ? reader.i32() : undefined;
  const firstSampleFlags = flags & TRUN_FIRST_SAMPLE_FLAGS ? reader.u32() : undefined;
  const bytesPerSample = [TRUN_SAMPLE_DURATION, TRUN_SAMPLE_SIZE, TRUN_SAMPLE_FLAGS, TRUN_SAMPLE_COMPOSITION_TIME_OFFSET].filter(
    (flag) => flags & flag,
  ).length * 4;
  // Checked up front so a corrupt count cannot make us allocate billions of sample objects.
  if (count * bytesPerSample > reader.remaining) throw malformed(`trun at ${box.start} lists ${count} samples that do not fit`);
  const samples: TrunSample[] = [];
  for (let i = 0; i < count; i++) {
    const sample: TrunSample = {};
    if (flags & TRUN_SAMPLE_DURATION) sample.duration = reader.u32();
    if (flags & TRUN_SAMPLE_SIZE) sample.size = reader.u32();
    if (flags & TRUN_SAMPLE_FLAGS) sample.flags = reader.u32();
    // Version 1 makes the offset signed so B-frame streams can start presentation at the decode time.
    if (flags & TRUN_SAMPLE_COMPOSITION_TIME_OFFSET) sample.compositionOffset = version === 0 ? reader.u32() : reader.i32();
    samples.push(sample);
  }
  return { version, flags, dataOffset, firstSampleFlags, samples };
}

/** sample_is_non_sync_sample is bit 16 of the sample flags (ISO/IEC 14496-12 §8.8.3.1). */
export function isSyncSampleFlags(flags: number): boolean {
  return (flags & 0x00010000) === 0;
}
