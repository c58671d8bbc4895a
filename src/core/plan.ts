import type { MediaProbe, Rational, VideoStreamInfo } from '../ffmpeg/probe.js';
import { VidpipeError } from './errors.js';
import { buildLadder, chooseFrameRate, type Preset, type Rendition, type RungSpec, type VideoCodec } from './ladder.js';

/** Everything a user can choose about one transcode, after parsing and defaults. */
export interface TranscodeSettings {
  codecs: VideoCodec[];
  rungs?: RungSpec[];
  preset: Preset;
  /** Nominal media segment duration, seconds. */
  segmentDurationSeconds: number;
  /** Nominal GOP duration, seconds (the key frame grid). */
  gopSeconds: number;
  /** Chunk length for parallel encoding, seconds; 0 = choose from duration and concurrency. */
  chunkSeconds: number;
  concurrency: number;
  audioBitrateKbps: number;
  audioSampleRate: number;
  /** Drop the picture and run the audio pipeline. */
  audioOnly: boolean;
}

export interface Chunk {
  index: number;
  /** First frame (inclusive) and last frame (exclusive) on the output frame grid. */
  startFrame: number;
  endFrame: number;
  /** Where decoding starts: a little before startFrame so the decoder and fps filter settle; on the grid. */
  prerollFrame: number;
}

export interface AudioRendition {
  id: string;
  /** Index of the source stream (ffprobe's stream index). */
  streamIndex: number;
  codec: 'aac';
  bitrateKbps: number;
  channels: number;
  sampleRate: number;
  language: string;
  name: string;
  isDefault: boolean;
}

export interface VideoPlan {
  streamIndex: number;
  frameRate: Rational;
  gopFrames: number;
  segmentFrames: number;
  totalFrames: number;
  chunks: Chunk[];
  renditions: Rendition[];
  /** Deinterlace before scaling (the source is interlaced). */
  deinterlace: boolean;
}

export interface JobPlan {
  kind: 'video' | 'audio';
  /** Exact segment duration in seconds (a whole number of frames for video). */
  segmentDurationSeconds: number;
  /** Duration of the presentation: the video timeline, or the audio for audio-only jobs. */
  durationSeconds: number;
  video?: VideoPlan;
  audio: AudioRendition[];
}

/** Chunk length chosen so each worker gets about two chunks, between one segment and a minute. */
function chooseChunkSegments(totalSegments: number, settings: TranscodeSettings, segmentSeconds: number): number {
  if (settings.chunkSeconds > 0) return Math.max(1, Math.round(settings.chunkSeconds / segmentSeconds));
  const perWorker = Math.ceil(totalSegments / Math.max(1, settings.concurrency * 2));
  return Math.min(Math.max(1, perWorker), Math.max(1, Math.floor(60 / segmentSeconds)));
}

/** Splits [0, totalFrames) into chunks of `chunkFrames` on the segment grid. */
export function planChunks(totalFrames: number, chunkFrames: number, prerollFrames: number): Chunk[] {
  const chunks: Chunk[] = [];
  for (let start = 0, index = 0; start < totalFrames; start += chunkFrames, index++) {
    chunks.push({ index, startFrame: start, endFrame: Math.min(totalFrames, start + chunkFrames), prerollFrame: Math.max(0, start - prerollFrames) });
  }
  // A tiny last chunk costs a whole ffmpeg start-up and seek for little work: merge it into the previous one.
  if (chunks.length > 1) {
    const last = chunks[chunks.length - 1]!;
    if (last.endFrame - last.startFrame < chunkFrames / 4) {
      chunks.pop();
      chunks[chunks.length - 1]!.endFrame = last.endFrame;
    }
  }
  return chunks;
}

/** The end of the video on the file's timeline (relative to the container start), in seconds. */
function videoEndSeconds(probe: MediaProbe, video: VideoStreamInfo): number {
  const offset = Math.max(0, video.startSeconds - probe.startSeconds);
  if (video.durationSeconds && video.durationSeconds > 0) return offset + video.durationSeconds;
  if (video.frameCount && video.avgFrameRate) return offset + (video.frameCount * video.avgFrameRate.den) / video.avgFrameRate.num;
  return probe.durationSeconds;
}

function languageName(language: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(language) ?? language;
  } catch {
    return language;
  }
}

/** One AAC rendition per source audio stream; the source's default (or first) stream is the default. */
export function planAudio(probe: MediaProbe, settings: TranscodeSettings): AudioRendition[] {
  const streams = probe.audioStreams.filter((s) => s.channels > 0);
  const defaultIndex = Math.max(0, streams.findIndex((s) => s.isDefault));
  const usedNames = new Set<string>();
  return streams.map((stream, i) => {
    const language = stream.language ?? 'und';
    let name = stream.title?.trim() || (language === 'und' ? (streams.length > 1 ? `Audio ${i + 1}` : 'Main') : languageName(language));
    while (usedNames.has(name)) name = `${name} ${i + 1}`;
    usedNames.add(name);
    return {
      id: streams.length > 1 ? `aac-${settings.audioBitrateKbps}k-${i + 1}` : `aac-${settings.audioBitrateKbps}k`,
      streamIndex: stream.index,
      codec: 'aac' as const,
      bitrateKbps: settings.audioBitrateKbps,
      channels: 2,
      sampleRate: settings.audioSampleRate,
      language,
      name,
      isDefault: i === defaultIndex,
    };
  });
}

/**
 * Turns a probe and the settings into the concrete work: the frame grid, the chunks, the
 * video ladder and the audio renditions. The grid is in frames, so a GOP is a whole number
 * of frames (2.002 s at 29.97 fps) and every chunk, segment and rendition lines up exactly.
 */
export function planJob(probe: MediaProbe, settings: TranscodeSettings): JobPlan {
  const audio = planAudio(probe, settings);
  const video = settings.audioOnly ? undefined : probe.video;
  if (!video) {
    if (audio.length === 0) throw new VidpipeError('INPUT_INVALID', `${probe.path} has no audio stream to package`);
    return { kind: 'audio', segmentDurationSeconds: settings.segmentDurationSeconds, durationSeconds: probe.durationSeconds, audio };
  }

  const frameRate = chooseFrameRate(video);
  const fps = frameRate.num / frameRate.den;
  const gopsPerSegment = Math.max(1, Math.round(settings.segmentDurationSeconds / settings.gopSeconds));
  const gopFrames = Math.max(1, Math.round((settings.segmentDurationSeconds / gopsPerSegment) * fps));
  const segmentFrames = gopFrames * gopsPerSegment;
  const totalFrames = Math.max(1, Math.round(videoEndSeconds(probe, video) * fps));
  const totalSegments = Math.ceil(totalFrames / segmentFrames);
  const chunkFrames = chooseChunkSegments(totalSegments, settings, segmentFrames / fps) * segmentFrames;
  const renditions = buildLadder(video, { codecs: settings.codecs, rungs: settings.rungs, frameRate });
  const interlaced = !!video.fieldOrder && !['progressive', 'unknown'].includes(video.fieldOrder);

  return {
    kind: 'video',
    segmentDurationSeconds: (segmentFrames * frameRate.den) / frameRate.num,
    durationSeconds: (totalFrames * frameRate.den) / frameRate.num,
    video: {
      streamIndex: video.index,
      frameRate,
      gopFrames,
      segmentFrames,
      totalFrames,
      chunks: planChunks(totalFrames, chunkFrames, Math.ceil(fps)),
      renditions,
      deinterlace: interlaced,
    },
    audio,
  };
}
