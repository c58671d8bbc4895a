import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { averageSegmentBitrate, iFrameBitrates, peakSegmentBitrate, targetDuration } from '../../media/measure.js';
import type { KeyFrameRange, PackageModel, TrackProtection, VideoTrack } from '../../manifest/model.js';
import type { Rendition } from '../ladder.js';
import { buildVideoPacketPositionsArgs } from '../../ffmpeg/args/inspect.js';
import { buildTsPackageArgs } from '../../ffmpeg/args/package-ts.js';
import { VidpipeError } from '../../errors.js';
import type { StageContext } from '../stage.js';
import type { ProtectionRecord } from '../../protection/keys.js';

export interface PackageTsInput {
  video: string;
  audio?: string;
  /** Track folder inside the package, e.g. <package>/ts/h264-720p. */
  outputDir: string;
  segmentSeconds: number;
  durationSeconds: number;
}

export interface TsSegment {
  path: string;
  bytes: number;
  durationSeconds: number;
  /** Key frames: byte range from the PAT/PMT before each one to the next video PES, and its PTS. */
  keyFrames: { offset: number; length: number; ptsSeconds: number }[];
}

export interface PackagedTsTrack {
  outputDir: string;
  segments: TsSegment[];
  /** How its segments are encrypted (HLS AES-128 only), as the playlists signal it; absent: clear. */
  protection?: TrackProtection;
  /** What the job's records keep of that encryption: scheme and key IDs, never a key. */
  protectionRecord?: ProtectionRecord;
  /** Not packaged: its rendition did not rise above the one below (src/ladder/rise.ts); no files. */
  dropped?: true;
}

/** Segment names and EXTINF durations from ffmpeg's VOD playlist (its durations come from the packet timestamps). */
export function parseScratchPlaylist(text: string): { uri: string; durationSeconds: number }[] {
  const entries: { uri: string; durationSeconds: number }[] = [];
  let duration: number | undefined;
  for (const line of text.split(/\r?\n/)) {
    const extinf = /^#EXTINF:([\d.]+)/.exec(line);
    if (extinf) duration = Number(extinf[1]);
    else if (line && !line.startsWith('#')) {
      if (duration === undefined) throw new VidpipeError('FFMPEG_FAILED', `ffmpeg's TS playlist lists ${line} without EXTINF`);
      entries.push({ uri: line, durationSeconds: duration });
      duration = undefined;
    }
  }
  return entries;
}

/**
 * Muxes one H.264 rendition with the default AAC rendition into MPEG-TS segments for legacy
 * HLS players. Muxed rather than separate audio: players that need TS are the ones least
 * likely to handle alternate audio groups or packed audio, and Apple's spec allows either.
 */
export async function packageTs(input: PackageTsInput, ctx: StageContext): Promise<PackagedTsTrack> {
  await rm(input.outputDir, { recursive: true, force: true });
  await mkdir(input.outputDir, { recursive: true });
  const scratchPlaylist = join(input.outputDir, 'ffmpeg.m3u8');
  await ctx.ffmpeg.run(
    buildTsPackageArgs({
      video: input.video,
      audio: input.audio,
      segmentSeconds: input.segmentSeconds,
      segmentPattern: join(input.outputDir, 'seg_%05d.ts'),
      scratchPlaylist,
    }),
    { label: `package TS ${input.outputDir}`, durationSeconds: input.durationSeconds },
  );
  const entries = parseScratchPlaylist(await readFile(scratchPlaylist, 'utf8'));
  await rm(scratchPlaylist, { force: true });
  if (entries.length === 0) throw new VidpipeError('FFMPEG_FAILED', `TS packaging of ${input.outputDir} produced no segments`);
  const segments: TsSegment[] = [];
  for (const entry of entries) {
    const path = join(input.outputDir, entry.uri);
    const bytes = (await stat(path)).size;
    const keyFrames = tsKeyFrameRanges(await readFile(path), await videoPacketPositions(ctx, path));
    if (keyFrames[0]?.offset !== 0) throw new VidpipeError('FFMPEG_FAILED', `${path} does not start with a key frame`);
    segments.push({ path, bytes, durationSeconds: entry.durationSeconds, keyFrames });
  }
  ctx.onProgress(1);
  return { outputDir: input.outputDir, segments };
}

const TS_PACKET = 188;
const PID_PAT = 0x0000;
const PID_SDT = 0x0011;

interface VideoPacket {
  pos: number;
  ptsSeconds: number;
  key: boolean;
}

/** Byte positions (the TS packet where each PES starts) of the video packets, from ffprobe. */
async function videoPacketPositions(ctx: StageContext, path: string): Promise<VideoPacket[]> {
  const stdout = await ctx.ffmpeg.probe(buildVideoPacketPositionsArgs(path), `probe ${path}`);
  const packets = (JSON.parse(stdout) as { packets?: { pos?: string; pts_time?: string; flags?: string }[] }).packets ?? [];
  return packets.map((p) => ({ pos: Number(p.pos), ptsSeconds: Number(p.pts_time), key: (p.flags ?? '').startsWith('K') })).sort((a, b) => a.pos - b.pos);
}

function pidAt(buffer: Buffer, offset: number): number {
  return ((buffer[offset + 1]! & 0x1f) << 8) | buffer[offset + 2]!;
}

/** PMT PIDs listed in the first PAT of the file. */
function pmtPids(buffer: Buffer): Set<number> {
  const pids = new Set<number>();
  for (let offset = 0; offset + TS_PACKET <= buffer.length; offset += TS_PACKET) {
    if (buffer[offset] !== 0x47 || pidAt(buffer, offset) !== PID_PAT || !(buffer[offset + 1]! & 0x40)) continue;
    const hasAdaptation = (buffer[offset + 3]! & 0x20) !== 0;
    const payload = offset + 4 + (hasAdaptation ? 1 + buffer[offset + 4]! : 0);
    const section = payload + 1 + buffer[payload]!;
    const sectionLength = ((buffer[section + 1]! & 0x0f) << 8) | buffer[section + 2]!;
    for (let entry = section + 8; entry + 4 <= section + 3 + sectionLength - 4; entry += 4) {
      const programNumber = buffer.readUInt16BE(entry);
      if (programNumber !== 0) pids.add(buffer.readUInt16BE(entry + 2) & 0x1fff);
    }
    break;
  }
  return pids;
}

/**
 * I-frame byte ranges in one TS segment: each starts at the PSI (PAT/PMT/SDT) packets ffmpeg's
 * muxer writes right before every video key frame, so a player can demux the range on its own,
 * and ends where the next video PES starts (the key frame's data and the audio interleaved with it).
 */
export function tsKeyFrameRanges(buffer: Buffer, packets: VideoPacket[]): TsSegment['keyFrames'] {
  const psi = new Set([PID_PAT, PID_SDT, ...pmtPids(buffer)]);
  return packets.flatMap((packet, index) => {
    if (!packet.key) return [];
    let start = packet.pos;
    while (start >= TS_PACKET && buffer[start - TS_PACKET] === 0x47 && psi.has(pidAt(buffer, start - TS_PACKET))) start -= TS_PACKET;
    const end = packets[index + 1]?.pos ?? buffer.length;
    return [{ offset: start, length: end - start, ptsSeconds: packet.ptsSeconds }];
  });
}

/** 90 kHz, the MPEG-TS clock, so EXTINF values print back exactly. */
const TS_TIMESCALE = 90000;

/**
 * The HLS model of the TS renditions: each variant is self-contained (video + muxed AAC), so
 * there is no audio group, CODECS names both, and BANDWIDTH is measured from the TS files,
 * which include the audio and the TS overhead. Resolution, frame rate and the video codec
 * string are those measured on the same bitstream's CMAF init. The I-frame playlists address
 * byte ranges of the same TS segments.
 */
export function tsPackageModel(packageDir: string, ts: { rendition: Rendition; track: PackagedTsTrack }[], cmaf: PackageModel): PackageModel {
  // The stereo AAC muxed in: a 5.1 group's default is not the package's.
  const aac = cmaf.audios.filter((track) => track.codec === 'aac' && track.channels <= 2);
  const audio = aac.find((track) => track.isDefault) ?? aac[0];
  const videos: VideoTrack[] = ts.map(({ rendition, track }) => {
    const measured = cmaf.videos.find((video) => video.id === rendition.id);
    if (!measured) throw new VidpipeError('INTERNAL', `TS rendition ${rendition.id} has no CMAF counterpart`);
    const spans = track.segments.map((segment) => ({ bytes: segment.bytes, durationSeconds: segment.durationSeconds }));
    let start = 0;
    const segments = track.segments.map((segment) => {
      const duration = Math.round(segment.durationSeconds * TS_TIMESCALE);
      const entry = { uri: relative(packageDir, segment.path).split(sep).join('/'), bytes: segment.bytes, startTime: start, duration };
      start += duration;
      return entry;
    });
    const base = relative(packageDir, track.outputDir).split(sep).join('/');
    // Times on the playlist's timeline, which starts at the first key frame (the first segment's start).
    const origin = track.segments[0]?.keyFrames[0]?.ptsSeconds ?? 0;
    const keyFrames: KeyFrameRange[] = track.segments.flatMap((segment, k) =>
      segment.keyFrames.map((keyFrame) => ({
        uri: segments[k]!.uri, offset: keyFrame.offset, length: keyFrame.length, time: Math.round((keyFrame.ptsSeconds - origin) * TS_TIMESCALE),
      })),
    );
    const iFrames = iFrameBitrates(keyFrames, TS_TIMESCALE, start / TS_TIMESCALE);
    return {
      ...measured,
      id: `ts-${rendition.id}`,
      initUri: '',
      playlistUri: `${base}/index.m3u8`,
      muxedAudioCodecs: audio?.codecs,
      timescale: TS_TIMESCALE,
      segments,
      peakBitrate: peakSegmentBitrate(spans, targetDuration(spans.map((span) => span.durationSeconds))),
      averageBitrate: averageSegmentBitrate(spans),
      keyFrames,
      // None when the segments are encrypted whole (their byte ranges cannot be decrypted alone).
      iFramePlaylistUri: keyFrames.length > 0 ? `${base}/iframes.m3u8` : undefined,
      iFramePeakBitrate: iFrames.peak,
      iFrameAverageBitrate: iFrames.average,
      // The TS segments' own signalling, not the CMAF track's.
      protection: track.protection,
    };
  });
  return { ...cmaf, videos, audios: [], thumbnails: undefined };
}
