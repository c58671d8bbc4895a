/**
 * What the argument builders read of a job's plan, as plain records. src/ffmpeg/ sits below the
 * plan (src/core/), so a builder names the fields it uses here and the plan's own types
 * (`Chunk`, `Rendition`, `AudioRendition`) fit them as they are.
 */
import type { VideoCodec } from '../../settings/job-settings.js';
import type { VideoEncoder } from './encoders.js';

/** A run of frames on the output grid (the plan's `Chunk`). */
export interface ChunkFrames {
  index: number;
  /** First frame (inclusive) and last frame (exclusive) on the output frame grid. */
  startFrame: number;
  endFrame: number;
  /** Where decoding starts, on the grid (a little before startFrame). */
  prerollFrame: number;
  /** Frames before startFrame encoded first (by the renditions rateWarmupFrames lets warm up) and cut away at the key frame on startFrame. 0 or absent: none. */
  warmupFrames?: number;
}

/** One video output of an encode (the plan's `Rendition`). */
export interface VideoOutputParams {
  codec: VideoCodec;
  /** Coded picture size. */
  width: number;
  height: number;
  /** The scaled source inside it, centred and padded, when it is smaller. */
  picture?: { width: number; height: number };
  /** Average target (or predicted average under `crf`), maxrate and VBV buffer, kb/s. */
  bitrateKbps: number;
  crf?: number;
  maxrateKbps: number;
  bufsizeKbps: number;
  /** H.264 profile and level; empty for other codecs. */
  profile: string;
  level: string;
  encoder: VideoEncoder;
}

/** One audio output of an encode (the plan's `AudioRendition`). */
export interface AudioOutputParams {
  /** Index of the source stream (ffprobe's stream index), or of `file`'s. */
  streamIndex: number;
  codec: 'aac' | 'opus' | 'eac3';
  bitrateKbps: number;
  channels: number;
  sampleRate: number;
  /** A `--audio-track` file the stream is read from instead of the source. */
  file?: string;
  /** Where the file's first sample plays on the video's timeline, seconds. */
  offsetSeconds?: number;
  /** The track's language (BCP 47, as the manifests say it); written into the track's header. */
  language?: string;
}
