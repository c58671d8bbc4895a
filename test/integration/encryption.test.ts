/**
 * The encryption engine on real ffmpeg packages (H.264 with B-frames and weighted prediction,
 * x265 HEVC with wavefront entry points, AAC), each decrypted by an implementation that is not
 * vidpipe's and decoded frame-exact against the clear package:
 * - 'cenc': ffmpeg's mov demuxer with -decryption_key;
 * - 'cbcs': a decryptor written here on node:crypto that walks the boxes and reads tenc/senc itself;
 * - HLS AES-128 (fMP4 and MPEG-TS): the openssl command, and ffmpeg's HLS demuxer playing a
 *   playlist without IV attributes (the media sequence number rule).
 * The slice header lengths the subsample maps keep clear are checked against ffmpeg's own
 * bitstream parser (the trace_headers bitstream filter).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCmafPackageArgs } from '../../src/ffmpeg/args/package.js';
import { buildTsPackageArgs } from '../../src/ffmpeg/args/package-ts.js';
import { commonPssh } from '../../src/protection/cenc-boxes.js';
import { protectInitSegment, protectMediaSegment, type CencSettings } from '../../src/protection/cenc-file.js';
import { h264SliceHeaderBits, parseH264Pps, parseH264Sps } from '../../src/protection/h264-slice.js';
import { hevcSliceHeaderBytes, parseHevcPps, parseHevcSps } from '../../src/protection/hevc-slice.js';
import { unescapeRbsp } from '../../src/protection/rbsp.js';
import { encryptAes128Segment, ivAttribute, mediaSequenceIv } from '../../src/protection/aes-128.js';
import { ffmpeg } from '../helpers/media-tools.js';
import { makeClip, tempDir } from '../helpers/media.js';

const KID = Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex');
const KEY = Buffer.from('3c1f0e2d4b5a69788796a5b4c3d2e1f0', 'hex');
const CONSTANT_IV = Buffer.from('f0e1d2c3b4a5968778695a4b3c2d1e0f', 'hex');

let dir: string;
let cleanup: () => Promise<void>;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** A child process with optional stdin, bounded to 60 s. */
function run(command: string, args: string[], input?: Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.on('error', () => {}); // a demuxer that gives up early closes its stdin
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

/** Decoded frames' checksums (framemd5 without its header), of a file or of bytes piped in. */
async function frameHashes(inputArgs: string[], input?: Buffer): Promise<string> {
  const result = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...inputArgs, '-f', 'framemd5', '-'], input);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.toString().split('\n').filter((line) => line && !line.startsWith('#'));
  assert.ok(lines.length > 0, 'decoded no frame');
  return lines.join('\n');
}

interface Track {
  init: Buffer;
  segments: Buffer[];
}

async function packageCmaf(input: string, map: string, name: string): Promise<Track> {
  const outputDir = join(dir, name);
  await mkdir(outputDir);
  // One stream per package, as vidpipe's renditions are.
  const single = join(dir, `${name}-rendition.mp4`);
  await ffmpeg(['-i', input, '-map', map, '-c', 'copy', single]);
  await ffmpeg(buildCmafPackageArgs({ input: single, outputDir, segmentSeconds: 1, fragmentSeconds: 0.5, scratchManifest: join(outputDir, 'x.mpd') }));
  const names = (await readdir(outputDir)).filter((file) => /^seg_\d+\.m4s$/.test(file)).sort();
  assert.ok(names.length >= 2, `${name}: ${names.length} segments`);
  return { init: await readFile(join(outputDir, 'init.mp4')), segments: await Promise.all(names.map((file) => readFile(join(outputDir, file)))) };
}

function encrypt(track: Track, settings: CencSettings): Track {
  return { init: protectInitSegment(track.init, settings), segments: track.segments.map((segment) => protectMediaSegment(segment, track.init, settings)) };
}

const whole = (track: Track) => Buffer.concat([track.init, ...track.segments]);

let video: Track;
let audio: Track;
let hevc: Track;
let h264File: string;
let hevcFile: string;

before(async () => {
  ({ dir, cleanup } = await tempDir('vidpipe-encryption-'));
  h264File = await makeClip(join(dir, 'h264.mp4'), {
    durationSeconds: 2,
    width: 192,
    height: 108,
    videoArgs: ['-c:v', 'libx264', '-preset', 'fast', '-g', '15', '-bf', '3', '-weightp', '2', '-pix_fmt', 'yuv420p'],
  });
  hevcFile = await makeClip(join(dir, 'hevc.mp4'), {
    durationSeconds: 2,
    width: 192,
    height: 108,
    audio: false,
    videoArgs: ['-c:v', 'libx265', '-preset', 'fast', '-x265-params', 'log-level=error:keyint=15:wpp=1', '-tag:v', 'hvc1', '-pix_fmt', 'yuv420p'],
  });
  video = await packageCmaf(h264File, '0:v', 'video');
  audio = await packageCmaf(h264File, '0:a', 'audio');
  hevc = await packageCmaf(hevcFile, '0:v', 'hevc');
});

after(() => cleanup());

/** Splits an Annex B stream into NAL units (trailing zero bytes dropped). */
function annexBNals(stream: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1) starts.push(i + 3);
  }
  return starts.map((start, index) => {
    let end = index + 1 < starts.length ? starts[index + 1]! - 3 : stream.length;
    while (end > start && stream[end - 1] === 0) end--;
    return stream.subarray(start, end);
  });
}

/** ffmpeg's slice header ends (bits), from trace_headers: one per slice, in stream order. */
async function tracedHeaderEnds(file: string, isCabacAlignment: (name: string) => boolean): Promise<number[]> {
  const result = await run('ffmpeg', ['-hide_banner', '-loglevel', 'trace', '-i', file, '-map', '0:v', '-c', 'copy', '-bsf:v', 'trace_headers', '-f', 'null', '-']);
  assert.equal(result.code, 0, result.stderr.slice(-2000));
  const ends: number[] = [];
  let inSlice = false;
  for (const line of result.stderr.split('\n')) {
    if (!line.includes('[trace_headers')) continue;
    if (/\] Slice( Segment)? Header/.test(line)) {
      inSlice = true;
      ends.push(0);
      continue;
    }
    const field = /\] (\d+)\s+(\S+)\s+([01]+) = /.exec(line);
    if (!field) {
      inSlice = false;
      continue;
    }
    if (inSlice && !isCabacAlignment(field[2]!)) ends[ends.length - 1] = Number(field[1]) + field[3]!.length;
  }
  return ends;
}

describe('slice header lengths agree with ffmpeg’s bitstream parser', () => {
  it('H.264 (CABAC, B-frames, weighted prediction)', async () => {
    const annexB = join(dir, 'h264.264');
    await ffmpeg(['-i', h264File, '-map', '0:v', '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', annexB]);
    const sets = { sps: new Map(), pps: new Map() };
    const ours: number[] = [];
    for (const nal of annexBNals(await readFile(annexB))) {
      const type = nal[0]! & 0x1f;
      const rbsp = unescapeRbsp(nal).bytes;
      if (type === 7) sets.sps.set(parseH264Sps(rbsp).id, parseH264Sps(rbsp));
      if (type === 8) sets.pps.set(parseH264Pps(rbsp).id, parseH264Pps(rbsp));
      if (type === 1 || type === 5) ours.push(h264SliceHeaderBits(rbsp, sets));
    }
    const traced = await tracedHeaderEnds(h264File, (name) => name === 'cabac_alignment_one_bit');
    assert.equal(ours.length, 60);
    assert.deepEqual(ours, traced);
  });

  it('HEVC (x265: reference picture sets in slice headers, wavefront entry points)', async () => {
    const annexB = join(dir, 'hevc.265');
    await ffmpeg(['-i', hevcFile, '-map', '0:v', '-c', 'copy', '-bsf:v', 'hevc_mp4toannexb', '-f', 'hevc', annexB]);
    const sets = { sps: new Map(), pps: new Map() };
    const ours: number[] = [];
    for (const nal of annexBNals(await readFile(annexB))) {
      const type = (nal[0]! >> 1) & 0x3f;
      const rbsp = unescapeRbsp(nal).bytes;
      if (type === 33) sets.sps.set(parseHevcSps(rbsp).id, parseHevcSps(rbsp));
      if (type === 34) sets.pps.set(parseHevcPps(rbsp).id, parseHevcPps(rbsp));
      if (type < 32) ours.push(hevcSliceHeaderBytes(rbsp, sets));
    }
    const traced = await tracedHeaderEnds(hevcFile, () => false);
    assert.equal(ours.length, 60);
    assert.deepEqual(ours, traced.map((bits) => Math.ceil(bits / 8)));
  });
});

describe("'cenc' decrypted by ffmpeg's mov demuxer", () => {
  const settings: CencSettings = { scheme: 'cenc', key: { kid: KID, key: KEY }, pssh: [commonPssh([KID])] };

  for (const [name, track] of [['H.264', () => video], ['AAC', () => audio], ['HEVC', () => hevc]] as const) {
    it(`${name}: decodes frame-exact with the key, not without`, async () => {
      const clear = await frameHashes(['-i', 'pipe:0'], whole(track()));
      const encrypted = whole(encrypt(track(), settings));
      // Piped: a seekable concatenation trips ffmpeg 5.1's fragment index (content-protection.md §6).
      assert.equal(await frameHashes(['-decryption_key', KEY.toString('hex'), '-i', 'pipe:0'], encrypted), clear);
      const withoutKey = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-f', 'framemd5', '-'], encrypted);
      assert.notEqual(withoutKey.stdout.toString().split('\n').filter((l) => l && !l.startsWith('#')).join('\n'), clear);
    });
  }
});

// ---- an independent 'cbcs' decryptor: its own box walk, its own reading of tenc, trun and senc ----

interface RawBox {
  type: string;
  start: number;
  body: number;
  end: number;
}

function boxesIn(buf: Buffer, start: number, end: number): RawBox[] {
  const list: RawBox[] = [];
  for (let pos = start; pos < end; ) {
    const size = buf.readUInt32BE(pos);
    list.push({ type: buf.toString('latin1', pos + 4, pos + 8), start: pos, body: pos + 8, end: pos + size });
    pos += size;
  }
  return list;
}

const child = (buf: Buffer, parent: RawBox, type: string, skip = 0) => boxesIn(buf, parent.body + skip, parent.end).find((b) => b.type === type);

/** tenc of the (single) track: pattern and constant IV, by hand (ISO/IEC 23001-7 §8.2). */
function readTenc(init: Buffer): { crypt: number; skip: number; iv: Buffer; kid: Buffer } {
  const at = init.indexOf(Buffer.from('tenc')) - 4;
  const tenc = { body: at + 8 };
  const version = init[tenc.body]!;
  const pattern = init[tenc.body + 5]!;
  assert.equal(version, 1);
  assert.equal(init[tenc.body + 7], 0, 'per-sample IV size 0');
  const ivSize = init[tenc.body + 24]!;
  return { crypt: pattern >> 4, skip: pattern & 15, kid: init.subarray(tenc.body + 8, tenc.body + 24), iv: init.subarray(tenc.body + 25, tenc.body + 25 + ivSize) };
}

function cbcDecrypt(data: Buffer, iv: Buffer): Buffer {
  const decipher = createDecipheriv('aes-128-cbc', KEY, iv).setAutoPadding(false);
  return Buffer.concat([decipher.update(data), decipher.final()]);
}

/** Decrypts every sample of a 'cbcs' segment in place (on a copy). */
function decryptCbcsSegment(init: Buffer, segment: Buffer): Buffer {
  const tenc = readTenc(init);
  const out = Buffer.from(segment);
  for (const moof of boxesIn(segment, 0, segment.length).filter((b) => b.type === 'moof')) {
    for (const traf of boxesIn(segment, moof.body, moof.end).filter((b) => b.type === 'traf')) {
      const trun = child(segment, traf, 'trun')!;
      const trunFlags = segment.readUInt32BE(trun.body) & 0xffffff;
      const count = segment.readUInt32BE(trun.body + 4);
      let pos = trun.body + 8;
      const dataOffset = segment.readInt32BE(pos);
      pos += 4 + (trunFlags & 0x4 ? 4 : 0);
      const sizes: number[] = [];
      for (let i = 0; i < count; i++) {
        if (trunFlags & 0x100) pos += 4;
        sizes.push(segment.readUInt32BE(pos));
        pos += 4 + (trunFlags & 0x400 ? 4 : 0) + (trunFlags & 0x800 ? 4 : 0);
      }
      const senc = child(segment, traf, 'senc')!;
      const withSubsamples = (segment.readUInt32BE(senc.body) & 0x2) !== 0;
      assert.equal(segment.readUInt32BE(senc.body + 4), count);
      let entry = senc.body + 8;
      let sampleAt = moof.start + dataOffset;
      for (const size of sizes) {
        const ranges: [number, number][] = [];
        if (withSubsamples) {
          const subsamples = segment.readUInt16BE(entry);
          entry += 2;
          let at = sampleAt;
          for (let s = 0; s < subsamples; s++) {
            at += segment.readUInt16BE(entry);
            const protectedBytes = segment.readUInt32BE(entry + 2);
            ranges.push([at, protectedBytes]);
            at += protectedBytes;
            entry += 6;
          }
          assert.equal(at, sampleAt + size, 'subsamples cover the sample');
        } else ranges.push([sampleAt, size]);
        for (const [start, length] of ranges) {
          const blocks: number[] = [];
          const period = tenc.crypt + tenc.skip;
          for (let block = 0; block < Math.floor(length / 16); block++) if (period === 0 || block % period < tenc.crypt) blocks.push(block);
          const plain = cbcDecrypt(Buffer.concat(blocks.map((b) => segment.subarray(start + b * 16, start + b * 16 + 16))), tenc.iv);
          blocks.forEach((b, i) => plain.copy(out, start + b * 16, i * 16, i * 16 + 16));
        }
        sampleAt += size;
      }
    }
  }
  return out;
}

/** The mdat payloads of a segment, in order. */
const mdats = (segment: Buffer) => boxesIn(segment, 0, segment.length).filter((b) => b.type === 'mdat').map((b) => segment.subarray(b.body, b.end));

describe("'cbcs' decrypted with node:crypto by a decryptor written here", () => {
  const settings: CencSettings = { scheme: 'cbcs', key: { kid: KID, key: KEY }, constantIv: CONSTANT_IV, pssh: [] };

  for (const [name, track, pattern] of [['H.264', () => video, [1, 9]], ['AAC', () => audio, [0, 0]], ['HEVC', () => hevc, [1, 9]]] as const) {
    it(`${name}: every sample decrypts to the clear bytes and decodes frame-exact`, async () => {
      const clear = track();
      const encrypted = encrypt(clear, settings);
      const tenc = readTenc(encrypted.init);
      assert.deepEqual([tenc.crypt, tenc.skip], pattern);
      assert.deepEqual(tenc.kid, KID);
      const decrypted = encrypted.segments.map((segment) => decryptCbcsSegment(encrypted.init, segment));
      decrypted.forEach((segment, i) => {
        assert.notDeepEqual(mdats(encrypted.segments[i]!), mdats(clear.segments[i]!), `segment ${i + 1} is encrypted`);
        assert.deepEqual(mdats(segment), mdats(clear.segments[i]!), `segment ${i + 1} decrypts to the clear samples`);
      });
      // The decrypted fragments (senc and all) behind the clear init decode like the clear track.
      const expected = await frameHashes(['-i', 'pipe:0'], whole(clear));
      assert.equal(await frameHashes(['-i', 'pipe:0'], Buffer.concat([clear.init, ...decrypted])), expected);
    });
  }
});

describe('HLS AES-128 whole-segment encryption', () => {
  async function checkPlaylist(name: string, init: Buffer | undefined, segments: Buffer[], extension: string): Promise<void> {
    const folder = join(dir, name);
    await mkdir(folder);
    await writeFile(join(folder, 'key.bin'), KEY);
    const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:1', '#EXT-X-PLAYLIST-TYPE:VOD'];
    if (init) {
      await writeFile(join(folder, 'init.mp4'), init);
      lines.push('#EXT-X-MAP:URI="init.mp4"');
    }
    // The first segment with an explicit IV, the others by the media sequence rule.
    const explicitIv = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    for (const [index, segment] of segments.entries()) {
      const iv = index === 0 ? explicitIv : mediaSequenceIv(index + 1);
      const encrypted = encryptAes128Segment(segment, KEY, iv);
      const file = `seg_${index + 1}.${extension}`;
      await writeFile(join(folder, file), encrypted);
      // openssl decrypts each file back to the clear bytes.
      const openssl = await run('openssl', ['enc', '-d', '-aes-128-cbc', '-K', KEY.toString('hex'), '-iv', iv.toString('hex'), '-in', join(folder, file)]);
      assert.equal(openssl.code, 0, openssl.stderr);
      assert.deepEqual(openssl.stdout, segment, `${file} decrypts with openssl`);
      if (index === 0) lines.push(`#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=${ivAttribute(iv)}`);
      if (index === 1) lines.push('#EXT-X-KEY:METHOD=AES-128,URI="key.bin"');
      lines.push('#EXTINF:1.0,', file);
    }
    lines.push('#EXT-X-ENDLIST');
    await writeFile(join(folder, 'index.m3u8'), lines.join('\n') + '\n');
    const clear = await frameHashes(['-i', 'pipe:0'], Buffer.concat([...(init ? [init] : []), ...segments]));
    const played = await frameHashes(['-allowed_extensions', 'ALL', '-i', join(folder, 'index.m3u8')]);
    assert.equal(played, clear);
  }

  it('fMP4 segments (init clear, before the key)', async () => {
    await checkPlaylist('aes-fmp4', video.init, video.segments, 'm4s');
  });

  it('MPEG-TS segments', async () => {
    const folder = join(dir, 'ts');
    await mkdir(folder);
    await ffmpeg(buildTsPackageArgs({ video: h264File, audio: h264File, segmentSeconds: 1, segmentPattern: join(folder, 'seg_%05d.ts'), scratchPlaylist: join(folder, 'x.m3u8') }));
    const names = (await readdir(folder)).filter((file) => file.endsWith('.ts')).sort();
    assert.ok(names.length >= 2);
    await checkPlaylist('aes-ts', undefined, await Promise.all(names.map((file) => readFile(join(folder, file)))), 'ts');
  });
});
