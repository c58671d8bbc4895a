/**
 * The encryption step, right after packaging: a handler per scheme behind one interface, which
 * the package nodes call on the track they just wrote (src/job/graph/builder.ts) without asking
 * which one they hold. Each handler encrypts the files in place and returns the track with what
 * its manifests must signal (src/protection/signalling.ts): clear (nothing), 'cbcs'/'cenc'
 * (Common Encryption of the CMAF samples: one segment set for HLS and DASH), HLS AES-128 (whole
 * segments, CMAF and MPEG-TS).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { VidpipeError } from '../../errors.js';
import { averageSegmentBitrate, measureTrack, peakSegmentBitrate } from '../../media/measure.js';
import { encryptAes128Segment, mediaSequenceIv } from '../../protection/aes-128.js';
import { protectInitSegment, protectMediaSegment, type CencSettings } from '../../protection/cenc-file.js';
import { keyForTrack, protectionRecord, type ProtectionKeys, type TrackType } from '../../protection/keys.js';
import { aes128Signalling, initPsshBoxes, sampleSchemeSignalling } from '../../protection/signalling.js';
import type { PackagedTrack } from './package.js';
import type { PackagedTsTrack } from './package-ts.js';

export interface PackageProtection {
  /** A CMAF track (init.mp4 + seg_*.m4s) just packaged under `packageDir`. */
  cmafTrack(track: PackagedTrack, type: TrackType, packageDir: string): Promise<PackagedTrack>;
  /** An MPEG-TS variant (video with the default audio muxed) just packaged. */
  tsTrack(track: PackagedTsTrack): Promise<PackagedTsTrack>;
}

const CLEAR: PackageProtection = {
  cmafTrack: async (track) => track,
  tsTrack: async (track) => track,
};

/** 'cbcs' and 'cenc': the samples of every fragment, the init gets sinf and the pssh boxes. */
function sampleEncryption(keys: ProtectionKeys): PackageProtection {
  return {
    async cmafTrack(track, type) {
      const key = keyForTrack(keys, type);
      if (!key.kid) throw new VidpipeError('USAGE', `--encrypt ${keys.scheme} needs a key ID for the ${type} key`);
      const pssh = initPsshBoxes(keys, type);
      const settings: CencSettings = {
        scheme: keys.scheme as CencSettings['scheme'],
        key: { kid: key.kid, key: key.key },
        // One constant IV per track ('cbcs'): the key source's, or a fresh one (it is public, in tenc).
        constantIv: key.explicitIv ?? randomBytes(16),
        pssh,
      };
      const clearInit = await readFile(track.initPath);
      for (const path of track.segmentPaths) await writeFile(path, protectMediaSegment(await readFile(path), clearInit, settings));
      await writeFile(track.initPath, protectInitSegment(clearInit, settings));
      return { ...track, protection: sampleSchemeSignalling(keys, type, pssh), protectionRecord: protectionRecord(keys) };
    },
    async tsTrack() {
      throw new VidpipeError('USAGE', `--encrypt ${keys.scheme} applies to fMP4 (CMAF) segments only; MPEG-TS variants can only be encrypted with aes-128`, {
        hint: 'use --hls-segments fmp4, or --encrypt aes-128',
      });
    },
  };
}

/** The IV of the segment at `index` of its playlist (EXT-X-MEDIA-SEQUENCE is 0): the key source's, or the media sequence number. */
function segmentIv(explicitIv: Buffer | undefined, index: number): Buffer {
  return explicitIv ?? mediaSequenceIv(index);
}

/**
 * HLS AES-128: every media segment encrypted whole (the init stays clear). The CMAF track is
 * measured before, since its encrypted segments cannot be read; no I-frame playlists (a byte
 * range of a CBC-encrypted file cannot be decrypted alone).
 */
function wholeSegmentEncryption(keys: ProtectionKeys): PackageProtection {
  return {
    async cmafTrack(track, type, packageDir) {
      const key = keyForTrack(keys, type);
      const uri = (path: string) => relative(packageDir, path).split(sep).join('/');
      const measured = await measureTrack({ initPath: track.initPath, initUri: uri(track.initPath), segments: track.segmentPaths.map((path) => ({ path, uri: uri(path) })) });
      const segments = [];
      for (const [index, path] of track.segmentPaths.entries()) {
        const encrypted = encryptAes128Segment(await readFile(path), key.key, segmentIv(key.explicitIv, index));
        await writeFile(path, encrypted);
        segments.push({ ...measured.segments[index]!, bytes: encrypted.length });
      }
      const spans = segments.map((segment) => ({ bytes: segment.bytes, durationSeconds: segment.duration / measured.timescale }));
      const { iFramePeakBitrate: _peak, iFrameAverageBitrate: _average, ...rest } = measured;
      return {
        ...track,
        measured: { ...rest, segments, keyFrames: [], peakBitrate: peakSegmentBitrate(spans, measured.targetDurationSeconds), averageBitrate: averageSegmentBitrate(spans) },
        protection: aes128Signalling(keys, type),
        protectionRecord: protectionRecord(keys),
      };
    },
    async tsTrack(track) {
      // Video and audio muxed: the video key.
      const key = keyForTrack(keys, 'video');
      const segments = [];
      for (const [index, segment] of track.segments.entries()) {
        const encrypted = encryptAes128Segment(await readFile(segment.path), key.key, segmentIv(key.explicitIv, index));
        await writeFile(segment.path, encrypted);
        segments.push({ ...segment, bytes: encrypted.length, keyFrames: [] });
      }
      return { ...track, segments, protection: aes128Signalling(keys, 'video'), protectionRecord: protectionRecord(keys) };
    },
  };
}

const HANDLERS: Record<ProtectionKeys['scheme'], (keys: ProtectionKeys) => PackageProtection> = {
  cbcs: sampleEncryption,
  cenc: sampleEncryption,
  'aes-128': wholeSegmentEncryption,
};

/** The encryption step of a job: the handler of its scheme, or the clear one. */
export function packageProtection(keys: ProtectionKeys | undefined): PackageProtection {
  return keys ? HANDLERS[keys.scheme](keys) : CLEAR;
}
