/**
 * "Given the key, decrypted samples decode" (issue #24): each protected track's init and its
 * first and last media segment are decrypted here, then ffmpeg decodes the result. The decryptor
 * is written from the standard (ISO/IEC 23001-7 §9–§10, RFC 8216 §4.3.2.4), not shared with the
 * encryptor in src/protection/, so a mistake there cannot hide itself.
 */
import { createDecipheriv } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childBoxes, findBox, findBoxes, parseStsd, parseTfhd, parseTrun, readBoxes, readTrackExtends } from '../media/mp4-boxes.js';
import { runCapture } from '../ffmpeg/run.js';
import { buildDecodeAllArgs } from '../ffmpeg/args/inspect.js';
import { readInitProtection, readSenc, type InitProtection } from './protection.js';
import { fromProblems, skip, type CheckResult } from './result.js';
import { parseAttributes } from './hls-playlist.js';
import { playlistsOf, type HlsPackage } from './hls-load.js';
import type { DashPackage } from './dash.js';
import type { Tools } from './tracks.js';

const BLOCK = 16;

/** A content key as `--key KID:KEY` gives it: 32 lowercase hex digits each. */
export interface ContentKey {
  kid: string;
  key: string;
}
export const DECODE_CHECK_ID = 'decrypted-samples-decode';

/** A protected track as the check reads it: CENC sample encryption, or HLS whole-segment AES-128. */
export interface EncryptedTrack {
  name: string;
  /** None for MPEG-TS (AES-128 only). */
  initRef?: string;
  /** The first and last media segment (one when there is only one). */
  media: { ref: string; aes128Iv?: Buffer }[];
  /** HLS METHOD=AES-128: the segment files are ciphertext as a whole, the init is clear. */
  aes128: boolean;
}

interface Reader {
  readBytes(ref: string): Promise<Buffer>;
  display(ref: string): string;
}

/** 'cenc': AES-CTR over the protected ranges of the sample, one keystream per sample (§10.1). */
function decryptCencSample(sample: Buffer, key: Buffer, iv: Buffer, ranges: { clear: number; protected: number }[]): void {
  const counter = Buffer.alloc(BLOCK);
  iv.copy(counter);
  const decipher = createDecipheriv('aes-128-ctr', key, counter);
  let at = 0;
  for (const range of ranges) {
    at += range.clear;
    const bytes = sample.subarray(at, at + range.protected);
    decipher.update(bytes).copy(bytes);
    at += range.protected;
  }
}

/** 'cbcs': per protected range, CBC from the constant IV over the pattern's crypt blocks (§10.4.2). */
function decryptCbcsSample(sample: Buffer, key: Buffer, iv: Buffer, pattern: InitProtection['pattern'], ranges: { clear: number; protected: number }[]): void {
  let at = 0;
  for (const range of ranges) {
    at += range.clear;
    const bytes = sample.subarray(at, at + range.protected);
    at += range.protected;
    const blocks = Math.floor(bytes.length / BLOCK);
    const crypt = pattern.crypt === 0 ? blocks : pattern.crypt;
    const period = pattern.crypt + pattern.skip;
    const decipher = createDecipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
    for (let block = 0; block < blocks; block++) {
      if (period !== 0 && block % period >= crypt) continue;
      const one = bytes.subarray(block * BLOCK, (block + 1) * BLOCK);
      decipher.update(one).copy(one);
    }
  }
}

/** A copy of a CENC media segment with every sample decrypted and its senc/saiz/saio made `free`. */
export function decryptCencSegment(segment: Buffer, init: Buffer, protection: InitProtection, key: Buffer): Buffer {
  const out = Buffer.from(segment);
  const defaultSize = readTrackExtends(init)[0]?.defaultSampleSize;
  for (const moof of readBoxes(out).filter((box) => box.type === 'moof')) {
    for (const traf of findBoxes(out, 'traf', moof)) {
      const tfhd = parseTfhd(out, findBox(out, 'tfhd', traf)!);
      const children = childBoxes(out, traf);
      const senc = children.find((box) => box.type === 'senc');
      if (!senc) throw new Error('a fragment has no senc');
      const entries = readSenc(out, senc, protection.perSampleIvSize, protection.constantIv).list;
      const base = tfhd.baseDataOffset ?? moof.start;
      let index = 0;
      for (const trunBox of findBoxes(out, 'trun', traf)) {
        const run = parseTrun(out, trunBox);
        let at = base + (run.dataOffset ?? 0);
        for (const entry of run.samples) {
          const size = entry.size ?? tfhd.defaultSampleSize ?? defaultSize ?? 0;
          const sample = out.subarray(at, at + size);
          const aux = entries[index++];
          if (!aux) throw new Error('senc describes fewer samples than trun');
          const ranges = aux.subsamples ?? [{ clear: 0, protected: size }];
          if (protection.scheme === 'cbcs') decryptCbcsSample(sample, key, aux.iv, protection.pattern, ranges);
          else decryptCencSample(sample, key, aux.iv, ranges);
          at += size;
        }
      }
      // The samples are clear now: no decoder may treat them as encrypted.
      for (const box of children) if (['senc', 'saiz', 'saio'].includes(box.type)) out.write('free', box.start + 4, 'latin1');
    }
  }
  return out;
}

/** A copy of a CENC init segment with the sample entry's own format back (frma) and its sinf made `free`. */
export function clearInitSegment(init: Buffer, protection: InitProtection): Buffer {
  const out = Buffer.from(init);
  const stsd = findBox(out, 'moov/trak/mdia/minf/stbl/stsd')!;
  const entry = parseStsd(out, stsd)[0]!;
  out.write(protection.originalFormat, entry.box.start + 4, 'latin1');
  const sinf = entry.children.find((box) => box.type === 'sinf')!;
  out.write('free', sinf.start + 4, 'latin1');
  return out;
}

/** HLS AES-128: the whole file, AES-128-CBC with PKCS7 padding (a wrong key almost always breaks the padding). */
function decryptAes128Segment(segment: Buffer, key: Buffer, iv: Buffer): Buffer {
  const decipher = createDecipheriv('aes-128-cbc', key, iv);
  return Buffer.concat([decipher.update(segment), decipher.final()]);
}

/** Decodes a clear file with ffmpeg: the frames it decoded, or the first error it printed. */
async function decodeFile(ffmpeg: string, path: string): Promise<{ frames: number; error?: string }> {
  const { stdout, stderr, exitCode } = await runCapture(ffmpeg, buildDecodeAllArgs(path), {
    label: 'decode decrypted samples',
    timeoutMs: 60_000,
  });
  const frames = stdout.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
  const error = stderr.split('\n').find((line) => line.trim() !== '');
  return { frames, ...(exitCode !== 0 || error ? { error: error?.trim() ?? `ffmpeg exited with ${exitCode}` } : {}) };
}

/** The clear bytes (init + first and last segment) of one track under one key, or why not. */
async function clearTrack(reader: Reader, track: EncryptedTrack, init: Buffer | undefined, protection: InitProtection | undefined, key: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const { ref, aes128Iv } of track.media) {
    const bytes = await reader.readBytes(ref);
    if (track.aes128) parts.push(decryptAes128Segment(bytes, key, aes128Iv!));
    else parts.push(decryptCencSegment(bytes, init!, protection!, key));
  }
  return Buffer.concat([...(init ? [protection ? clearInitSegment(init, protection) : init] : []), ...parts]);
}

/**
 * Each protected track decrypted with the key for its KID (AES-128 carries no KID: every key is
 * tried) and decoded: it passes when ffmpeg decodes frames with no error. A clear package has no
 * such check (undefined), as it has nothing to decrypt.
 */
export async function checkDecryptedSamplesDecode(reader: Reader, tracks: EncryptedTrack[], keys: readonly ContentKey[] | undefined, tools: Tools): Promise<CheckResult | undefined> {
  const problems: string[] = [];
  // Each track's init read once: the clear ones (DASH lists every Representation) are left out.
  const encrypted: { track: EncryptedTrack; init?: Buffer; protection?: InitProtection }[] = [];
  for (const track of tracks) {
    try {
      const init = track.initRef === undefined ? undefined : await reader.readBytes(track.initRef);
      const protection = track.aes128 || !init ? undefined : readInitProtection(init);
      if (track.aes128 || protection) encrypted.push({ track, ...(init ? { init } : {}), ...(protection ? { protection } : {}) });
    } catch (error) {
      problems.push(`${track.name}: init ${reader.display(track.initRef!)}: ${(error as Error).message}`);
    }
  }
  if (encrypted.length === 0 && problems.length === 0) return undefined;
  if (!keys || keys.length === 0) return skip(DECODE_CHECK_ID, `${encrypted.length} encrypted track(s) not decrypted: give the content keys to check that they decode (--key KID:KEY)`);
  const { ffmpeg } = await tools();
  const decoded: Record<string, number> = {};
  const dir = await mkdtemp(join(tmpdir(), 'vidpipe-validate-decrypt-'));
  try {
    for (const [index, { track, init, protection }] of encrypted.entries()) {
      const candidates = protection ? keys.filter((key) => key.kid === protection.kid) : keys;
      if (candidates.length === 0) {
        problems.push(`${track.name}: no --key for its KID ${protection!.kid}`);
        continue;
      }
      let failure = '';
      for (const candidate of candidates) {
        const path = join(dir, `track-${index}.${init ? 'mp4' : 'ts'}`);
        try {
          await writeFile(path, await clearTrack(reader, track, init, protection, Buffer.from(candidate.key, 'hex')));
          const result = await decodeFile(ffmpeg, path);
          if (!result.error && result.frames > 0) {
            decoded[track.name] = result.frames;
            failure = '';
            break;
          }
          failure = result.error ?? 'no frame decoded';
        } catch (error) {
          failure = (error as Error).message;
        } finally {
          await rm(path, { force: true });
        }
      }
      if (failure) problems.push(`${track.name}: decrypted with the key for ${protection ? `KID ${protection.kid}` : 'AES-128'}, it does not decode (${failure})`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const count = Object.keys(decoded).length;
  return fromProblems(DECODE_CHECK_ID, problems, `${count} encrypted track(s): first and last segment decrypted with the given key decode (${Object.values(decoded).reduce((a, b) => a + b, 0)} frames, no error)`, decoded);
}

/** The first and last of a track's segments. */
export function firstAndLast<T>(items: readonly T[]): T[] {
  return items.length <= 1 ? [...items] : [items[0]!, items[items.length - 1]!];
}

/** HLS: every media playlist whose EXT-X-KEY encrypts it (CENC over fMP4, or AES-128 over fMP4 or MPEG-TS). */
export function hlsEncryptedTracks(pkg: HlsPackage): EncryptedTrack[] {
  const tracks: EncryptedTrack[] = [];
  for (const loaded of playlistsOf(pkg, 'variant', 'audio', 'media')) {
    const { playlist } = loaded;
    const key = playlist.tags.filter((tag) => tag.name === 'EXT-X-KEY').map((tag) => parseAttributes(tag.value)).find((attributes) => attributes.METHOD !== 'NONE');
    if (!key || playlist.segments.length === 0) continue;
    const mapUri = playlist.segments[0]!.mapUri;
    const aes128 = key.METHOD === 'AES-128';
    const sequence = Number(playlist.tags.find((tag) => tag.name === 'EXT-X-MEDIA-SEQUENCE')?.value ?? 0);
    // Without an IV attribute each segment's IV is its media sequence number (RFC 8216 §5.2).
    const ivOf = (index: number) => (key.IV ? Buffer.from(key.IV.replace(/^0x/i, '').padStart(32, '0'), 'hex') : mediaSequenceIvOf(sequence + index));
    const indexed = playlist.segments.map((segment, index) => ({ segment, index }));
    tracks.push({
      name: loaded.name,
      ...(mapUri ? { initRef: pkg.reader.resolve(loaded.ref, mapUri) } : {}),
      media: firstAndLast(indexed).map(({ segment, index }) => ({ ref: pkg.reader.resolve(loaded.ref, segment.uri), ...(aes128 ? { aes128Iv: ivOf(index) } : {}) })),
      aes128,
    });
  }
  return tracks;
}

/** DASH: every audio and video Representation with an init segment (the check skips the clear ones). */
export function dashEncryptedTracks(pkg: DashPackage): EncryptedTrack[] {
  return pkg.representations
    .filter((rep) => rep.initRef && ['video', 'audio'].includes(rep.contentType))
    .map((rep) => ({ name: rep.name, initRef: rep.initRef!, media: firstAndLast(rep.mediaRefs ?? []).map((ref) => ({ ref })), aes128: false }));
}

function mediaSequenceIvOf(sequence: number): Buffer {
  const iv = Buffer.alloc(BLOCK);
  iv.writeBigUInt64BE(BigInt(sequence), 8);
  return iv;
}
