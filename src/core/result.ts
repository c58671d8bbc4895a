import type { QualityMetrics } from '../metrics/quality.js';

/**
 * The documented `--json` contract: one object per input on stdout.
 * Fields are only ever added, never renamed or removed.
 */
export interface RenditionSummary {
  name: string;
  kind: 'video' | 'audio';
  codec: string;
  /** RFC 6381 codec string measured from the bitstream. */
  codecs: string;
  width?: number;
  height?: number;
  frameRate?: number;
  channels?: number;
  sampleRate?: number;
  language?: string;
  /** Measured from the segment files, bits/s (RFC 8216 §4.1 definitions). */
  averageBitrate: number;
  peakBitrate: number;
  /** Target average bit rate the encoder was given, bits/s. */
  targetBitrate: number;
  sizeBytes: number;
  segments: number;
  playlist: string;
  /** PSNR/SSIM against the source (video renditions, with --metrics). */
  quality?: QualityMetrics;
}

/** EBU R128 values: integrated loudness (LUFS), loudness range (LU), true peak (dBTP). */
export interface LoudnessValues {
  integrated: number;
  range: number;
  truePeak: number;
}

/** What loudness normalisation measured and did (audio-only jobs always; video jobs with --loudness). */
export interface LoudnessReport {
  /** Integrated loudness target, LUFS; absent with `--loudness off` (measured only). */
  target?: number;
  /** No rendition's true peak is above this, dBTP. */
  truePeakLimit: number;
  /** 'linear': one constant gain; 'limited': that gain plus a true-peak limiter; 'none': level untouched. */
  method: 'linear' | 'limited' | 'none';
  /** The gain applied, dB (before the limiter, for 'limited'). */
  gainDb?: number;
  /** The source as measured, in the default rendition's channel layout. */
  input: LoudnessValues;
  /** The default rendition as encoded. */
  output?: LoudnessValues;
  /** Every rendition as encoded, by name. */
  renditions: Record<string, LoudnessValues & { method: LoudnessReport['method']; gainDb?: number }>;
}

export interface TranscodeResult {
  /** Video id (content-derived, stable across runs of the same file). */
  id: string;
  jobId: string;
  input: string;
  /** 'queued': handed to queue workers with --detach; `vidpipe status <jobId>` follows it. */
  status: 'succeeded' | 'failed' | 'interrupted' | 'queued';
  kind?: 'video' | 'audio';
  outputs: {
    root?: string;
    hls?: string;
    dash?: string;
    poster?: string;
    posterSmall?: string;
    storyboard?: string;
    cover?: string;
    /** The MPEG-TS multivariant playlist when it is not master.m3u8 (`--hls-segments both`). */
    hlsTs?: string;
  };
  /**
   * The package this job writes to below --out (see docs/publishing.md): its name, which is not
   * the one asked for when that holds another video, its root, and a note saying why.
   */
  package?: { name: string; root: string; note?: string };
  renditions: RenditionSummary[];
  durationSeconds?: number;
  /** Wall-clock seconds per stage kind, and `total`. */
  timings: Record<string, number>;
  error?: { code: string; message: string; hint?: string; stderrTail?: string };
  /** Present when this job continued an unfinished earlier one: the tasks whose verified output it reused. */
  resumed?: { fromJob: string; reusedTasks: string[] };
  /** Loudness before and after normalisation (audio-only jobs, and video jobs with --loudness). */
  loudness?: LoudnessReport;
}
