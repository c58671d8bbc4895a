import type { StoredRendition, TaskRecord, JobRecord, VideoRecord } from '../db/records.js';
import type { LadderReport, QualityMetrics } from '../core/result.js';
import type { PackageSummary, TimelineTask } from '../core/package-summary.js';

/** What a report shows, whether it was read from the database or from a package's vidpipe.json. */
export interface ReportData {
  title: string;
  videoId: string;
  jobId: string;
  source: string;
  kind: 'video' | 'audio';
  durationSeconds: number | null;
  renditions: ReportRendition[];
  /** How the ladder was chosen (null: not recorded, e.g. a job from before it was). */
  ladder: LadderReport | null;
  tasks: TimelineTask[];
  from: 'database' | 'package';
}

export interface ReportRendition {
  name: string;
  kind: 'video' | 'audio';
  codec: string;
  codecs: string;
  width: number | null;
  height: number | null;
  frameRate: number | null;
  channels: number | null;
  averageBitrate: number | null;
  peakBitrate: number | null;
  targetBitrate: number | null;
  sizeBytes: number | null;
  segments: number | null;
  quality: QualityMetrics | null;
}

/** Metrics live in renditions.properties.quality (a JSON column), written by --metrics or `vidpipe metrics`. */
export function qualityOf(properties: Record<string, unknown>): QualityMetrics | null {
  const quality = properties.quality as QualityMetrics | undefined;
  return quality && typeof quality.psnr === 'number' ? quality : null;
}

export function reportFromDatabase(video: VideoRecord, job: JobRecord, renditions: StoredRendition[], tasks: TaskRecord[], ladder: LadderReport | null = null): ReportData {
  return {
    title: video.name,
    videoId: video.id,
    jobId: job.id,
    source: video.source,
    kind: video.kind,
    durationSeconds: video.durationSeconds,
    renditions: renditions.map((r) => ({
      name: r.name,
      kind: r.kind,
      codec: r.codec,
      codecs: r.codecs,
      width: r.width,
      height: r.height,
      frameRate: r.frameRate,
      channels: r.channels,
      averageBitrate: r.averageBitrate,
      peakBitrate: r.peakBitrate,
      targetBitrate: r.targetBitrate,
      sizeBytes: r.sizeBytes,
      segments: r.segmentCount,
      quality: qualityOf(r.properties),
    })),
    ladder,
    tasks: tasks.map((t) => ({
      id: t.id,
      kind: t.kind,
      label: t.label,
      status: t.status,
      startedAt: t.startedAt,
      finishedAt: t.finishedAt,
      worker: t.worker ?? job.worker,
    })),
    from: 'database',
  };
}

export function reportFromPackage(summary: PackageSummary): ReportData {
  const { result } = summary;
  return {
    title: summary.name,
    videoId: result.id,
    jobId: result.jobId,
    source: summary.source,
    kind: result.kind ?? 'video',
    durationSeconds: result.durationSeconds ?? null,
    renditions: result.renditions.map((r) => ({
      name: r.name,
      kind: r.kind,
      codec: r.codec,
      codecs: r.codecs,
      width: r.width ?? null,
      height: r.height ?? null,
      frameRate: r.frameRate ?? null,
      channels: r.channels ?? null,
      averageBitrate: r.averageBitrate,
      peakBitrate: r.peakBitrate,
      targetBitrate: r.targetBitrate,
      sizeBytes: r.sizeBytes,
      segments: r.segments,
      quality: r.quality ?? null,
    })),
    ladder: result.ladder ?? null,
    tasks: summary.tasks,
    from: 'package',
  };
}
