/**
 * Reading an MP4 file's index without its media data: the top-level boxes are walked by their
 * headers (a few bytes each), and only the small ones that describe the samples (moov, moof)
 * are loaded, so a multi-gigabyte rendition costs a few reads and a few hundred kilobytes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import {
  findBox,
  findBoxes,
  malformed,
  parseHdlr,
  parseTfhd,
  parseTkhd,
  parseTrun,
  readBoxes,
  readFullBox,
  readTrackExtends,
  requireBox,
  type Box,
} from './mp4-boxes.js';

/** Box types that may open an ISO-BMFF file (anything else: not an MP4). */
const FIRST_BOX_TYPES = new Set(['ftyp', 'styp', 'moov', 'moof', 'mdat', 'free', 'skip', 'wide', 'uuid', 'pdin', 'sidx', 'junk']);

/** The index boxes read into memory; larger ones are corruption, not a real index. */
const LOADED_TYPES = new Set(['moov', 'moof']);
const MAX_LOADED_BYTES = 256 * 1024 * 1024;

export interface LoadedBox {
  /** The box itself as the only top-level box of `buf` (offsets in it start at 0). */
  buf: Buffer;
  box: Box;
  /** Where the box starts in the file. */
  fileOffset: number;
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await file.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

/**
 * The file's top-level boxes in order, the moov and moof ones loaded; undefined when the file
 * does not start like an MP4. A box that runs past the end of the file (a cut-off file) throws.
 */
export async function readIndexBoxes(path: string): Promise<LoadedBox[] | undefined> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const boxes: LoadedBox[] = [];
    for (let pos = 0; pos < size; ) {
      const head = await readAt(file, pos, 16);
      // A few bytes after the last box are no box at all; demuxers ignore them too.
      if (head.length < 8) break;
      const type = head.toString('latin1', 4, 8);
      if (pos === 0 && !FIRST_BOX_TYPES.has(type)) return undefined;
      let boxSize = head.readUInt32BE(0);
      if (boxSize === 1) {
        if (head.length < 16) throw malformed(`box '${type}' at ${pos} is cut off`);
        const large = head.readBigUInt64BE(8);
        if (large > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`box '${type}' at ${pos} declares ${large} bytes`);
        boxSize = Number(large);
      } else if (boxSize === 0) boxSize = size - pos;
      if (boxSize < 8 || pos + boxSize > size) throw malformed(`box '${type}' at ${pos} declares ${boxSize} bytes but only ${size - pos} are in the file`);
      if (LOADED_TYPES.has(type)) {
        if (boxSize > MAX_LOADED_BYTES) throw malformed(`'${type}' at ${pos} of ${boxSize} bytes is too large for an index`);
        const buf = await readAt(file, pos, boxSize);
        const [box] = readBoxes(buf);
        boxes.push({ buf, box: box!, fileOffset: pos });
      } else {
        boxes.push({ buf: Buffer.alloc(0), box: { type, start: pos, headerSize: 8, end: pos + boxSize }, fileOffset: pos });
      }
      pos += boxSize;
    }
    return boxes;
  } finally {
    await file.close();
  }
}

/** The sizes an stsz or stz2 box lists, in decode order (stsz with one size for all: that size, count times). */
function sampleTableSizes(buf: Buffer, box: Box): number[] {
  const { reader } = readFullBox(buf, box);
  if (box.type === 'stsz') {
    const constant = reader.u32();
    const count = reader.u32();
    if (constant !== 0) return new Array<number>(count).fill(constant);
    if (count * 4 > reader.remaining) throw malformed(`stsz at ${box.start} lists ${count} sizes that do not fit`);
    return Array.from({ length: count }, () => reader.u32());
  }
  reader.skip(3); // stz2: reserved
  const fieldBits = reader.u8();
  const count = reader.u32();
  if (![4, 8, 16].includes(fieldBits)) throw malformed(`stz2 at ${box.start} has ${fieldBits}-bit sizes`);
  if (Math.ceil((count * fieldBits) / 8) > reader.remaining) throw malformed(`stz2 at ${box.start} lists ${count} sizes that do not fit`);
  const sizes: number[] = [];
  if (fieldBits === 4) {
    for (let i = 0; i < count; i += 2) {
      const pair = reader.u8();
      sizes.push(pair >> 4);
      if (i + 1 < count) sizes.push(pair & 0x0f);
    }
  } else for (let i = 0; i < count; i++) sizes.push(fieldBits === 8 ? reader.u8() : reader.u16());
  return sizes;
}

/** What the index says of a file's first video track: its samples (frames) and their bytes. */
export interface VideoSamples {
  count: number;
  /** The coded frames' bytes, without container overhead (what ffprobe's packet sizes add up to). */
  bytes: number;
}

/**
 * The sizes of the samples of the file's first video track (handler 'vide', as ffprobe's `v:0`
 * picks it), in decode order: those of its sample table, then those of every fragment (trun) of
 * that track (a run without sizes takes the fragment's default, then the track's). Undefined
 * when the file is not an MP4 or has no video track.
 */
export async function readVideoSampleSizes(path: string): Promise<number[] | undefined> {
  const boxes = await readIndexBoxes(path);
  if (!boxes) return undefined;
  const moov = boxes.find((b) => b.box.type === 'moov');
  if (!moov) throw malformed('no moov box');
  const video = findBoxes(moov.buf, 'moov/trak').find((trak) => parseHdlr(moov.buf, requireBox(moov.buf, 'mdia/hdlr', trak)) === 'vide');
  if (!video) return undefined;
  const trackId = parseTkhd(moov.buf, requireBox(moov.buf, 'tkhd', video)).trackId;
  const stbl = requireBox(moov.buf, 'mdia/minf/stbl', video);
  const table = findBox(moov.buf, 'stsz', stbl) ?? findBox(moov.buf, 'stz2', stbl);
  if (!table) throw malformed(`track ${trackId} has no sample size table`);
  const sizes = sampleTableSizes(moov.buf, table);
  const trackDefault = readTrackExtends(moov.buf).find((t) => t.trackId === trackId)?.defaultSampleSize ?? 0;
  for (const moof of boxes.filter((b) => b.box.type === 'moof')) {
    for (const traf of findBoxes(moof.buf, 'moof/traf')) {
      const header = parseTfhd(moof.buf, requireBox(moof.buf, 'tfhd', traf));
      if (header.trackId !== trackId) continue;
      for (const trun of findBoxes(moof.buf, 'trun', traf)) {
        for (const sample of parseTrun(moof.buf, trun).samples) sizes.push(sample.size ?? header.defaultSampleSize ?? trackDefault);
      }
    }
  }
  return sizes;
}

/** The count and total bytes of readVideoSampleSizes. */
export async function readVideoSamples(path: string): Promise<VideoSamples | undefined> {
  const sizes = await readVideoSampleSizes(path);
  return sizes && { count: sizes.length, bytes: sizes.reduce((sum, size) => sum + size, 0) };
}

/** The frame count of readVideoSamples. */
export async function countVideoSamples(path: string): Promise<number | undefined> {
  return (await readVideoSampleSizes(path))?.length;
}
