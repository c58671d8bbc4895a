import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { measureTrack, iFrameBitrates, type MeasuredTrack } from '../../media/measure.js';
import { presentationSeconds, toPresentationTimeline } from '../../media/edit-list.js';
import { writeMultivariantPlaylist, writeMediaPlaylist, writeIFramePlaylist, writeSubtitlePlaylist, commonTargetDuration } from '../../manifest/hls.js';
import { writeMpd } from '../../manifest/dash.js';
import { manifestLanguage } from '../../manifest/language.js';
import type { AudioTrack, PackageModel, SubtitleTrack, VideoTrack } from '../../manifest/model.js';
import type { Rendition } from '../ladder.js';
import type { AudioRendition } from '../plan.js';
import type { Rational } from '../../ffmpeg/probe.js';
import type { PackagedTrack } from './package.js';
import { writeSubtitleSegments, type ExtractedSubtitle } from './subtitles.js';
import { tsPackageModel, type PackagedTsTrack } from './package-ts.js';
import type { StoryboardResult } from './storyboard.js';
import { thumbnailTrack } from './thumbnail-track.js';
import type { StageContext } from '../stage.js';
import { VidpipeError } from '../../errors.js';
import type { ProtectionRecord } from '../../protection/keys.js';

export interface ManifestsInput {
  packageDir: string;
  segmentDurationSeconds: number;
  durationSeconds: number;
  frameRate?: Rational;
  videos: { rendition: Rendition; track: PackagedTrack }[];
  audios: { rendition: AudioRendition; track: PackagedTrack }[];
  storyboardVttUri?: string;
  /** The storyboard's sheets, for the DASH thumbnail AdaptationSet. */
  storyboard?: StoryboardResult;
  /** Subtitle tracks converted to WebVTT, segmented here on the video's timeline. */
  subtitles?: ExtractedSubtitle[];
  /** MPEG-TS renditions (H.264 + the default AAC muxed); written as their own multivariant playlist. */
  ts?: { rendition: Rendition; track: PackagedTsTrack }[];
  /** Which HLS the package offers: fMP4 (default), MPEG-TS, or both (TS in master-ts.m3u8). */
  hlsSegments?: 'fmp4' | 'ts' | 'both';
}

export interface ManifestsOutput {
  model: PackageModel;
  /** Relative paths of the manifests written. */
  master: string;
  /** Absent when the segments are encrypted in a way DASH cannot signal (whole-segment AES-128). */
  mpd?: string;
  /** The MPEG-TS multivariant playlist, when TS was written. */
  tsMaster?: string;
  playlists: string[];
  /** An encrypted package's scheme and key IDs (src/protection/keys.ts protectionRecord); absent: clear. */
  protection?: ProtectionRecord;
}

function toUri(packageDir: string, path: string): string {
  return relative(packageDir, path).split(sep).join('/');
}

async function measure(packageDir: string, track: PackagedTrack): Promise<MeasuredTrack> {
  // Segments encrypted whole were measured by the package node before they were encrypted.
  if (track.measured) return track.measured;
  return measureTrack({
    initPath: track.initPath,
    initUri: toUri(packageDir, track.initPath),
    segments: track.segmentPaths.map((path) => ({ path, uri: toUri(packageDir, path) })),
  });
}

/** An audio rendition's track as the manifests describe it, measured from its packaged files. */
export async function measuredAudioTrack(packageDir: string, rendition: AudioRendition, track: PackagedTrack, isDefault = rendition.isDefault): Promise<AudioTrack> {
  const measured = await measure(packageDir, track);
  const base = toUri(packageDir, track.outputDir);
  return {
    kind: 'audio',
    id: rendition.id,
    codec: rendition.codec,
    initUri: toUri(packageDir, track.initPath),
    playlistUri: `${base}/index.m3u8`,
    codecs: measured.codecs,
    timescale: measured.timescale,
    segments: toPresentationTimeline(measured.segments, measured.editMediaTime),
    peakBitrate: measured.peakBitrate,
    averageBitrate: measured.averageBitrate,
    groupId: audioGroupId(rendition),
    name: rendition.name,
    language: manifestLanguage(rendition.language),
    channels: measured.channels ?? rendition.channels,
    sampleRate: measured.sampleRate ?? rendition.sampleRate,
    isDefault,
    ...(track.protection ? { protection: track.protection } : {}),
    ...(rendition.role ? { role: rendition.role } : {}),
  };
}

/**
 * A subtitle track written as WebVTT segments on the package's segment grid, as the manifests
 * describe it. WebVTT local time 0 is the start of the video's media timeline (the first tfdt, in 90 kHz).
 */
export async function segmentedSubtitleTrack(
  packageDir: string,
  track: ExtractedSubtitle,
  timeline: { segmentDurationSeconds: number; durationSeconds: number; videos: readonly VideoTrack[] },
): Promise<SubtitleTrack> {
  const [video] = timeline.videos;
  const timelineStart = video ? Math.round((video.segments[0]!.startTime / video.timescale) * 90000) : 0;
  const written = await writeSubtitleSegments({
    packageDir,
    track,
    segmentDurationSeconds: timeline.segmentDurationSeconds,
    durationSeconds: timeline.durationSeconds,
    mpegtsAtZero: timelineStart,
  });
  const { plan } = track;
  return {
    kind: 'subtitle', id: plan.id, groupId: 'subs', name: plan.name, language: manifestLanguage(plan.language), isDefault: plan.isDefault, ...(plan.role ? { role: plan.role } : {}),
    playlistUri: written.playlistUri, segments: written.segments, vttUri: written.vttUri,
  };
}

/**
 * HLS audio groups by codec and layout, as Apple's authoring spec lays out stereo and multichannel
 * audio: `audio-aac` (stereo), `audio-aac-6ch`, `audio-eac3-6ch`; a variant is written per group, so
 * a player that cannot decode E-AC-3 or wants stereo never gets it.
 */
function audioGroupId(rendition: AudioRendition): string {
  return `audio-${rendition.codec}${rendition.channels > 2 ? `-${rendition.channels}ch` : ''}`;
}

/** Two renditions of one input: the same stream of the same file. */
function sameInput(a: AudioRendition, b: AudioRendition): boolean {
  return a.streamIndex === b.streamIndex && a.file === b.file;
}

/**
 * Measures every packaged track (sizes, durations, key frames, codec strings from the
 * bitstream) and writes the HLS playlists and the DASH MPD from those measurements.
 */
export async function writeManifests(input: ManifestsInput, ctx: StageContext): Promise<ManifestsOutput> {
  const { packageDir } = input;
  const videos: VideoTrack[] = [];
  for (const { rendition, track } of input.videos) {
    if (ctx.signal.aborted) throw new VidpipeError('INTERRUPTED', 'interrupted');
    const measured = await measure(packageDir, track);
    const base = toUri(packageDir, track.outputDir);
    const iframes = iFrameBitrates(measured.keyFrames, measured.timescale, measured.durationSeconds);
    videos.push({
      kind: 'video',
      id: rendition.id,
      codec: rendition.codec,
      initUri: toUri(packageDir, track.initPath),
      playlistUri: `${base}/index.m3u8`,
      codecs: measured.codecs,
      timescale: measured.timescale,
      segments: measured.segments,
      peakBitrate: measured.peakBitrate,
      averageBitrate: measured.averageBitrate,
      width: measured.width ?? rendition.width,
      height: measured.height ?? rendition.height,
      frameRate: input.frameRate ?? { num: 30, den: 1 },
      sar: '1:1',
      // From the init's colr box: HEVC/AV1 of an HDR source stay PQ/HLG, H.264 is tone-mapped to SDR.
      videoRange: measured.videoRange ?? 'SDR',
      keyFrames: measured.keyFrames,
      iFramePlaylistUri: measured.keyFrames.length > 0 ? `${base}/iframes.m3u8` : undefined,
      iFramePeakBitrate: iframes.peak,
      iFrameAverageBitrate: iframes.average,
      ...(track.protection ? { protection: track.protection } : {}),
    });
  }
  const audios: AudioTrack[] = [];
  // Audio-only packages have no audio groups (each rendition is a variant): only video packages need it.
  const stereoDefault = input.videos.length > 0 ? input.audios.find(({ rendition }) => rendition.isDefault)?.rendition : undefined;
  for (const { rendition, track } of input.audios) {
    // A surround group's own default is the default programme's 5.1 (as Apple's examples do); stereo stays the package's default.
    const isDefault = rendition.isDefault || (rendition.channels > 2 && stereoDefault !== undefined && sameInput(rendition, stereoDefault));
    audios.push(await measuredAudioTrack(packageDir, rendition, track, isDefault));
  }

  const subtitles: SubtitleTrack[] = [];
  for (const track of input.subtitles ?? []) {
    subtitles.push(await segmentedSubtitleTrack(packageDir, track, { segmentDurationSeconds: input.segmentDurationSeconds, durationSeconds: input.durationSeconds, videos }));
  }

  const model: PackageModel = {
    // An audio-only package lasts as long as its audio: a container's declared duration can be off
    // (an MP3's counts its encoder delay and padding), the decoded samples are not.
    durationSeconds: videos.length === 0 && audios.length > 0 ? presentationSeconds(audios) : input.durationSeconds,
    segmentDurationSeconds: input.segmentDurationSeconds,
    videos,
    audios,
    subtitles,
    storyboardVttUri: input.storyboardVttUri,
    thumbnails: input.storyboard ? await thumbnailTrack(packageDir, input.storyboard, input.durationSeconds) : undefined,
  };

  const targetDuration = commonTargetDuration(model);
  const files = new Map<string, string>();
  for (const track of [...videos, ...audios]) files.set(track.playlistUri, writeMediaPlaylist(track, model, { targetDuration }));
  for (const track of videos) if (track.iFramePlaylistUri) files.set(track.iFramePlaylistUri, writeIFramePlaylist(track, model));
  for (const track of subtitles) files.set(track.playlistUri, writeSubtitlePlaylist(track, model));
  const hlsSegments = input.hlsSegments ?? 'fmp4';
  let tsMaster: string | undefined;
  if (hlsSegments !== 'fmp4' && input.ts && input.ts.length > 0) {
    const tsModel = tsPackageModel(packageDir, input.ts, model);
    const tsTarget = commonTargetDuration(tsModel);
    for (const track of tsModel.videos) {
      files.set(track.playlistUri, writeMediaPlaylist(track, tsModel, { targetDuration: tsTarget }));
      if (track.iFramePlaylistUri) files.set(track.iFramePlaylistUri, writeIFramePlaylist(track, tsModel));
    }
    tsMaster = hlsSegments === 'ts' ? 'master.m3u8' : 'master-ts.m3u8';
    files.set(tsMaster, writeMultivariantPlaylist(tsModel));
  }
  if (hlsSegments !== 'ts') files.set('master.m3u8', writeMultivariantPlaylist(model));
  // DASH players cannot decrypt whole-segment encryption (content-protection.md §1): no MPD then.
  const dashPlayable = [...videos, ...audios].every((track) => !track.protection || track.protection.dash.length > 0);
  if (dashPlayable) files.set('manifest.mpd', writeMpd(model));
  for (const [uri, text] of files) {
    const path = join(packageDir, ...uri.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
  ctx.onProgress(1);
  const protection = [...input.videos, ...input.audios, ...(input.ts ?? [])].find(({ track }) => track.protectionRecord)?.track.protectionRecord;
  return { model, master: 'master.m3u8', ...(dashPlayable ? { mpd: 'manifest.mpd' } : {}), tsMaster, playlists: [...files.keys()], ...(protection ? { protection } : {}) };
}
