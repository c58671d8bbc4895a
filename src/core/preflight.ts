/**
 * What a job will write, estimated after planning, for the free-space check made before the
 * first encode (`assertFreeSpace` in src/files/free-space.ts).
 */
import type { SpaceNeed } from '../files/free-space.js';
import type { JobPlan } from './plan.js';

/**
 * The work folder holds three copies of the package at the end of a job: the encoded chunks,
 * each rendition assembled from them, and the packaged segments. Encoders hit their average
 * target only on average, so 10 % more, plus a fixed allowance for images and playlists.
 */
const WORK_COPIES = 3;
const RATE_MARGIN = 1.1;
const FIXED_BYTES = 16 * 1024 * 1024;

/** Bytes of one finished package: every rendition's target bit rate over the whole duration. */
export function estimatePackageBytes(plan: JobPlan): number {
  const videoKbps = (plan.video?.renditions ?? []).reduce((sum, r) => sum + r.bitrateKbps, 0);
  // MPEG-TS variants repeat the H.264 video (with the default audio) in a second set of segments.
  const tsKbps = plan.hlsSegments && plan.hlsSegments !== 'fmp4'
    ? (plan.video?.renditions ?? []).filter((r) => r.codec === 'h264').reduce((sum, r) => sum + r.bitrateKbps, 0)
    : 0;
  const audioKbps = plan.audio.reduce((sum, r) => sum + r.bitrateKbps, 0);
  return Math.ceil((plan.durationSeconds * (videoKbps + tsKbps + audioKbps) * 1000 * RATE_MARGIN) / 8);
}

/** The space a job needs: the work folder always, a local destination only on another disk (same disk: a rename). */
export function spaceNeeds(plan: JobPlan, workDir: string, localOutput: string | undefined): SpaceNeed[] {
  const packageBytes = estimatePackageBytes(plan);
  const needs: SpaceNeed[] = [{ path: workDir, bytes: packageBytes * WORK_COPIES + FIXED_BYTES, what: 'intermediate files (--work-dir)' }];
  if (localOutput) needs.push({ path: localOutput, bytes: packageBytes + FIXED_BYTES, what: 'the package (--out)' });
  return needs;
}
