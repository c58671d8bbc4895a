/**
 * RFC 6381 codec strings and track facts taken from an init segment's bytes. ffmpeg's own
 * CODECS attributes are missing or wrong in several cases (see the reference, section C), so
 * manifests use these instead.
 */
import type { VideoRange } from '../manifest/model.js';
import {
  findBox,
  findBoxes,
  malformed,
  parseAudioSpecificConfig,
  parseAv1C,
  parseAvcC,
  parseColr,
  parseDac3,
  parseDec3,
  parseDOps,
  dolbyChannelCount,
  parseElst,
  parseEsds,
  parseHdlr,
  parseHvcC,
  parseMdhd,
  parsePasp,
  parseStsd,
  parseTkhd,
  requireBox,
  type AvcConfig,
  type Av1Config,
  type Box,
  type ColourInfo,
  type HevcConfig,
  type SampleEntry,
} from './mp4-boxes.js';

export type CodecFamily = 'h264' | 'hevc' | 'av1' | 'aac' | 'opus' | 'eac3' | 'other';

export interface InitDescription {
  trackId: number;
  /** hdlr handler type: 'vide', 'soun' … */
  handler: string;
  /** mdhd timescale: the unit of tfdt, trun durations and Segment times. */
  timescale: number;
  /** mdhd language (ISO 639-2/T), "und" when unset. */
  language: string;
  /** Sample entry 4cc (for encrypted entries, the original format). */
  sampleEntry: string;
  /** RFC 6381 codec string. */
  codecs: string;
  codec: CodecFamily;
  /** Coded size from the visual sample entry. */
  width?: number;
  height?: number;
  /** tkhd presentation size. */
  displayWidth?: number;
  displayHeight?: number;
  /** Sample aspect ratio from pasp, "1:1" when absent. Video only. */
  sar?: string;
  colour?: ColourInfo;
  /** From the colr transfer characteristics; SDR when the init carries no colr. Video only. */
  videoRange?: VideoRange;
  sampleRate?: number;
  channels?: number;
  /**
   * Media time the edit list starts presentation at (track timescale), e.g. the B-frame or
   * AAC priming delay ffmpeg hides with an edit; 0 without an edit list.
   */
  editMediaTime: number;
}

// ---- string builders ----------------------------------------------------------------------

const hex2 = (value: number) => value.toString(16).padStart(2, '0');

/** `avc1.PPCCLL`: profile_idc, constraint flags byte, level_idc from avcC bytes 1–3. */
export function avcCodecString(fourcc: string, config: AvcConfig): string {
  return `${fourcc}.${hex2(config.profileIdc)}${hex2(config.constraintFlags)}${hex2(config.levelIdc)}`;
}

function reverseBits32(value: number): number {
  let reversed = 0;
  for (let i = 0; i < 32; i++) reversed = (reversed * 2) + ((value >>> i) & 1);
  return reversed;
}

/**
 * ISO/IEC 14496-15 Annex E: `hvc1.<space><profile>.<compat reversed>.<tier><level>.<constraints>`.
 * Hex fields are upper-case without padding, as in the spec's examples (`hvc1.1.6.L93.B0`).
 */
export function hevcCodecString(fourcc: string, config: HevcConfig): string {
  const space = ['', 'A', 'B', 'C'][config.profileSpace];
  const compatibility = reverseBits32(config.compatibilityFlags).toString(16).toUpperCase();
  const tier = config.tierFlag ? 'H' : 'L';
  const constraints = [...config.constraintBytes];
  while (constraints.length > 0 && constraints[constraints.length - 1] === 0) constraints.pop();
  const constraintPart = constraints.map((byte) => `.${byte.toString(16).toUpperCase()}`).join('');
  return `${fourcc}.${space}${config.profileIdc}.${compatibility}.${tier}${config.levelIdc}${constraintPart}`;
}

/** AV1 ISOBMFF binding §5: `av01.<profile>.<level><tier>.<bitdepth>` (optional trailing fields omitted). */
export function av1CodecString(config: Av1Config): string {
  const level = String(config.level).padStart(2, '0');
  const depth = String(config.bitDepth).padStart(2, '0');
  return `av01.${config.profile}.${level}${config.tier ? 'H' : 'M'}.${depth}`;
}

const OTI_MPEG4_AUDIO = 0x40;

/**
 * `mp4a.40.<AOT>`, or `mp4a.<OTI>` for other MPEG-4 object types. Explicitly signalled SBR/PS is
 * reported as 5/29 whichever signalling form the config uses (hierarchical AOT 5/29 first, or
 * LC with the backward-compatible extension), since players pick decoders from this string.
 * Implicit SBR cannot be seen without decoding and stays 2.
 */
export function aacCodecString(objectTypeIndication: number, audioSpecificConfig: Buffer): string {
  if (objectTypeIndication !== OTI_MPEG4_AUDIO) return `mp4a.${hex2(objectTypeIndication).toUpperCase()}`;
  if (audioSpecificConfig.length === 0) throw malformed('mp4a esds has no AudioSpecificConfig');
  const asc = parseAudioSpecificConfig(audioSpecificConfig);
  if (asc.ps) return 'mp4a.40.29';
  if (asc.sbr) return 'mp4a.40.5';
  return `mp4a.40.${asc.audioObjectType}`;
}

// ---- init description ---------------------------------------------------------------------

/** The first audio or video track of an init segment (CMAF inits hold exactly one track). */
function mediaTrack(init: Buffer): { trak: Box; handler: string } {
  for (const trak of findBoxes(init, 'moov/trak')) {
    const hdlr = requireBox(init, 'mdia/hdlr', trak);
    const handler = parseHdlr(init, hdlr);
    if (handler === 'vide' || handler === 'soun') return { trak, handler };
  }
  throw malformed('init segment has no audio or video track');
}

function sampleEntryOf(init: Buffer, trak: Box): SampleEntry {
  const stsd = requireBox(init, 'mdia/minf/stbl/stsd', trak);
  const entry = parseStsd(init, stsd)[0];
  if (!entry) throw malformed('stsd has no sample entry');
  return entry;
}

function childOfEntry(entry: SampleEntry, type: string): Box | undefined {
  return entry.children.find((child) => child.type === type);
}

function requireChild(entry: SampleEntry, type: string): Box {
  const box = childOfEntry(entry, type);
  if (!box) throw malformed(`'${entry.type}' sample entry has no '${type}' box`);
  return box;
}

function codecFamily(format: string, codecs: string): CodecFamily {
  if (format === 'avc1' || format === 'avc3') return 'h264';
  if (format === 'hvc1' || format === 'hev1') return 'hevc';
  if (format === 'av01') return 'av1';
  if (format === 'Opus') return 'opus';
  if (format === 'ec-3') return 'eac3';
  if (codecs.startsWith('mp4a.40.')) return 'aac';
  return 'other';
}

function codecStringOf(init: Buffer, entry: SampleEntry): string {
  switch (entry.format) {
    case 'avc1':
    case 'avc3':
      return avcCodecString(entry.format, parseAvcC(init, requireChild(entry, 'avcC')));
    case 'hvc1':
    case 'hev1':
      return hevcCodecString(entry.format, parseHvcC(init, requireChild(entry, 'hvcC')));
    case 'av01':
      return av1CodecString(parseAv1C(init, requireChild(entry, 'av1C')));
    case 'mp4a': {
      const esds = parseEsds(init, requireChild(entry, 'esds'));
      return aacCodecString(esds.objectTypeIndication, esds.decoderSpecificInfo);
    }
    case 'Opus':
      // The sample entry is 'Opus', but DASH and HLS practice (and browsers' MSE) use lower case.
      return 'opus';
    case 'ec-3':
      // RFC 6381 / ETSI TS 102 366 Annex F: the sample entry's 4cc; a dec3 box must be there to decode it.
      requireChild(entry, 'dec3');
      return 'ec-3';
    default:
      return entry.format;
  }
}

export function reducedFraction(num: number, den: number): { num: number; den: number } {
  let [a, b] = [num, den];
  while (b !== 0) [a, b] = [b, a % b];
  return { num: num / a, den: den / a };
}

function sampleAspectRatio(init: Buffer, entry: SampleEntry): string {
  const pasp = childOfEntry(entry, 'pasp');
  if (!pasp) return '1:1';
  const { hSpacing, vSpacing } = parsePasp(init, pasp);
  if (hSpacing === 0 || vSpacing === 0) return '1:1';
  const ratio = reducedFraction(hSpacing, vSpacing);
  return `${ratio.num}:${ratio.den}`;
}

const TRANSFER_PQ = 16;
const TRANSFER_HLG = 18;

export function videoRangeOf(colour: ColourInfo | undefined): VideoRange {
  if (colour?.transfer === TRANSFER_PQ) return 'PQ';
  if (colour?.transfer === TRANSFER_HLG) return 'HLG';
  return 'SDR';
}

function colourOf(init: Buffer, entry: SampleEntry): ColourInfo | undefined {
  for (const colr of entry.children.filter((child) => child.type === 'colr')) {
    const colour = parseColr(init, colr);
    if (colour) return colour;
  }
  return undefined;
}

function editMediaTimeOf(init: Buffer, trak: Box): number {
  const elst = findBox(init, 'edts/elst', trak);
  const firstMediaEdit = elst ? parseElst(init, elst).find((entry) => entry.mediaTime >= 0) : undefined;
  return firstMediaEdit?.mediaTime ?? 0;
}

/** Channels per AAC channelConfiguration (ISO/IEC 14496-3 Table 1.19; 0 means "in a PCE"). */
const AAC_CHANNELS_BY_CONFIGURATION = [0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 7, 8, 24, 8];

function aacChannels(init: Buffer, entry: SampleEntry): number | undefined {
  const esds = childOfEntry(entry, 'esds');
  if (!esds) return undefined;
  const { objectTypeIndication, decoderSpecificInfo } = parseEsds(init, esds);
  if (objectTypeIndication !== OTI_MPEG4_AUDIO || decoderSpecificInfo.length === 0) return undefined;
  const asc = parseAudioSpecificConfig(decoderSpecificInfo);
  // Parametric stereo decodes a mono core to two channels.
  if (asc.ps) return 2;
  return AAC_CHANNELS_BY_CONFIGURATION[asc.channelConfiguration] || undefined;
}

/**
 * The sample entry's channelcount is not trustworthy: ffmpeg writes 2 for every mp4a track
 * (the ISO template value), mono included. The codec configuration says what is decoded.
 */
function audioChannels(init: Buffer, entry: SampleEntry): number | undefined {
  const dOps = entry.format === 'Opus' ? childOfEntry(entry, 'dOps') : undefined;
  if (dOps) return parseDOps(init, dOps).outputChannelCount;
  const fromConfig = entry.format === 'mp4a' ? aacChannels(init, entry) : dolbyChannels(init, entry);
  return fromConfig ?? entry.channelCount;
}

/** AC-3 and E-AC-3 say their layout in dac3/dec3 (ffmpeg writes channelcount 2 for 5.1 too). */
function dolbyChannels(init: Buffer, entry: SampleEntry): number | undefined {
  const dec3 = entry.format === 'ec-3' ? childOfEntry(entry, 'dec3') : undefined;
  if (dec3) return dolbyChannelCount(parseDec3(init, dec3));
  const dac3 = entry.format === 'ac-3' ? childOfEntry(entry, 'dac3') : undefined;
  return dac3 ? dolbyChannelCount(parseDac3(init, dac3)) : undefined;
}

/** Everything the manifests need to know about a track that its init segment can tell. */
export function describeInit(init: Buffer): InitDescription {
  const { trak, handler } = mediaTrack(init);
  const tkhd = parseTkhd(init, requireBox(init, 'tkhd', trak));
  const mdhd = parseMdhd(init, requireBox(init, 'mdia/mdhd', trak));
  const entry = sampleEntryOf(init, trak);
  const codecs = codecStringOf(init, entry);
  const description: InitDescription = {
    trackId: tkhd.trackId,
    handler,
    timescale: mdhd.timescale,
    language: mdhd.language,
    sampleEntry: entry.format,
    codecs,
    codec: codecFamily(entry.format, codecs),
    editMediaTime: editMediaTimeOf(init, trak),
  };
  if (entry.kind === 'visual') {
    const colour = colourOf(init, entry);
    Object.assign(description, {
      width: entry.width,
      height: entry.height,
      displayWidth: tkhd.width,
      displayHeight: tkhd.height,
      sar: sampleAspectRatio(init, entry),
      colour,
      videoRange: videoRangeOf(colour),
    });
  } else if (entry.kind === 'audio') {
    // The 16.16 field cannot hold rates above 65535 Hz; the media timescale then carries the rate.
    description.sampleRate = entry.sampleRate || mdhd.timescale;
    description.channels = audioChannels(init, entry);
  }
  return description;
}

export function codecStringFromInit(init: Buffer): string {
  return describeInit(init).codecs;
}
