import type { AudioTrackRole, SubtitleTrackRole } from './roles.js';

/**
 * What the manifest writers need to know about a finished package. Everything here is
 * measured from the files vidpipe wrote (see src/media/), never taken from encoder settings.
 * URIs are relative to the package root (where master.m3u8 and manifest.mpd live), with '/'.
 */

/** One media segment (CMAF fragment group) of a track. */
export interface Segment {
  /** Relative URI, e.g. "video/720p/seg_00001.m4s". */
  uri: string;
  /** Size in bytes. */
  bytes: number;
  /** Decode time of the first sample (tfdt), in track timescale units. */
  startTime: number;
  /** Sum of sample durations, in track timescale units. */
  duration: number;
}

/** A byte range inside a segment holding one key frame, including its moof (for I-frame playlists). */
export interface KeyFrameRange {
  uri: string;
  /** Byte offset in the segment where the fragment (moof, or sidx before it) starts. */
  offset: number;
  /** Length from `offset` through the end of the key frame sample's data. */
  length: number;
  /** Decode time of the key frame, in track timescale units. */
  time: number;
}

export interface TrackBase {
  /** Unique id across the package; also the DASH Representation id. e.g. "h264-720p", "aac-128k". */
  id: string;
  /** Init segment URI (ftyp+moov), relative to the package root. */
  initUri: string;
  /** Media playlist URI written for this track, e.g. "video/h264-720p/index.m3u8". */
  playlistUri: string;
  /** RFC 6381 codec string derived from the bitstream, e.g. "avc1.64001f", "mp4a.40.2". */
  codecs: string;
  timescale: number;
  segments: Segment[];
  /** Peak segment bit rate (RFC 8216 §4.1), bits/s. */
  peakBitrate: number;
  /** Average segment bit rate (RFC 8216 §4.1), bits/s. */
  averageBitrate: number;
  /** How the track's segments are encrypted, as its manifests signal it; absent: clear. */
  protection?: TrackProtection;
}

/**
 * A protected track's signalling (content-protection.md §2, §4): what its playlists and its DASH
 * AdaptationSet say. Key IDs and DRM systems' data only, never a key.
 */
export interface TrackProtection {
  /** Attribute lists of the EXT-X-KEY tags of its media and I-frame playlists (METHOD=…,URI="…",…), one per KEYFORMAT. */
  hlsKeys: string[];
  /** Attribute lists of the multivariant playlist's EXT-X-SESSION-KEY tags for it. */
  hlsSessionKeys: string[];
  /** The ContentProtection elements of its AdaptationSet; empty for a scheme DASH cannot signal (whole-segment AES-128). */
  dash: DashContentProtection[];
}

/** One DASH ContentProtection element (ISO/IEC 23009-1 §5.8.4.1, DASH-IF IOP 7.4). */
export interface DashContentProtection {
  schemeIdUri: string;
  value?: string;
  /** `cenc:default_KID`, UUID form. */
  defaultKid?: string;
  robustness?: string;
  /** A complete pssh box, base64: the `cenc:pssh` child. */
  pssh?: string;
  /** Children given as XML by the key provider (CPIX ContentProtectionData), written as they are instead of `pssh`. */
  childrenXml?: string;
}

export type VideoRange = 'SDR' | 'PQ' | 'HLG';

export interface VideoTrack extends TrackBase {
  kind: 'video';
  /** Codec family, for grouping (DASH AdaptationSet per codec). */
  codec: 'h264' | 'hevc' | 'av1';
  width: number;
  height: number;
  /** Frame rate as a fraction, e.g. { num: 30000, den: 1001 }. */
  frameRate: { num: number; den: number };
  /** Sample aspect ratio, "1:1" for square pixels. */
  sar: string;
  videoRange: VideoRange;
  /** Codec string of audio muxed into the video segments (MPEG-TS variants); such a variant has no audio group. */
  muxedAudioCodecs?: string;
  /** Key frames for the I-frame playlist (empty: none written). */
  keyFrames: KeyFrameRange[];
  /** I-frame playlist URI, when keyFrames is not empty. */
  iFramePlaylistUri?: string;
  /** Peak bit rate of the I-frame playlist (bits/s). */
  iFramePeakBitrate?: number;
  iFrameAverageBitrate?: number;
}

export interface AudioTrack extends TrackBase {
  kind: 'audio';
  codec: 'aac' | 'opus' | 'eac3';
  /** HLS GROUP-ID, e.g. "audio-aac". */
  groupId: string;
  /** Human-readable NAME, unique within the group, e.g. "English", "Stereo 128k". */
  name: string;
  /** BCP-47 language; "und" when the source does not say. */
  language: string;
  channels: number;
  sampleRate: number;
  /** The DEFAULT=YES rendition of its group. */
  isDefault: boolean;
  /** What the track is for (src/manifest/roles.ts); absent: the default stream is main, others alternates. */
  role?: AudioTrackRole;
}

export interface SubtitleTrack {
  kind: 'subtitle';
  id: string;
  groupId: string;
  name: string;
  language: string;
  isDefault: boolean;
  /** Forced or SDH (src/manifest/roles.ts); absent: plain subtitles. */
  role?: SubtitleTrackRole;
  /** HLS media playlist of WebVTT segments. */
  playlistUri: string;
  /** WebVTT segments (one per segment duration). */
  segments: { uri: string; durationSeconds: number }[];
  /** One WebVTT file of the whole track (for DASH). */
  vttUri: string;
}

/**
 * Storyboard sprite sheets as a DASH-IF thumbnail track (IOP v4.3 §6.2.6): each sheet is one
 * "segment" of `columns` × `rows` tiles, each tile showing `intervalSeconds` of the video.
 */
export interface ThumbnailTrack {
  id: string;
  /** Sheet URIs in order, relative to the package root (numbered so a $Number$ template covers them). */
  sheetUris: string[];
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  /** Seconds one sheet covers: columns × rows × the thumbnail interval. */
  sheetDurationSeconds: number;
  /** Measured: all sheet bytes over the duration, bits/s. */
  bandwidth: number;
}

export interface PackageModel {
  /** Total presentation duration, seconds. */
  durationSeconds: number;
  /** Nominal segment duration, seconds (the packaging grid). */
  segmentDurationSeconds: number;
  videos: VideoTrack[];
  audios: AudioTrack[];
  subtitles: SubtitleTrack[];
  /** Relative URI of the storyboard WebVTT, if any. */
  storyboardVttUri?: string;
  /** The storyboard as a DASH thumbnail AdaptationSet, if any. */
  thumbnails?: ThumbnailTrack;
}
