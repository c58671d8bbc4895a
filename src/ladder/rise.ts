/**
 * After the encodes, for fixed and auto ladders alike: every ladder must rise with resolution.
 * VBR on easy content undershoots by a different amount at each size (an 18 s slide deck: the
 * 1080p rung measured 291 kb/s, the 720p rung 543), and a player that sees the lower rung at the
 * higher rate settles on it. The rule: per codec, from the biggest rung down, a rung is packaged
 * only if it measures below the last rung kept above it, on both the peak segment rate (HLS
 * BANDWIDTH, what players switch on) and the average (AVERAGE-BANDWIDTH). Any other rung is
 * dropped, for fixed ladders as for auto ones: re-encoding it lower would add a second encode pass
 * to the job's wall time, and a rung that needs as many bits as the rung above adds nothing a
 * player would choose for. The top rung of each codec is always kept.
 */
import type { Rendition } from '../core/ladder.js';
import type { VideoPlan } from '../core/plan.js';
import type { StageContext } from '../core/stage.js';
import { buildVideoPacketTimesArgs } from '../ffmpeg/args/inspect.js';
import { readVideoSampleSizes } from '../media/mp4-file.js';
import { averageSegmentBitrate, peakSegmentBitrate, targetDuration } from '../media/measure.js';
import type { VideoCodec } from '../settings/job-settings.js';

export interface EncodedRung {
  id: string;
  codec: VideoCodec;
  /** Short-side size class. */
  size: number;
  /** Measured from the encoded file over the package's segments, kb/s. */
  peakKbps: number;
  averageKbps: number;
  /**
   * The assembled file measured. In the result so that on a queue the package tasks after this
   * one receive the file from it (a task hands on the work files its results name).
   */
  path?: string;
}

export interface RiseCheck {
  /** Each video rendition's measured rates, in the plan's order. */
  measured: EncodedRung[];
  /** The renditions to package, in the plan's order. */
  kept: string[];
  dropped: { id: string; reason: string }[];
}

/** Which rungs rise with resolution (see the file's comment). */
export function checkRise(rungs: readonly EncodedRung[]): RiseCheck {
  const dropped = new Map<string, string>();
  for (const codec of [...new Set(rungs.map((r) => r.codec))]) {
    const ordered = rungs.filter((r) => r.codec === codec).sort((a, b) => b.size - a.size || b.averageKbps - a.averageKbps);
    let above: EncodedRung | undefined;
    for (const rung of ordered) {
      if (!above || (rung.peakKbps < above.peakKbps && rung.averageKbps < above.averageKbps)) {
        above = rung;
        continue;
      }
      const rate = rung.peakKbps >= above.peakKbps ? 'peak' : 'average';
      const of = (r: EncodedRung) => Math.round(rate === 'peak' ? r.peakKbps : r.averageKbps);
      dropped.set(rung.id, `measured ${of(rung)} kb/s (${rate}), not below ${above.id}'s ${of(above)} kb/s`);
    }
  }
  return {
    measured: [...rungs],
    kept: rungs.filter((r) => !dropped.has(r.id)).map((r) => r.id),
    dropped: [...dropped].map(([id, reason]) => ({ id, reason })),
  };
}

/** Packet bytes per segment of the package's grid (a segment holds `segmentFrames` frames), from buildVideoPacketTimesArgs' output. */
export function segmentBytes(packets: string, fps: number, segmentFrames: number): number[] {
  const bytes: number[] = [];
  for (const line of packets.split('\n')) {
    const [time, size] = line.split(',');
    const pts = Number(time);
    const n = Number.parseInt(size ?? '', 10);
    if (!Number.isFinite(pts) || !Number.isFinite(n)) continue;
    // Half a frame of slack: timestamps printed in decimal land a hair either side of the frame.
    const segment = Math.max(0, Math.floor((pts * fps + 0.5) / segmentFrames));
    bytes[segment] = (bytes[segment] ?? 0) + n;
  }
  return Array.from(bytes, (b) => b ?? 0);
}

/**
 * Bytes per segment from the frame sizes in decode order. Exact for vidpipe's renditions: their
 * GOPs are closed and a whole number of them makes a segment, so the frames of one segment are
 * the same in decode and presentation order.
 */
export function segmentBytesInDecodeOrder(sizes: readonly number[], segmentFrames: number): number[] {
  const bytes: number[] = [];
  sizes.forEach((size, i) => {
    const segment = Math.floor(i / segmentFrames);
    bytes[segment] = (bytes[segment] ?? 0) + size;
  });
  return bytes;
}

export interface RiseInput {
  /** Each video rendition, with its assembled file. */
  renditions: { rendition: Rendition; path: string }[];
  video: Pick<VideoPlan, 'frameRate' | 'segmentFrames' | 'totalFrames' | 'gopFrames'>;
  segmentDurationSeconds: number;
}

/**
 * The graph step: each assembled rendition measured over the package's segments (the same
 * peak/average rules the playlists use, src/media/measure.ts), then checkRise.
 */
export async function checkRiseStage(input: RiseInput, ctx: StageContext): Promise<RiseCheck> {
  const { frameRate, segmentFrames, totalFrames } = input.video;
  const fps = frameRate.num / frameRate.den;
  const rungs: EncodedRung[] = [];
  for (const { rendition, path } of input.renditions) {
    // The MP4 index (a few small reads, no ffprobe: this node is on the tail's critical path);
    // ffprobe's packet times when the file is not what the plan made.
    const sizes = segmentFrames % input.video.gopFrames === 0 ? await readVideoSampleSizes(path) : undefined;
    const bytes = sizes?.length === totalFrames
      ? segmentBytesInDecodeOrder(sizes, segmentFrames)
      : segmentBytes(await ctx.ffmpeg.probe(buildVideoPacketTimesArgs(path), `packet times of ${rendition.id}`), fps, segmentFrames);
    const spans = bytes.map((b, i) => ({ bytes: b, durationSeconds: Math.min(segmentFrames, totalFrames - i * segmentFrames) / fps }));
    rungs.push({
      id: rendition.id,
      path,
      codec: rendition.codec,
      size: rendition.size,
      peakKbps: peakSegmentBitrate(spans, targetDuration([input.segmentDurationSeconds])) / 1000,
      averageKbps: averageSegmentBitrate(spans) / 1000,
    });
  }
  ctx.onProgress(1);
  return checkRise(rungs);
}
