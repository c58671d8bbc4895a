import type { FfmpegBinaries } from '../ffmpeg/binaries.js';

/**
 * What every stage function receives besides its own input. Stages are plain async
 * functions `(input, context) => output`; they know nothing about the terminal, listr2,
 * the database or the queue. The DAG runner builds one context per task.
 */
export interface StageContext {
  binaries: FfmpegBinaries;
  /** Aborted on Ctrl-C, on a sibling task's failure, or on a stall. */
  signal: AbortSignal;
  /** Reports progress of this task as a fraction 0..1, with an optional ETA in seconds. */
  onProgress: (fraction: number, etaSeconds?: number) => void;
  /** Kill an ffmpeg child that reports no progress for this long (ms); 0 disables. */
  stallTimeoutMs: number;
  /** Folder for intermediate files of this job (chunks, assembled renditions). */
  workDir: string;
}
