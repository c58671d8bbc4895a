/**
 * Content protection checks (content-protection.md §2–§4, ISO/IEC 23001-7): what the manifests
 * signal agrees with the init segments (scheme from `schm`, default KID from `tenc`; HLS METHOD
 * per scheme, DASH mp4protection value and `cenc:default_KID`), and every fragment of a protected
 * track carries `senc`/`saiz`/`saio` that describe each of its `trun` samples.
 */
import {
  childBoxes,
  findBox,
  findBoxes,
  parseStsd,
  parseTfhd,
  parseTrun,
  payloadStart,
  readBoxes,
  readFullBox,
  type Box,
} from '../media/mp4-boxes.js';
import { parseAttributes } from './hls-playlist.js';
import { playlistsOf, type HlsPackage } from './hls-load.js';
import type { DashPackage } from './dash.js';
import { fromProblems, skip, type CheckResult } from './result.js';

/** What a protected track's init segment says (`sinf` of its sample entry). */
export interface InitProtection {
  /** 'cenc', 'cbcs', … from schm. */
  scheme: string;
  /** The codec 4cc frma names. */
  originalFormat: string;
  /** tenc's default_KID, 32 lowercase hex digits. */
  kid: string;
  perSampleIvSize: number;
  constantIv?: Buffer;
  pattern: { crypt: number; skip: number };
}

/** The protection of an init segment's first track, or undefined when its sample entry is clear. */
export function readInitProtection(init: Buffer): InitProtection | undefined {
  const stsd = findBox(init, 'moov/trak/mdia/minf/stbl/stsd');
  if (!stsd) return undefined;
  const entry = parseStsd(init, stsd)[0];
  if (!entry || (entry.type !== 'encv' && entry.type !== 'enca')) return undefined;
  const sinf = entry.children.find((box) => box.type === 'sinf');
  if (!sinf) throw new Error(`sample entry '${entry.type}' has no sinf`);
  const frma = findBox(init, 'frma', sinf);
  const schm = findBox(init, 'schm', sinf);
  const tenc = findBox(init, 'schi/tenc', sinf);
  if (!frma || !schm || !tenc) throw new Error(`sinf lacks ${[!frma && 'frma', !schm && 'schm', !tenc && 'schi/tenc'].filter(Boolean).join(', ')}`);
  const scheme = readFullBox(init, schm).reader.fourcc();
  const { version, reader } = readFullBox(init, tenc);
  reader.u8();
  const patternByte = reader.u8();
  reader.u8(); // default_isProtected
  const perSampleIvSize = reader.u8();
  const kid = reader.bytes(16).toString('hex');
  const constantIv = perSampleIvSize === 0 ? reader.bytes(reader.u8()) : undefined;
  return {
    scheme,
    originalFormat: init.subarray(payloadStart(frma), payloadStart(frma) + 4).toString('latin1'),
    kid,
    perSampleIvSize,
    ...(constantIv ? { constantIv } : {}),
    pattern: version === 0 ? { crypt: 0, skip: 0 } : { crypt: patternByte >> 4, skip: patternByte & 0x0f },
  };
}

/** One sample's auxiliary information: its IV and its clear/protected byte runs. */
export interface SampleAuxEntry {
  iv: Buffer;
  subsamples?: { clear: number; protected: number }[];
}

/** Every moof/traf of a media segment checked against its senc/saiz/saio: the problems, one line each. */
export function fragmentAuxInfoProblems(segment: Buffer, protection: InitProtection): string[] {
  const problems: string[] = [];
  const moofs = readBoxes(segment).filter((box) => box.type === 'moof');
  if (moofs.length === 0) problems.push('no moof');
  moofs.forEach((moof, moofIndex) => {
    for (const traf of findBoxes(segment, 'traf', moof)) {
      const where = `fragment ${moofIndex + 1}`;
      const tfhd = parseTfhd(segment, findBox(segment, 'tfhd', traf)!);
      const runs = findBoxes(segment, 'trun', traf).map((box) => parseTrun(segment, box));
      const sampleCount = runs.reduce((sum, run) => sum + run.samples.length, 0);
      const children = childBoxes(segment, traf);
      const senc = children.find((box) => box.type === 'senc');
      const saiz = children.find((box) => box.type === 'saiz');
      const saio = children.find((box) => box.type === 'saio');
      const entries = senc ? readSenc(segment, senc, protection.perSampleIvSize, protection.constantIv) : undefined;
      // A constant IV and whole-sample encryption ('cbcs' audio) leave every sample's aux info empty:
      // nothing for saiz/saio to point at, and players need neither.
      if (protection.perSampleIvSize === 0 && !saiz && !saio && (!entries || entries.sizes.every((size) => size === 0))) continue;
      const absent = [!senc && 'senc', !saiz && 'saiz', !saio && 'saio'].filter(Boolean);
      if (absent.length > 0 || !entries) {
        problems.push(`${where}: no ${absent.join(', ')} for its ${sampleCount} samples`);
        continue;
      }
      if (entries.list.length !== sampleCount) problems.push(`${where}: senc describes ${entries.list.length} samples, trun has ${sampleCount}`);
      const sizes = readSaiz(segment, saiz!);
      if (sizes.length !== sampleCount) problems.push(`${where}: saiz counts ${sizes.length} samples, trun has ${sampleCount}`);
      else if (sizes.some((size, i) => size !== entries.sizes[i])) problems.push(`${where}: saiz sizes differ from the senc entries`);
      const offset = readSaio(segment, saio!);
      const base = tfhd.defaultBaseIsMoof ? moof.start : (tfhd.baseDataOffset ?? moof.start);
      if (offset === undefined || base + offset !== entries.firstEntry) problems.push(`${where}: saio points at byte ${offset === undefined ? '?' : base + offset}, the first senc entry is at ${entries.firstEntry}`);
      // Each sample's subsamples must cover exactly its bytes.
      let index = 0;
      for (const run of runs) {
        for (const sample of run.samples) {
          const size = sample.size ?? tfhd.defaultSampleSize ?? 0;
          const subsamples = entries.list[index++]?.subsamples;
          if (subsamples && subsamples.reduce((sum, s) => sum + s.clear + s.protected, 0) !== size) {
            problems.push(`${where}: the subsamples of sample ${index} do not add up to its ${size} bytes`);
          }
        }
      }
    }
  });
  return problems;
}

export function readSenc(buf: Buffer, senc: Box, ivSize: number, constantIv: Buffer | undefined): { list: SampleAuxEntry[]; sizes: number[]; firstEntry: number } {
  const { flags, reader } = readFullBox(buf, senc);
  const count = reader.u32();
  const firstEntry = reader.pos;
  const list: SampleAuxEntry[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = reader.pos;
    const iv = ivSize > 0 ? reader.bytes(ivSize) : constantIv ?? Buffer.alloc(0);
    let subsamples: SampleAuxEntry['subsamples'];
    if (flags & 0x2) {
      subsamples = [];
      const n = reader.u16();
      for (let j = 0; j < n; j++) subsamples.push({ clear: reader.u16(), protected: reader.u32() });
    }
    list.push({ iv, ...(subsamples ? { subsamples } : {}) });
    sizes.push(reader.pos - start);
  }
  return { list, sizes, firstEntry };
}

function readSaiz(buf: Buffer, saiz: Box): number[] {
  const { flags, reader } = readFullBox(buf, saiz);
  if (flags & 1) reader.skip(8);
  const defaultSize = reader.u8();
  const count = reader.u32();
  return Array.from({ length: count }, () => (defaultSize === 0 ? reader.u8() : defaultSize));
}

function readSaio(buf: Buffer, saio: Box): number | undefined {
  const { version, flags, reader } = readFullBox(buf, saio);
  if (flags & 1) reader.skip(8);
  if (reader.u32() !== 1) return undefined;
  return version === 1 ? reader.u64() : reader.u32();
}

/** HLS METHOD for each CENC scheme (RFC 8216 §4.3.2.4, rfc8216bis). */
const HLS_METHOD: Record<string, string> = { cbcs: 'SAMPLE-AES', cenc: 'SAMPLE-AES-CTR' };

const hexOfUuid = (text: string) => text.replace(/-/g, '').toLowerCase();

/** A protected track's init and segments, as one check reads them. */
interface TrackFiles {
  name: string;
  initRef: string;
  mediaRefs: string[];
}

/** Reads the init; problems of its media segments' aux info are added to `problems`. */
async function inspectTrack(reader: { readBytes(ref: string): Promise<Buffer>; display(ref: string): string }, files: TrackFiles, problems: string[]): Promise<InitProtection | undefined> {
  let protection: InitProtection | undefined;
  try {
    protection = readInitProtection(await reader.readBytes(files.initRef));
  } catch (error) {
    problems.push(`${files.name}: init ${reader.display(files.initRef)}: ${(error as Error).message}`);
    return undefined;
  }
  if (!protection) return undefined;
  if (protection.scheme !== 'cenc' && protection.scheme !== 'cbcs') problems.push(`${files.name}: scheme '${protection.scheme}' (browsers decrypt only 'cenc' and 'cbcs')`);
  for (const ref of files.mediaRefs) {
    try {
      for (const problem of fragmentAuxInfoProblems(await reader.readBytes(ref), protection)) problems.push(`${files.name}: ${reader.display(ref)}: ${problem}`);
    } catch (error) {
      problems.push(`${files.name}: ${reader.display(ref)}: ${(error as Error).message}`);
    }
  }
  return protection;
}

/** HLS: each fMP4 media playlist's EXT-X-KEY agrees with its init, and its segments carry aux info. */
export async function checkHlsProtection(pkg: HlsPackage): Promise<CheckResult> {
  const id = 'hls-protection';
  const problems: string[] = [];
  let protectedCount = 0;
  for (const loaded of playlistsOf(pkg, 'variant', 'audio', 'media')) {
    const { playlist } = loaded;
    const keys = playlist.tags.filter((tag) => tag.name === 'EXT-X-KEY').map((tag) => parseAttributes(tag.value));
    const methods = new Set(keys.map((key) => key.METHOD).filter((method) => method !== 'NONE'));
    const mapUri = playlist.segments[0]?.mapUri;
    if (!mapUri) {
      if (methods.size > 0 && [...methods].some((m) => m !== 'AES-128')) problems.push(`${loaded.name}: METHOD=${[...methods].join(',')} needs fMP4 segments with CENC (MPEG-TS: only AES-128 applies)`);
      continue;
    }
    const files = {
      name: loaded.name,
      initRef: pkg.reader.resolve(loaded.ref, mapUri),
      // AES-128 segments are ciphertext as a whole: their boxes are read by no one but a decrypting player.
      mediaRefs: methods.has('AES-128') ? [] : playlist.segments.map((segment) => pkg.reader.resolve(loaded.ref, segment.uri)),
    };
    const protection = await inspectTrack(pkg.reader, files, problems);
    if (methods.has('AES-128')) {
      if (protection) problems.push(`${loaded.name}: METHOD=AES-128 over segments that are already CENC-encrypted ('${protection.scheme}')`);
      protectedCount++;
      continue;
    }
    if (!protection) {
      if (methods.size > 0) problems.push(`${loaded.name}: METHOD=${[...methods].join(',')} but the init segment is clear`);
      continue;
    }
    protectedCount++;
    if (methods.size === 0) problems.push(`${loaded.name}: the init segment is '${protection.scheme}'-encrypted but no EXT-X-KEY says so`);
    const wanted = HLS_METHOD[protection.scheme];
    for (const key of keys) {
      if (wanted && key.METHOD !== wanted) problems.push(`${loaded.name}: METHOD=${key.METHOD} for a '${protection.scheme}' track (wants ${wanted})`);
      if (key.KEYID && hexOfUuid(key.KEYID.replace(/^0x/i, '')) !== protection.kid) problems.push(`${loaded.name}: KEYID ${key.KEYID} is not the init's KID ${protection.kid}`);
    }
  }
  // A clear package passes: no playlist signals a key its init segment does not use.
  if (protectedCount === 0) return fromProblems(id, problems, 'clear: no init segment is encrypted and no playlist signals a key');
  return fromProblems(id, problems, `${protectedCount} encrypted playlist(s): EXT-X-KEY matches each init's scheme and KID; every fragment carries senc/saiz/saio for its samples`);
}

/** DASH: each Representation's ContentProtection agrees with its init, and its segments carry aux info. */
export async function checkDashProtection(pkg: DashPackage): Promise<CheckResult> {
  const id = 'dash-protection';
  if (!pkg.mpd) return skip(id, `${pkg.name} is not a readable MPD`);
  const problems: string[] = [];
  let protectedCount = 0;
  for (const rep of pkg.representations) {
    if (!rep.initRef || !['video', 'audio'].includes(rep.contentType)) continue;
    const protection = await inspectTrack(pkg.reader, { name: rep.name, initRef: rep.initRef, mediaRefs: rep.mediaRefs ?? [] }, problems);
    const elements = [rep.set.ContentProtection, rep.representation.ContentProtection].flatMap((value) => (value === undefined ? [] : Array.isArray(value) ? value : [value])) as Record<string, string>[];
    const mp4 = elements.find((element) => element.schemeIdUri?.toLowerCase() === 'urn:mpeg:dash:mp4protection:2011');
    if (!protection) {
      if (elements.length > 0) problems.push(`${rep.name}: ContentProtection signalled but the init segment is clear`);
      continue;
    }
    protectedCount++;
    if (!mp4) {
      problems.push(`${rep.name}: the init segment is '${protection.scheme}'-encrypted but there is no mp4protection ContentProtection`);
      continue;
    }
    if (mp4.value !== protection.scheme) problems.push(`${rep.name}: mp4protection value="${mp4.value ?? ''}", the init's schm says '${protection.scheme}'`);
    // The parser drops namespace prefixes: cenc:default_KID is read as default_KID.
    const kid = mp4.default_KID;
    if (!kid) problems.push(`${rep.name}: no cenc:default_KID`);
    else if (hexOfUuid(kid) !== protection.kid) problems.push(`${rep.name}: cenc:default_KID ${kid} is not the init's KID ${protection.kid}`);
  }
  if (protectedCount === 0) return fromProblems(id, problems, 'clear: no init segment is encrypted and no ContentProtection is signalled');
  return fromProblems(id, problems, `${protectedCount} encrypted Representation(s): ContentProtection matches each init's scheme and KID; every fragment carries senc/saiz/saio for its samples`);
}
