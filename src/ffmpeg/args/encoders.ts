/**
 * Which ffmpeg encoder makes each video codec, and how vidpipe's settings translate into its
 * own terms: encoder choice as data, next to the argument builders that use it. The plan
 * resolves one VideoEncoder per rendition (src/core/ladder.ts), so everything downstream reads
 * the encoder from the rendition instead of carrying preset and AV1 choice beside it.
 */
import type { Preset, VideoCodec } from '../../settings/job-settings.js';

/** Which AV1 encoder the ffmpeg in use has (SVT-AV1 preferred: it is many times faster). */
export type Av1Encoder = 'libsvtav1' | 'libaom-av1';
export type VideoEncoderName = 'libx264' | 'libx265' | Av1Encoder;

/** The encoders of each codec, in order of preference. */
export const VIDEO_ENCODERS: Record<VideoCodec, readonly VideoEncoderName[]> = {
  h264: ['libx264'],
  hevc: ['libx265'],
  av1: ['libsvtav1', 'libaom-av1'],
};

/** x264/x265 preset names mapped to SVT-AV1's 0–13 and libaom's cpu-used 0–8. */
const SVT_AV1_PRESET: Record<Preset, number> = { ultrafast: 12, superfast: 11, veryfast: 10, faster: 9, fast: 8, medium: 7, slow: 5, slower: 4, veryslow: 2 };
const AOM_CPU_USED: Record<Preset, number> = { ultrafast: 8, superfast: 8, veryfast: 7, faster: 6, fast: 5, medium: 4, slow: 3, slower: 2, veryslow: 1 };

/**
 * How many threads an encoder gets. vidpipe's parallelism comes from chunks: 'share-cores'
 * divides the machine's cores among the chunk encodes running at once, resolved when each
 * chunk starts (x264: one thread per encoder when as many chunks as cores run avoids frame
 * threading's cost, measured with `npm run bench`); 'encoder-default' leaves the encoder's own
 * choice (x265, SVT-AV1 and libaom scale within a frame).
 */
/**
 * Encoders known to put a key frame exactly where ffmpeg forces one mid-stream, and to have a
 * one-pass rate control that restarts cautious: a chunk's warm-up is cut off at that key frame
 * (Chunk.warmupFrames). SVT-AV1 1.4 and libaom are left out: not checked here.
 */
export const WARMS_UP: ReadonlySet<VideoEncoderName> = new Set(['libx264', 'libx265']);

export type ThreadsPolicy = 'share-cores' | 'encoder-default';

/** One rendition's encoder, resolved by the plan. */
export interface VideoEncoder {
  name: VideoEncoderName;
  /** The preset as this encoder spells it: x264/x265 names, SVT-AV1 0–13, libaom cpu-used 0–8. */
  preset: string;
  threads: ThreadsPolicy;
}

export function videoEncoderFor(codec: VideoCodec, preset: Preset, av1Encoder: Av1Encoder): VideoEncoder {
  switch (codec) {
    case 'h264':
      return { name: 'libx264', preset, threads: 'share-cores' };
    case 'hevc':
      return { name: 'libx265', preset, threads: 'encoder-default' };
    case 'av1':
      return av1Encoder === 'libsvtav1'
        ? { name: 'libsvtav1', preset: String(SVT_AV1_PRESET[preset]), threads: 'encoder-default' }
        : { name: 'libaom-av1', preset: String(AOM_CPU_USED[preset]), threads: 'encoder-default' };
  }
}

/** The AV1 encoder to use among those the ffmpeg in use lists. */
export function pickAv1Encoder(available: ReadonlySet<string>): Av1Encoder {
  return available.has('libsvtav1') ? 'libsvtav1' : 'libaom-av1';
}

/** The cores one chunk encode gets: this machine's `cores` shared by the `parallel` chunk encodes that run at once. */
export function coreShare(machine: { cores: number; parallel: number }): number {
  return Math.max(1, Math.floor(machine.cores / Math.max(1, machine.parallel)));
}

