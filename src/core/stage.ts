import type { FfmpegRunner } from '../ffmpeg/runner.js';

/**
 * What every stage function receives besides its own input. Stages are plain async
 * functions `(input, context) => output`; they know nothing about the terminal, listr2,
 * the database or the queue. The graph's runtime (src/job/graph.ts) builds one per task.
 */
export interface StageContext {
  /** The job's ffmpeg, bound to this task's signal and progress. */
  ffmpeg: FfmpegRunner;
  /** Aborted on Ctrl-C, on a sibling task's failure, or on a stall. */
  signal: AbortSignal;
  /** Reports progress of this task as a fraction 0..1, with an optional ETA in seconds. */
  onProgress: (fraction: number, etaSeconds?: number) => void;
  /** Folder for intermediate files of this job (chunks, assembled renditions). */
  workDir: string;
}
