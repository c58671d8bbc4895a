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
}

export interface TranscodeResult {
  /** Video id (content-derived, stable across runs of the same file). */
  id: string;
  jobId: string;
  input: string;
  status: 'succeeded' | 'failed' | 'interrupted';
  kind?: 'video' | 'audio';
  outputs: {
    root?: string;
    hls?: string;
    dash?: string;
    poster?: string;
    posterSmall?: string;
    storyboard?: string;
    cover?: string;
  };
  renditions: RenditionSummary[];
  durationSeconds?: number;
  /** Wall-clock seconds per stage kind, and `total`. */
  timings: Record<string, number>;
  error?: { code: string; message: string; hint?: string; stderrTail?: string };
}
