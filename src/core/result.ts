/**
 * The documented `--json` contract: one object per input on stdout.
 * Fields are only ever added, never renamed or removed.
 */
import type { ProtectionRecord } from '../protection/keys.js';

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

/**
 * Full-reference quality of one video rendition against the source scaled to the
 * rendition's size. PSNR is ffmpeg's (luma+chroma weighted, 8-bit), SSIM the "All" value.
 */
export interface QualityMetrics {
  /** dB, from the mean squared error over all frames (how ffmpeg's own average is defined). */
  psnr: number;
  /** dB, the worst frame. */
  psnrMin: number;
  /** Mean over frames, 0..1. */
  ssim: number;
  ssimMin: number;
  /** VMAF mean (0..100), or null when it was not measured. */
  vmaf: number | null;
  /** Why vmaf is null. */
  vmafNote?: string;
  /** Frames compared (equals the rendition's frame count). */
  frames: number;
  /** What the rendition was compared with, e.g. "source scaled to 320x180 at 30 fps". */
  reference: string;
  measuredAt: string;
}

/** Quality figures of one rung: PSNR (dB), SSIM (0..1) and VMAF (0..100, when measured). */
export interface RungQuality {
  psnr: number;
  /** Absent where only the target's metric was measured (a prediction from encoder-reported PSNR). */
  ssim?: number;
  vmaf?: number;
}

/** One rung of the ladder, packaged or not, with what was predicted and what was measured. */
export interface LadderRung {
  name: string;
  codec: string;
  /** Short-side size class (720 for 1280x720). */
  size: number;
  status: 'packaged' | 'dropped';
  /** vbr: the fixed table's rate; crf: capped constant quality (auto); cap: VBR at the cap (auto, the content needs more). */
  mode: 'vbr' | 'crf' | 'cap';
  crf?: number;
  /** The rate the encoder was given (vbr, cap) or the predicted average (crf), kb/s. */
  targetKbps: number;
  /** auto: the analysis's prediction at the chosen rate. */
  predicted?: RungQuality & { kbps: number };
  /** From the encoded rung: rates over the package's segments (absent for rungs the analysis left out); quality with --metrics. */
  measured?: { peakKbps: number; averageKbps: number; quality?: RungQuality };
  /**
   * Why the rung was not packaged (the analysis left it out, or it did not rise above the rung
   * below); for a packaged constant-quality rung, what the quality check found when it corrected
   * the rung or the target was missed ("target 40 dB missed: PSNR 39.61 dB after 2 re-encodes …").
   */
  reason?: string;
}

/** One probe encode of the analysis: a point of a (codec, size)'s bitrate–quality curve. */
export interface LadderProbe {
  codec: string;
  size: number;
  crf: number;
  kbps: number;
  psnr: number;
  /** Absent when the encoder reported the PSNR and nothing decoded the probe (encoder-psnr.ts). */
  ssim?: number;
  vmaf?: number;
}

/** The ladder's story: fixed (the table) or auto (per-title, docs/per-title.md). */
export interface LadderReport {
  method: 'fixed' | 'auto';
  /** auto: what the target is measured in, and the target. */
  metric?: 'psnr' | 'vmaf';
  target?: number;
  /** auto: the analysis's wall time and the share of the title's frames it encoded. */
  analysisSeconds?: number;
  sampledFraction?: number;
  rungs: LadderRung[];
  probes?: LadderProbe[];
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
    /** `--download`: download.mp4, the top H.264 rung with the default audio, progressive MP4. */
    download?: string;
  };
  /**
   * The package this job writes to below --out (see docs/publishing.md): its name, which is not
   * the one asked for when that holds another video, its root, and a note saying why.
   */
  package?: { name: string; root: string; note?: string };
  renditions: RenditionSummary[];
  /** How the video ladder was chosen and which rungs were packaged (video jobs). */
  ladder?: LadderReport;
  durationSeconds?: number;
  /** Wall-clock seconds per stage kind, and `total`. */
  timings: Record<string, number>;
  error?: { code: string; message: string; hint?: string; stderrTail?: string };
  /** Present when this job continued an unfinished earlier one: the tasks whose verified output it reused. */
  resumed?: { fromJob: string; reusedTasks: string[] };
  /** Work folders another vidpipe version left (killed mid-job), removed because this one cannot resume them. */
  discardedWorkDirs?: string[];
  /** Loudness before and after normalisation (audio-only jobs, and video jobs with --loudness). */
  loudness?: LoudnessReport;
  /** How the source was read, when it took a decision: the program chosen, a clock made continuous. */
  source?: SourceSummary;
  /** `--encrypt`: the scheme, the key IDs (UUID form) per track type and the DRM systems' IDs. Never a key. */
  protection?: ProtectionRecord;
}

export interface SourceSummary {
  /** The program packaged, for a multi-program MPEG-TS ("program 1 (Service01)"). */
  program?: string;
  /** Why its streams were copied into an indexed container before encoding. */
  remuxed?: string;
  /** Corrupt video frames the decoder concealed (accepted with --allow-decode-errors, or below the limit). */
  decodeErrors?: number;
  /** Damaged audio frames the decoder concealed, over the audio streams packaged (same rules). */
  audioDecodeErrors?: number;
  /** Each decision, in words. */
  notes: string[];
}
