/**
 * Hand-built PackageModels for the manifest writer tests: a 13.013 s, 29.97 fps package with
 * 6.006 s segments (the last one 1.001 s), key frames every 2.002 s, AAC and Opus audio, WebVTT.
 */
import type { AudioTrack, KeyFrameRange, PackageModel, Segment, SubtitleTrack, VideoTrack } from '../../src/manifest/model.js';

export const VIDEO_TIMESCALE = 90_000;
export const AUDIO_TIMESCALE = 48_000;
/** Segment durations of the whole package, seconds (sum 13.013). */
export const SEGMENT_SECONDS = [6.006, 6.006, 1.001];
export const DURATION_SECONDS = 13.013;

/** Contiguous segments named `<folder>/seg_00001.m4s`, … of the given durations in seconds. */
export function segmentsFor(folder: string, timescale: number, seconds: number[] = SEGMENT_SECONDS): Segment[] {
  let startTime = 0;
  return seconds.map((secs, index) => {
    const duration = Math.round(secs * timescale);
    const segment: Segment = {
      uri: `${folder}/seg_${String(index + 1).padStart(5, '0')}.m4s`,
      bytes: 100_000 + index,
      startTime,
      duration,
    };
    startTime += duration;
    return segment;
  });
}

/** One key frame every 2.002 s, each inside the segment that covers its time. */
function keyFramesFor(segments: Segment[]): KeyFrameRange[] {
  const interval = Math.round(2.002 * VIDEO_TIMESCALE);
  const end = segments[segments.length - 1].startTime + segments[segments.length - 1].duration;
  const keyFrames: KeyFrameRange[] = [];
  for (let time = 0; time < end; time += interval) {
    const segment = segments.find((s) => time >= s.startTime && time < s.startTime + s.duration)!;
    const indexInSegment = Math.round((time - segment.startTime) / interval);
    keyFrames.push({ uri: segment.uri, offset: 1000 * indexInSegment, length: 900 + indexInSegment, time });
  }
  return keyFrames;
}

export function videoTrack(
  id: string,
  codec: VideoTrack['codec'],
  width: number,
  height: number,
  peakBitrate: number,
  averageBitrate: number,
  overrides: Partial<VideoTrack> = {},
): VideoTrack {
  const folder = `video/${id}`;
  const segments = segmentsFor(folder, VIDEO_TIMESCALE);
  return {
    kind: 'video',
    id,
    codec,
    initUri: `${folder}/init.mp4`,
    playlistUri: `${folder}/index.m3u8`,
    codecs: { h264: 'avc1.64001f', hevc: 'hvc1.2.4.L120.B0', av1: 'av01.0.08M.08' }[codec],
    timescale: VIDEO_TIMESCALE,
    segments,
    peakBitrate,
    averageBitrate,
    width,
    height,
    frameRate: { num: 30000, den: 1001 },
    sar: '1:1',
    videoRange: 'SDR',
    keyFrames: keyFramesFor(segments),
    iFramePlaylistUri: `${folder}/iframes.m3u8`,
    iFramePeakBitrate: Math.round(peakBitrate / 8),
    iFrameAverageBitrate: Math.round(averageBitrate / 10),
    ...overrides,
  };
}

export function audioTrack(
  id: string,
  codec: AudioTrack['codec'],
  language: string,
  name: string,
  peakBitrate: number,
  averageBitrate: number,
  overrides: Partial<AudioTrack> = {},
): AudioTrack {
  const folder = `audio/${id}`;
  return {
    kind: 'audio',
    id,
    codec,
    initUri: `${folder}/init.mp4`,
    playlistUri: `${folder}/index.m3u8`,
    codecs: codec === 'aac' ? 'mp4a.40.2' : 'opus',
    timescale: AUDIO_TIMESCALE,
    segments: segmentsFor(folder, AUDIO_TIMESCALE),
    peakBitrate,
    averageBitrate,
    groupId: `audio-${codec}`,
    name,
    language,
    channels: 2,
    sampleRate: AUDIO_TIMESCALE,
    isDefault: false,
    ...overrides,
  };
}

export function subtitleTrack(id: string, language: string, name: string, isDefault: boolean): SubtitleTrack {
  const folder = `subtitles/${id}`;
  return {
    kind: 'subtitle',
    id,
    groupId: 'subs',
    name,
    language,
    isDefault,
    playlistUri: `${folder}/index.m3u8`,
    segments: SEGMENT_SECONDS.map((durationSeconds, index) => ({
      uri: `${folder}/seg_${String(index + 1).padStart(5, '0')}.vtt`,
      durationSeconds,
    })),
    vttUri: `${folder}/full.vtt`,
  };
}

/**
 * Three H.264 rungs (360p, 540p, 720p), English (default) and French AAC, English Opus, and English
 * subtitles. The 540p rung plus its audio averages 2.08 Mb/s, the closest to Apple's 2000 kb/s.
 */
export function sampleModel(): PackageModel {
  return {
    durationSeconds: DURATION_SECONDS,
    segmentDurationSeconds: 6,
    videos: [
      videoTrack('h264-720p', 'h264', 1280, 720, 3_500_000, 3_000_000),
      videoTrack('h264-360p', 'h264', 640, 360, 500_000, 400_000),
      videoTrack('h264-540p', 'h264', 960, 540, 2_300_000, 1_950_000),
    ],
    audios: [
      audioTrack('aac-en', 'aac', 'en', 'English', 140_000, 130_000, { isDefault: true }),
      audioTrack('aac-fr', 'aac', 'fr', 'Français', 150_000, 128_000),
      audioTrack('opus-en', 'opus', 'en', 'English', 100_000, 96_000, { isDefault: true }),
    ],
    subtitles: [subtitleTrack('sub-en', 'en', 'English', true)],
  };
}
