import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { measureTrack, iFrameBitrates, type MeasuredTrack } from '../../media/measure.js';
import { writeMultivariantPlaylist, writeMediaPlaylist, writeIFramePlaylist, commonTargetDuration } from '../../manifest/hls.js';
import { writeMpd } from '../../manifest/dash.js';
import type { AudioTrack, PackageModel, VideoTrack } from '../../manifest/model.js';
import type { Rendition } from '../ladder.js';
import type { AudioRendition } from '../plan.js';
import type { Rational } from '../../ffmpeg/probe.js';
import type { PackagedTrack } from './package.js';
import type { StageContext } from '../stage.js';
import { VidpipeError } from '../errors.js';

export interface ManifestsInput {
  packageDir: string;
  segmentDurationSeconds: number;
  durationSeconds: number;
  frameRate?: Rational;
  videos: { rendition: Rendition; track: PackagedTrack }[];
  audios: { rendition: AudioRendition; track: PackagedTrack }[];
  storyboardVttUri?: string;
}

export interface ManifestsOutput {
  model: PackageModel;
  /** Relative paths of the manifests written. */
  master: string;
  mpd: string;
  playlists: string[];
}

function toUri(packageDir: string, path: string): string {
  return relative(packageDir, path).split(sep).join('/');
}

async function measure(packageDir: string, track: PackagedTrack): Promise<MeasuredTrack> {
  return measureTrack({
    initPath: track.initPath,
    initUri: toUri(packageDir, track.initPath),
    segments: track.segmentPaths.map((path) => ({ path, uri: toUri(packageDir, path) })),
  });
}

function videoRangeOf(_rendition: Rendition): VideoTrack['videoRange'] {
  // Every rendition is encoded as 8-bit BT.709 SDR for now (HDR is tone-mapped).
  return 'SDR';
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
      videoRange: videoRangeOf(rendition),
      keyFrames: measured.keyFrames,
      iFramePlaylistUri: measured.keyFrames.length > 0 ? `${base}/iframes.m3u8` : undefined,
      iFramePeakBitrate: iframes.peak,
      iFrameAverageBitrate: iframes.average,
    });
  }
  const audios: AudioTrack[] = [];
  for (const { rendition, track } of input.audios) {
    const measured = await measure(packageDir, track);
    const base = toUri(packageDir, track.outputDir);
    audios.push({
      kind: 'audio',
      id: rendition.id,
      codec: rendition.codec,
      initUri: toUri(packageDir, track.initPath),
      playlistUri: `${base}/index.m3u8`,
      codecs: measured.codecs,
      timescale: measured.timescale,
      segments: measured.segments,
      peakBitrate: measured.peakBitrate,
      averageBitrate: measured.averageBitrate,
      groupId: `audio-${rendition.codec}`,
      name: rendition.name,
      language: rendition.language,
      channels: measured.channels ?? rendition.channels,
      sampleRate: measured.sampleRate ?? rendition.sampleRate,
      isDefault: rendition.isDefault,
    });
  }

  const model: PackageModel = {
    durationSeconds: input.durationSeconds,
    segmentDurationSeconds: input.segmentDurationSeconds,
    videos,
    audios,
    subtitles: [],
    storyboardVttUri: input.storyboardVttUri,
  };

  const targetDuration = commonTargetDuration(model);
  const files = new Map<string, string>();
  for (const track of [...videos, ...audios]) files.set(track.playlistUri, writeMediaPlaylist(track, model, { targetDuration }));
  for (const track of videos) if (track.iFramePlaylistUri) files.set(track.iFramePlaylistUri, writeIFramePlaylist(track, model));
  files.set('master.m3u8', writeMultivariantPlaylist(model));
  files.set('manifest.mpd', writeMpd(model));
  for (const [uri, text] of files) {
    const path = join(packageDir, ...uri.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
  ctx.onProgress(1);
  return { model, master: 'master.m3u8', mpd: 'manifest.mpd', playlists: [...files.keys()] };
}
