/**
 * Turning a clear CMAF track (init segment + media segments of moof/mdat fragments) into a
 * Common Encryption one (ISO/IEC 23001-7), 'cenc' or 'cbcs', without changing any sample's size:
 * the init gets encv/enca entries with sinf and the pssh boxes; every track fragment gets its
 * samples encrypted and senc/saiz/saio, the moof grows, and trun data offsets and sidx sizes
 * follow.
 */
import { randomBytes } from 'node:crypto';
import { VidpipeError } from '../errors.js';
import {
  childBoxes,
  findBox,
  findBoxes,
  malformed,
  parseSidx,
  parseTfhd,
  parseTrun,
  payloadStart,
  readBoxes,
  readFullBox,
  requireBox,
  TFHD_BASE_DATA_OFFSET,
  TRUN_DATA_OFFSET,
  type Box,
} from '../media/mp4-boxes.js';
import {
  writeBox,
  writeSaio,
  writeSaiz,
  writeSenc,
  writeSinf,
  type SampleAuxInfo,
  type TrackEncryption,
} from './cenc-boxes.js';
import { readClearTracks, type ClearTrack } from './cenc-tracks.js';
import { encryptCbcsSample, encryptCencSample, NO_PATTERN, VIDEO_PATTERN } from './sample-crypto.js';
import { nalSubsamples } from './subsamples.js';

/** The key a track is encrypted with: both parts required (src/protection/keys.ts's ContentKey may lack the KID). */
export interface CencKey {
  /** 16 bytes. */
  kid: Buffer;
  /** 16 bytes (AES-128). */
  key: Buffer;
}

export interface CencSettings {
  scheme: 'cenc' | 'cbcs';
  key: CencKey;
  /**
   * 'cbcs': the 16-byte constant IV written into tenc and used for every sample. It is public
   * (it is in the init segment); the caller chooses it once per track and keeps it for the
   * segments. 'cenc' takes random 8-byte IVs per sample and ignores this.
   */
  constantIv?: Buffer;
  /**
   * Complete pssh boxes for the init's moov: a key provider's as given, or built with writePssh
   * (a W3C common one: commonPssh in cenc-boxes.ts).
   */
  pssh?: Buffer[];
}

const CENC_IV_SIZE = 8;

function checkSettings(settings: CencSettings): void {
  if (settings.key.kid.length !== 16) throw new VidpipeError('USAGE', `a key ID is 16 bytes, not ${settings.key.kid.length}`);
  if (settings.key.key.length !== 16) throw new VidpipeError('USAGE', `an AES-128 content key is 16 bytes, not ${settings.key.key.length}`);
  if (settings.scheme === 'cbcs' && settings.constantIv?.length !== 16) {
    throw new VidpipeError('INTERNAL', "'cbcs' needs a 16-byte constant IV");
  }
}

function trackEncryption(settings: CencSettings, track: ClearTrack): TrackEncryption {
  if (settings.scheme === 'cenc') {
    return { scheme: 'cenc', kid: settings.key.kid, perSampleIvSize: CENC_IV_SIZE, pattern: NO_PATTERN };
  }
  return {
    scheme: 'cbcs',
    kid: settings.key.kid,
    perSampleIvSize: 0,
    constantIv: settings.constantIv,
    pattern: track.codec === 'audio' ? NO_PATTERN : VIDEO_PATTERN,
  };
}

/** Writes a box's new size into its header (32-bit, or the 64-bit largesize). */
function setBoxSize(buf: Buffer, box: Box, size: number): void {
  if (buf.readUInt32BE(box.start) === 1) buf.writeBigUInt64BE(BigInt(size), box.start + 8);
  else {
    if (size > 0xffffffff) throw malformed(`box '${box.type}' would grow past 4 GiB`);
    buf.writeUInt32BE(size, box.start);
  }
}

/** Inserts `bytes` at `at`, growing every box of `enclosing` (which all contain `at`). */
function insertInto(buf: Buffer, enclosing: Box[], at: number, bytes: Buffer): Buffer {
  const out = Buffer.concat([buf.subarray(0, at), bytes, buf.subarray(at)]);
  for (const box of enclosing) setBoxSize(out, box, box.end - box.start + bytes.length);
  return out;
}

/** The boxes from moov down to the track's sample entry, outermost first. */
function entryPath(init: Buffer, trakIndex: number): Box[] {
  const moov = requireBox(init, 'moov');
  const trak = findBoxes(init, 'trak', moov)[trakIndex]!;
  const mdia = requireBox(init, 'mdia', trak);
  const minf = requireBox(init, 'minf', mdia);
  const stbl = requireBox(init, 'stbl', minf);
  const stsd = requireBox(init, 'stsd', stbl);
  const entry = childBoxes(init, stsd)[0]!;
  return [moov, trak, mdia, minf, stbl, stsd, entry];
}

function isOnePssh(bytes: Buffer): boolean {
  try {
    const boxes = readBoxes(bytes);
    return boxes.length === 1 && boxes[0]!.type === 'pssh';
  } catch {
    return false;
  }
}

/**
 * The protected init segment: each sample entry renamed encv/enca (its codec configuration kept)
 * with a sinf after its children, then the pssh boxes at the end of moov.
 */
export function protectInitSegment(clearInit: Buffer, settings: CencSettings): Buffer {
  checkSettings(settings);
  const tracks = readClearTracks(clearInit);
  let init: Buffer = Buffer.from(clearInit);
  tracks.forEach((track, index) => {
    const path = entryPath(init, index);
    const entry = path[path.length - 1]!;
    init.write(track.codec === 'audio' ? 'enca' : 'encv', entry.start + 4, 'latin1');
    init = insertInto(init, path, entry.end, writeSinf(track.entry.type, trackEncryption(settings, track)));
  });
  const pssh = settings.pssh ?? [];
  for (const box of pssh) if (!isOnePssh(box)) throw new VidpipeError('USAGE', 'a protection system header given for the init segments is not one pssh box');
  if (pssh.length > 0) {
    const moov = requireBox(init, 'moov');
    init = insertInto(init, [moov], moov.end, Buffer.concat(pssh));
  }
  return init;
}

interface SampleRange {
  start: number;
  size: number;
}

/**
 * Where each sample of a track fragment is, in the segment. The base is the moof: CMAF's
 * default-base-is-moof, or the first track fragment of a moof without any base flag.
 */
function trafSamples(segment: Buffer, moof: Box, traf: Box, first: boolean, track: ClearTrack): { samples: SampleRange[]; dataOffsetFields: number[] } {
  const header = parseTfhd(segment, requireBox(segment, 'tfhd', traf));
  if (header.flags & TFHD_BASE_DATA_OFFSET || (!header.defaultBaseIsMoof && !first)) {
    throw malformed(`track fragment of track ${track.trackId} at ${traf.start} is not based on its moof; vidpipe encrypts CMAF fragments (default-base-is-moof)`);
  }
  const samples: SampleRange[] = [];
  const dataOffsetFields: number[] = [];
  for (const trunBox of findBoxes(segment, 'trun', traf)) {
    const trun = parseTrun(segment, trunBox);
    if (!(trun.flags & TRUN_DATA_OFFSET) || trun.dataOffset === undefined) {
      throw malformed(`trun at ${trunBox.start} has no data offset`);
    }
    dataOffsetFields.push(payloadStart(trunBox) + 8);
    let pos = moof.start + trun.dataOffset;
    for (const sample of trun.samples) {
      const size = sample.size ?? header.defaultSampleSize ?? track.defaultSampleSize;
      if (pos + size > segment.length) throw malformed(`sample of ${size} bytes at ${pos} runs past the segment`);
      samples.push({ start: pos, size });
      pos += size;
    }
  }
  return { samples, dataOffsetFields };
}

/** Encrypts a fragment's samples in `out` (a copy of the segment) and returns their auxiliary information. */
function encryptSamples(out: Buffer, samples: SampleRange[], track: ClearTrack, settings: CencSettings): SampleAuxInfo[] {
  const nals = track.nals?.();
  const ivs = settings.scheme === 'cenc' ? randomBytes(CENC_IV_SIZE * samples.length) : Buffer.alloc(0);
  return samples.map(({ start, size }, index) => {
    const sample = out.subarray(start, start + size);
    const subsamples = nals ? nalSubsamples(sample, nals, settings.scheme) : undefined;
    if (settings.scheme === 'cenc') {
      const iv = ivs.subarray(index * CENC_IV_SIZE, (index + 1) * CENC_IV_SIZE);
      encryptCencSample(sample, settings.key.key, iv, subsamples);
      return { iv, subsamples };
    }
    encryptCbcsSample(sample, settings.key.key, settings.constantIv!, nals ? VIDEO_PATTERN : NO_PATTERN, subsamples);
    return { iv: Buffer.alloc(0), subsamples };
  });
}

interface RebuiltMoof {
  bytes: Buffer;
  growth: number;
}

/**
 * The moof with senc/saiz/saio appended to each track fragment, samples encrypted in `out`.
 * Without per-sample IVs and subsamples ('cbcs' audio) the auxiliary information is empty: senc
 * alone lists the sample count and saiz/saio are left out (ISO/IEC 23001-7 §7.1, as Shaka
 * Packager does).
 */
function rebuildMoof(segment: Buffer, out: Buffer, moof: Box, tracks: ClearTrack[], settings: CencSettings): RebuiltMoof {
  const parts: Buffer[] = [];
  const patches: { trafAt: number; traf: Box; dataOffsetFields: number[]; saioField?: number; sencEntriesAt?: number }[] = [];
  let length = 8;
  for (const child of childBoxes(segment, moof)) {
    if (child.type !== 'traf') {
      parts.push(segment.subarray(child.start, child.end));
      length += child.end - child.start;
      continue;
    }
    for (const type of ['senc', 'saiz', 'saio']) {
      if (findBox(segment, type, child)) throw new VidpipeError('USAGE', `the segment is already encrypted: its track fragment has '${type}'`);
    }
    const trackId = parseTfhd(segment, requireBox(segment, 'tfhd', child)).trackId;
    const track = tracks.find((t) => t.trackId === trackId);
    if (!track) throw malformed(`track fragment of track ${trackId}, which the init segment does not declare`);
    const { samples, dataOffsetFields } = trafSamples(segment, moof, child, patches.length === 0, track);
    const aux = encryptSamples(out, samples, track, settings);
    const withSubsamples = track.codec !== 'audio';
    const senc = writeSenc(aux, withSubsamples);
    const emptyAux = senc.entrySizes.every((size) => size === 0);
    const added = emptyAux ? [senc.senc] : [writeSaiz(senc.entrySizes), writeSaio(0), senc.senc];
    const oldChildren = segment.subarray(payloadStart(child), child.end);
    const traf = writeBox('traf', oldChildren, ...added);
    const patch: (typeof patches)[number] = { trafAt: length, traf: child, dataOffsetFields };
    if (!emptyAux) {
      const saioAt = 8 + oldChildren.length + added[0]!.length;
      patch.saioField = length + saioAt + 16; // header, version/flags, entry_count
      patch.sencEntriesAt = length + saioAt + added[1]!.length + senc.firstEntryOffset;
    }
    patches.push(patch);
    parts.push(traf);
    length += traf.length;
  }
  const bytes = Buffer.concat([Buffer.alloc(8), ...parts]);
  bytes.writeUInt32BE(bytes.length, 0);
  bytes.write('moof', 4, 'latin1');
  const growth = bytes.length - (moof.end - moof.start);
  for (const patch of patches) {
    // Offsets of fields inside the old traf carry over: its children are copied unchanged.
    for (const field of patch.dataOffsetFields) {
      const at = patch.trafAt + 8 + (field - payloadStart(patch.traf));
      bytes.writeInt32BE(bytes.readInt32BE(at) + growth, at);
    }
    if (patch.saioField !== undefined) bytes.writeUInt32BE(patch.sencEntriesAt!, patch.saioField);
  }
  return { bytes, growth };
}

/** sidx references keep covering the same fragments once the moofs before their ends grew. */
function rewriteSidx(segment: Buffer, sidx: Box, shift: (offset: number) => number): Buffer {
  const bytes = Buffer.from(segment.subarray(sidx.start, sidx.end));
  const index = parseSidx(segment, sidx);
  const { version } = readFullBox(segment, sidx);
  const firstOffsetAt = payloadStart(sidx) - sidx.start + 4 + 8 + (version === 1 ? 8 : 4);
  const anchor = sidx.end;
  let from = anchor + index.firstOffset;
  const newFirstOffset = shift(from) - shift(anchor);
  if (version === 1) bytes.writeBigUInt64BE(BigInt(newFirstOffset), firstOffsetAt);
  else bytes.writeUInt32BE(newFirstOffset, firstOffsetAt);
  let at = firstOffsetAt + (version === 1 ? 8 : 4) + 4;
  for (const reference of index.references) {
    const to = from + reference.referencedSize;
    const size = shift(to) - shift(from);
    if (size > 0x7fffffff) throw malformed('sidx reference grew past 2 GiB');
    bytes.writeUInt32BE(((reference.referenceType << 31) | size) >>> 0, at);
    from = to;
    at += 12;
  }
  return bytes;
}

/**
 * Encrypts one media segment of the track whose clear init segment is `clearInit` (the same
 * settings as its protectInitSegment). Segments are independent: any order, any process.
 */
export function protectMediaSegment(segment: Buffer, clearInit: Buffer, settings: CencSettings): Buffer {
  checkSettings(settings);
  const tracks = readClearTracks(clearInit);
  const top = readBoxes(segment);
  if (!top.some((box) => box.type === 'moof')) throw malformed('media segment without a moof');
  const out = Buffer.from(segment);
  const moofs = new Map<Box, RebuiltMoof>();
  for (const box of top) if (box.type === 'moof') moofs.set(box, rebuildMoof(segment, out, box, tracks, settings));
  const grown = [...moofs].map(([box, rebuilt]) => ({ start: box.start, growth: rebuilt.growth }));
  const shift = (offset: number) => offset + grown.filter((moof) => moof.start < offset).reduce((sum, moof) => sum + moof.growth, 0);
  return Buffer.concat(
    top.map((box) => {
      const rebuilt = moofs.get(box);
      if (rebuilt) return rebuilt.bytes;
      if (box.type === 'sidx') return rewriteSidx(segment, box, shift);
      return out.subarray(box.start, box.end);
    }),
  );
}
