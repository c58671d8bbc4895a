/**
 * Writers of the Common Encryption boxes (ISO/IEC 23001-7 §8, ISO/IEC 14496-12 §8.7.8–9, §8.12):
 * the protection scheme boxes of an init segment and the sample auxiliary information of a
 * fragment.
 */
import { VidpipeError } from '../errors.js';
import type { Pattern } from './sample-crypto.js';
import type { Subsample } from './subsamples.js';

export function writeBox(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

export function writeFullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  const versionAndFlags = Buffer.alloc(4);
  versionAndFlags.writeUInt32BE(((version << 24) | flags) >>> 0, 0);
  return writeBox(type, versionAndFlags, ...parts);
}

function u32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(value, 0);
  return buf;
}

function fourcc(code: string): Buffer {
  if (code.length !== 4) throw new VidpipeError('INTERNAL', `not a four-character code: ${JSON.stringify(code)}`);
  return Buffer.from(code, 'latin1');
}

export function checkKeyId(kid: Buffer): void {
  if (kid.length !== 16) throw new VidpipeError('INTERNAL', `a key ID is 16 bytes, not ${kid.length}`);
}

/** What a track's tenc says: the scheme's IV layout and pattern, and the default KID. */
export interface TrackEncryption {
  scheme: 'cenc' | 'cbcs';
  kid: Buffer;
  /** 8 or 16 for per-sample IVs ('cenc'), 0 with a constant IV ('cbcs'). */
  perSampleIvSize: 0 | 8 | 16;
  constantIv?: Buffer;
  pattern: Pattern;
}

/**
 * tenc (§8.2): version 0 without a pattern ('cenc'), version 1 with one ('cbcs', where audio's
 * 0:0 still takes version 1, as CMAF's 'cbcs' brand requires).
 */
export function writeTenc(track: TrackEncryption): Buffer {
  checkKeyId(track.kid);
  const version = track.scheme === 'cbcs' ? 1 : 0;
  const fields = Buffer.alloc(4);
  fields[1] = version === 1 ? (track.pattern.cryptBlocks << 4) | track.pattern.skipBlocks : 0;
  fields[2] = 1; // default_isProtected
  fields[3] = track.perSampleIvSize;
  const parts = [fields, track.kid];
  if (track.perSampleIvSize === 0) {
    const iv = track.constantIv;
    if (!iv || (iv.length !== 8 && iv.length !== 16)) throw new VidpipeError('INTERNAL', 'a constant IV of 8 or 16 bytes is required without per-sample IVs');
    parts.push(Buffer.from([iv.length]), iv);
  }
  return writeFullBox('tenc', version, 0, ...parts);
}

/** sinf { frma(original format), schm(scheme, 1.0), schi { tenc } } (ISO/IEC 14496-12 §8.12). */
export function writeSinf(originalFormat: string, track: TrackEncryption): Buffer {
  return writeBox(
    'sinf',
    writeBox('frma', fourcc(originalFormat)),
    writeFullBox('schm', 0, 0, fourcc(track.scheme), u32(0x00010000)),
    writeBox('schi', writeTenc(track)),
  );
}

/** A DRM system's protection header, as the key source gave it or built by the caller. */
export interface PsshInput {
  /** 16 bytes. */
  systemId: Buffer;
  /** Listed in a version 1 box (§8.1.1); none: version 0. */
  kids?: Buffer[];
  data: Buffer;
}

/** pssh (§8.1): version 1 when KIDs are listed. */
export function writePssh(pssh: PsshInput): Buffer {
  if (pssh.systemId.length !== 16) throw new VidpipeError('INTERNAL', `a DRM system ID is 16 bytes, not ${pssh.systemId.length}`);
  const kids = pssh.kids ?? [];
  kids.forEach(checkKeyId);
  const parts = [pssh.systemId];
  if (kids.length > 0) parts.push(u32(kids.length), ...kids);
  parts.push(u32(pssh.data.length), pssh.data);
  return writeFullBox('pssh', kids.length > 0 ? 1 : 0, 0, ...parts);
}

/** W3C "Common" SystemID (EME cenc init data format): what browsers' Clear Key reads. */
export const COMMON_SYSTEM_ID = Buffer.from('1077efecc0b24d02ace33c1e52e2fb4b', 'hex');

/** The W3C common pssh: version 1, the KIDs, no data. */
export function commonPssh(kids: Buffer[]): Buffer {
  return writePssh({ systemId: COMMON_SYSTEM_ID, kids, data: Buffer.alloc(0) });
}

/** One sample's auxiliary information: its IV (per-sample IVs only) and subsamples (video). */
export interface SampleAuxInfo {
  iv: Buffer;
  subsamples?: Subsample[];
}

const SENC_USE_SUBSAMPLES = 0x2;

function auxInfoBytes(info: SampleAuxInfo, withSubsamples: boolean): Buffer {
  if (!withSubsamples) return info.iv;
  const subsamples = info.subsamples ?? [];
  const out = Buffer.alloc(info.iv.length + 2 + 6 * subsamples.length);
  info.iv.copy(out);
  let pos = info.iv.length;
  out.writeUInt16BE(subsamples.length, pos);
  pos += 2;
  for (const { clearBytes, protectedBytes } of subsamples) {
    out.writeUInt16BE(clearBytes, pos);
    out.writeUInt32BE(protectedBytes, pos + 2);
    pos += 6;
  }
  return out;
}

export interface SencLayout {
  senc: Buffer;
  /** Size of each sample's entry, as saiz lists them. */
  entrySizes: number[];
  /** Where the first entry starts, counted from the senc box's first byte. */
  firstEntryOffset: number;
}

/** senc (§7.2.2): the per-sample IVs and subsample maps of one track fragment. */
export function writeSenc(samples: SampleAuxInfo[], withSubsamples: boolean): SencLayout {
  const entries = samples.map((sample) => auxInfoBytes(sample, withSubsamples));
  const senc = writeFullBox('senc', 0, withSubsamples ? SENC_USE_SUBSAMPLES : 0, u32(samples.length), ...entries);
  return { senc, entrySizes: entries.map((entry) => entry.length), firstEntryOffset: 16 };
}

/** saiz (ISO/IEC 14496-12 §8.7.8): one default size when all entries are alike, else a u8 each. */
export function writeSaiz(entrySizes: number[]): Buffer {
  for (const size of entrySizes) {
    if (size > 255) throw new VidpipeError('INTERNAL', `sample auxiliary information of ${size} bytes does not fit saiz`);
  }
  const allAlike = entrySizes.length > 0 && entrySizes.every((size) => size === entrySizes[0]);
  const head = Buffer.alloc(5);
  head[0] = allAlike ? entrySizes[0]! : 0;
  head.writeUInt32BE(entrySizes.length, 1);
  return writeFullBox('saiz', 0, 0, head, allAlike ? Buffer.alloc(0) : Buffer.from(entrySizes));
}

/** saio (ISO/IEC 14496-12 §8.7.9): one offset, relative to the moof with default-base-is-moof. */
export function writeSaio(offset: number): Buffer {
  return writeFullBox('saio', 0, 0, u32(1), u32(offset));
}
