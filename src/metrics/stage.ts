import { join } from 'node:path';
import { hasFilter } from '../ffmpeg/capabilities.js';
import type { JobPlan } from '../core/plan.js';
import type { StageContext } from '../core/stage.js';
import type { PackageModel } from '../manifest/model.js';
import type { QualityMetrics } from '../core/result.js';
import { measureQuality } from './quality.js';

export interface PackageQualityInput {
  source: string;
  plan: JobPlan;
  /** The written manifests' model: each video track's media playlist, relative to packageDir. */
  model: PackageModel;
  packageDir: string;
}

/** The `metrics` DAG node: PSNR/SSIM (VMAF when available) of every video rendition of a finished package. */
export async function measurePackageQuality(input: PackageQualityInput, ctx: StageContext): Promise<Record<string, QualityMetrics>> {
  const video = input.plan.video;
  if (!video || input.model.videos.length === 0) return {};
  return measureQuality(
    {
      source: input.source,
      sourceStreamIndex: video.streamIndex,
      durationSeconds: input.plan.durationSeconds,
      deinterlace: video.deinterlace,
      vmafAvailable: await hasFilter(ctx.ffmpeg.binaries, 'libvmaf'),
      renditions: input.model.videos.map((track) => ({
        name: track.id,
        playlist: join(input.packageDir, track.playlistUri),
        width: track.width,
        height: track.height,
        frameRate: track.frameRate,
      })),
    },
    ctx,
  );
}
