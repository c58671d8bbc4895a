import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { withMetadata } from '../db/engines.js';
import type { FfmpegBinaries } from '../ffmpeg/binaries.js';
import { detectCapabilities, hasFilter } from '../ffmpeg/capabilities.js';
import { probeFile } from '../ffmpeg/probe.js';
import { VidpipeError } from '../errors.js';
import { sha256File } from '../core/ids.js';
import { planJob } from '../core/plan.js';
import { storedSettings, type JobSettings } from '../settings/job-settings.js';
import { pickAv1Encoder } from '../ffmpeg/args/encoders.js';
import { FfmpegRunner } from '../ffmpeg/runner.js';
import { isOnThisMachine } from '../storage/backends.js';
import { readPackageSummary, writePackageSummary } from '../core/package-summary.js';
import type { QualityMetrics } from '../core/result.js';
import { measureQuality } from './quality.js';

export interface VideoMetricsRequest {
  db: string;
  id: string;
  binaries: FfmpegBinaries;
  /** The source file, when it is no longer where the database says. */
  source?: string;
  /** A local copy of the package, when it was published elsewhere (S3). */
  packageDir?: string;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

export interface VideoMetricsResult {
  videoId: string;
  jobId: string;
  source: string;
  packageDir: string;
  renditions: Record<string, QualityMetrics>;
}

async function requireFile(path: string, what: string, hint: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new VidpipeError('INPUT_NOT_FOUND', `${what} ${path} is not there`, { hint });
}

/**
 * `vidpipe metrics <id>`: measures the published package of a video against its source
 * (the file recorded in the database, checked by its SHA-256), stores the metrics with the
 * renditions and refreshes the package's vidpipe.json.
 */
export async function measureVideo(request: VideoMetricsRequest): Promise<VideoMetricsResult> {
  const details = await withMetadata(request.db, (db) => db.getVideo(request.id));
  const job = details.readyJob;
  if (!job) throw new VidpipeError('NOT_FOUND', `video ${details.video.id} has no published package`, { hint: 'transcode it first' });
  if (details.video.kind !== 'video') throw new VidpipeError('USAGE', `video ${details.video.id} is audio only: PSNR/SSIM apply to pictures`);

  const source = request.source ?? details.video.source;
  if (!isOnThisMachine(source)) {
    throw new VidpipeError('USAGE', `the source ${source} is in object storage`, { hint: 'download it and pass --source <file>' });
  }
  const sourceHint = 'pass the original file with --source <file>';
  await requireFile(source, 'source', sourceHint);
  if (details.video.sha256 && (await sha256File(source, request.signal)) !== details.video.sha256) {
    throw new VidpipeError('USAGE', `${source} is not the file video ${details.video.id} was made from (SHA-256 differs)`, { hint: sourceHint });
  }

  const root = request.packageDir ?? job.outputs.root;
  if (!root || !isOnThisMachine(root)) {
    throw new VidpipeError('USAGE', `the package of ${details.video.id} is at ${root ?? '(unknown)'}, not on this disk`, {
      hint: 'download it and pass --package <dir>',
    });
  }
  const packageDir = resolve(root);
  const videos = details.renditions.filter((r) => r.kind === 'video' && r.playlist && r.width && r.height);
  for (const r of videos) await requireFile(join(packageDir, r.playlist!), `playlist of ${r.name}:`, 'pass a local copy of the package with --package <dir>');

  const probe = await probeFile(request.binaries.ffprobe, source, request.signal);
  const capabilities = await detectCapabilities(request.binaries);
  // The job's own settings, as its record has them (a record of an earlier version lacks some).
  const plan = planJob(probe, storedSettings(job.options as Partial<JobSettings>), { av1Encoder: pickAv1Encoder(capabilities.encoders) });
  if (!plan.video) throw new VidpipeError('INPUT_INVALID', `${source} has no video stream`);
  const workDir = await mkdtemp(join(tmpdir(), 'vidpipe-metrics-'));
  const signal = request.signal ?? new AbortController().signal;
  let metrics: Record<string, QualityMetrics>;
  try {
    metrics = await measureQuality(
      {
        source,
        sourceStreamIndex: plan.video.streamIndex,
        durationSeconds: plan.durationSeconds,
        deinterlace: plan.video.deinterlace,
        vmafAvailable: await hasFilter(request.binaries, 'libvmaf'),
        renditions: videos.map((r) => ({
          name: r.name,
          playlist: join(packageDir, r.playlist!),
          width: r.width!,
          height: r.height!,
          frameRate: plan.video!.frameRate,
        })),
      },
      {
        ffmpeg: new FfmpegRunner({ binaries: request.binaries, stallTimeoutMs: 300_000, cores: 1, parallelEncodes: 1 }, signal, (fraction) => request.onProgress?.(fraction)),
        signal,
        onProgress: (fraction) => request.onProgress?.(fraction),
        workDir,
      },
    );
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }

  // Merged into the renditions' properties under "quality", beside what the job recorded.
  await withMetadata(request.db, (db) => db.saveRenditionQuality(job.id, metrics));
  const summary = await readPackageSummary(packageDir);
  if (summary && summary.result.jobId === job.id) {
    for (const r of summary.result.renditions) if (metrics[r.name]) r.quality = metrics[r.name];
    const { format: _format, writtenAt: _writtenAt, ...rest } = summary;
    await writePackageSummary(packageDir, rest);
  }
  return { videoId: details.video.id, jobId: job.id, source, packageDir, renditions: metrics };
}
