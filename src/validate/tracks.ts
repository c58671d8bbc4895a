/**
 * What a media playlist's segments really contain, measured from their bytes: fMP4 through
 * vidpipe's own box parser (measureTrack), MPEG-TS through ffprobe's packet list, with the
 * codec string taken from a stream-copy remux of the first segment into fMP4 (ffmpeg builds
 * avcC/esds from the Annex-B SPS / ADTS header, so describeInit can read the real values).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeInit } from '../media/codec-strings.js';
import { averageSegmentBitrate, measureTrack, peakSegmentBitrate } from '../media/measure.js';
import { runCapture } from '../ffmpeg/run.js';
import { buildSegmentPacketsArgs, buildStreamRemuxArgs } from '../ffmpeg/args/inspect.js';
import type { FfmpegBinaries } from '../ffmpeg/binaries.js';
import type { MediaPlaylist } from './hls-playlist.js';
import type { PackageReader } from './source.js';

export type SegmentFormat = 'fmp4' | 'ts' | 'webvtt' | 'unknown';

export interface MeasuredSegment {
  uri: string;
  bytes: number;
  durationSeconds: number;
  startsWithKeyFrame: boolean;
}

export interface MeasuredMedia {
  format: 'fmp4' | 'ts';
  kind: 'video' | 'audio' | 'other';
  /** RFC 6381 strings of every track in the segments (MPEG-TS may mux audio with video). */
  codecs: string[];
  width?: number;
  height?: number;
  displayWidth?: number;
  displayHeight?: number;
  channels?: number;
  frameRate?: number;
  /** Duration of one frame (video) or one audio access unit: the tolerance of duration checks. */
  frameSeconds: number;
  /** Sum of the sample durations, including any encoder delay an edit list hides. */
  durationSeconds: number;
  /** The same without that delay (AAC priming): what a player presents. */
  presentationSeconds: number;
  /** MPEG-TS only: how long the audio muxed beside the video lasts. */
  muxedAudioSeconds?: number;
  segments: MeasuredSegment[];
  /** Key frame times, seconds from the first sample. */
  keyFrameTimes: number[];
  peakBitrate: number;
  averageBitrate: number;
}

export interface Unmeasured {
  unmeasured: string;
}

export type Tools = () => Promise<FfmpegBinaries>;

export function sniffFormat(head: Buffer): SegmentFormat {
  if (head[0] === 0x47 && (head.length <= 188 || head[188] === 0x47)) return 'ts';
  if (head.subarray(0, 6).toString('latin1') === 'WEBVTT' || head.subarray(3, 9).toString('latin1') === 'WEBVTT') return 'webvtt';
  const type = head.subarray(4, 8).toString('latin1');
  if (['styp', 'moof', 'sidx', 'ftyp', 'emsg', 'prft'].includes(type)) return 'fmp4';
  return 'unknown';
}

function mostCommon(values: readonly number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let best: number | undefined;
  for (const [value, count] of counts) if (best === undefined || count > counts.get(best)!) best = value;
  return best;
}

export async function measureMediaPlaylist(
  reader: PackageReader,
  playlistRef: string,
  playlist: MediaPlaylist,
  format: SegmentFormat | undefined,
  tools: Tools,
): Promise<MeasuredMedia | Unmeasured> {
  if (playlist.segments.length === 0) return { unmeasured: 'the playlist lists no segments' };
  const refs = playlist.segments.map((segment) => reader.resolve(playlistRef, segment.uri));
  for (const ref of refs) if (!(await reader.exists(ref))) return { unmeasured: `segment ${reader.display(ref)} is missing` };
  if (playlist.segments.some((segment) => segment.byteRange)) return { unmeasured: 'segments are byte ranges of a single file; only whole-file segments are measured' };
  try {
    if (format === 'fmp4') return await measureFmp4(reader, playlistRef, playlist, refs);
    if (format === 'ts') return await measureTs(reader, playlist, refs, tools);
  } catch (error) {
    return { unmeasured: `cannot measure ${reader.display(playlistRef)}: ${(error as Error).message}` };
  }
  return { unmeasured: format === 'webvtt' ? 'WebVTT text segments carry no audio or video' : 'segments are neither fMP4 nor MPEG-TS' };
}

async function measureFmp4(reader: PackageReader, playlistRef: string, playlist: MediaPlaylist, refs: string[]): Promise<MeasuredMedia | Unmeasured> {
  const maps = new Set(playlist.segments.map((segment) => segment.mapUri));
  const mapUri = playlist.segments[0]!.mapUri;
  if (!mapUri || maps.size !== 1) return { unmeasured: 'fMP4 segments without one EXT-X-MAP cannot be measured' };
  const initRef = reader.resolve(playlistRef, mapUri);
  if (!(await reader.exists(initRef))) return { unmeasured: `init segment ${reader.display(initRef)} is missing` };
  const track = await measureTrack({
    initPath: await reader.localPath(initRef),
    initUri: mapUri,
    segments: await Promise.all(refs.map(async (ref, index) => ({ path: await reader.localPath(ref), uri: String(index) }))),
    targetDurationSeconds: playlist.targetDurations[0],
  });
  const { timescale } = track;
  const syncStarts = new Set(track.keyFrames.map((keyFrame) => `${keyFrame.uri}@${keyFrame.time}`));
  const origin = track.segments[0]?.startTime ?? 0;
  const kind = track.handler === 'vide' ? 'video' : track.handler === 'soun' ? 'audio' : 'other';
  return {
    format: 'fmp4',
    kind,
    codecs: [track.codecs],
    width: track.width,
    height: track.height,
    displayWidth: track.displayWidth,
    displayHeight: track.displayHeight,
    channels: track.channels,
    frameRate: track.frameRate ? track.frameRate.num / track.frameRate.den : undefined,
    frameSeconds: track.frameRate ? track.frameRate.den / track.frameRate.num : track.durationSeconds / Math.max(1, track.frameCount),
    durationSeconds: track.durationSeconds,
    // Audio edit lists drop the encoder's priming samples; a video edit only shifts presentation
    // by the B-frame delay and drops nothing.
    presentationSeconds: kind === 'audio' ? track.durationSeconds - track.editMediaTime / timescale : track.durationSeconds,
    segments: track.segments.map((segment) => ({
      uri: reader.display(refs[Number(segment.uri)]!),
      bytes: segment.bytes,
      durationSeconds: segment.duration / timescale,
      // Audio has no sync table worth checking: every AAC/Opus frame decodes alone.
      startsWithKeyFrame: kind !== 'video' || syncStarts.has(`${segment.uri}@${segment.startTime}`),
    })),
    keyFrameTimes: kind === 'video' ? track.keyFrames.map((keyFrame) => (keyFrame.time - origin) / timescale) : [],
    peakBitrate: track.peakBitrate,
    averageBitrate: track.averageBitrate,
  };
}

interface ProbePacket {
  stream_index: number;
  pts_time?: string;
  duration_time?: string;
  flags?: string;
}

interface ProbeStream {
  index: number;
  codec_type?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  channels?: number;
}

async function probeTs(ffprobe: string, path: string): Promise<{ streams: ProbeStream[]; packets: ProbePacket[] }> {
  const result = await runCapture(ffprobe, buildSegmentPacketsArgs(path), { label: 'validate probe' });
  if (result.exitCode !== 0) throw new Error(`ffprobe cannot read ${path}: ${result.stderr.trim().split('\n').pop()}`);
  const json = JSON.parse(result.stdout) as { streams?: ProbeStream[]; packets?: ProbePacket[] };
  return { streams: json.streams ?? [], packets: json.packets ?? [] };
}

/** Codec strings of a TS segment's streams, read from a stream-copy remux into fMP4. */
async function tsCodecStrings(ffmpeg: string, path: string, streams: ProbeStream[]): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'vidpipe-validate-ts-'));
  try {
    const codecs: string[] = [];
    for (const stream of streams.filter((s) => s.codec_type === 'video' || s.codec_type === 'audio')) {
      const out = join(dir, `${stream.index}.mp4`);
      const result = await runCapture(ffmpeg, buildStreamRemuxArgs(path, stream.index, out), { label: 'validate remux' });
      if (result.exitCode !== 0) throw new Error(`ffmpeg cannot remux ${path}: ${result.stderr.trim().split('\n').pop()}`);
      codecs.push(describeInit(await readFile(out)).codecs);
    }
    return codecs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureTs(reader: PackageReader, playlist: MediaPlaylist, refs: string[], tools: Tools): Promise<MeasuredMedia> {
  const { ffmpeg, ffprobe } = await tools();
  const paths = await Promise.all(refs.map((ref) => reader.localPath(ref)));
  const probes = [];
  for (const path of paths) probes.push(await probeTs(ffprobe, path));
  const streams = probes[0]!.streams;
  const main = streams.find((s) => s.codec_type === 'video') ?? streams.find((s) => s.codec_type === 'audio');
  if (!main) throw new Error('the first segment has no audio or video stream');
  const kind = main.codec_type === 'video' ? 'video' : 'audio';
  const perSegment = probes.map(({ packets }) => packets.filter((p) => p.stream_index === main.index && p.pts_time !== undefined));
  const starts = perSegment.map((packets) => Math.min(...packets.map((p) => Number(p.pts_time))));
  const ends = perSegment.map((packets) => Math.max(...packets.map((p) => Number(p.pts_time) + Number(p.duration_time ?? 0))));
  const origin = starts[0]!;
  const sizes = await Promise.all(paths.map(async (path) => (await readFile(path)).length));
  const segments = perSegment.map((packets, index) => ({
    uri: reader.display(refs[index]!),
    bytes: sizes[index]!,
    // A segment lasts until the next one starts; the last one until its last frame ends.
    durationSeconds: (index + 1 < starts.length ? starts[index + 1]! : ends[index]!) - starts[index]!,
    startsWithKeyFrame: kind !== 'video' || (packets[0]?.flags ?? '').includes('K'),
  }));
  const frameSeconds = mostCommon(perSegment.flat().map((p) => Number(p.duration_time ?? 0))) ?? 0;
  const audio = kind === 'video' ? streams.find((s) => s.codec_type === 'audio') : undefined;
  const audioPackets = audio ? probes.flatMap(({ packets }) => packets.filter((p) => p.stream_index === audio.index && p.pts_time !== undefined)) : [];
  const audioTimes = audioPackets.map((p) => Number(p.pts_time));
  const [num, den] = (main.avg_frame_rate ?? '0/0').split('/').map(Number);
  const spans = segments.map((segment) => ({ bytes: segment.bytes, durationSeconds: segment.durationSeconds }));
  return {
    format: 'ts',
    kind,
    codecs: await tsCodecStrings(ffmpeg, paths[0]!, streams),
    width: main.width,
    height: main.height,
    channels: streams.find((s) => s.codec_type === 'audio')?.channels,
    frameRate: kind === 'video' && num && den ? num / den : undefined,
    frameSeconds,
    durationSeconds: Math.max(...ends) - origin,
    presentationSeconds: Math.max(...ends) - origin,
    ...(audioPackets.length ? { muxedAudioSeconds: Math.max(...audioPackets.map((p) => Number(p.pts_time) + Number(p.duration_time ?? 0))) - Math.min(...audioTimes) } : {}),
    segments,
    keyFrameTimes: kind === 'video' ? perSegment.flat().filter((p) => (p.flags ?? '').includes('K')).map((p) => Number(p.pts_time) - origin).sort((a, b) => a - b) : [],
    peakBitrate: peakSegmentBitrate(spans, playlist.targetDurations[0] ?? Math.max(...spans.map((s) => s.durationSeconds))),
    averageBitrate: averageSegmentBitrate(spans),
  };
}
