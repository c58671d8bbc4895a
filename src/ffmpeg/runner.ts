/**
 * The ffmpeg of one job. What every run of a job shares is held once: the binaries, the stall
 * timeout, and this machine's cores with how many chunk encodes share them as each one starts. Each task gets a
 * runner bound to its abort signal and its progress, so a stage states only what differs: the
 * arguments, a label for messages, and the output duration progress is measured against.
 */
import { VidpipeError } from '../errors.js';
import type { FfmpegBinaries } from './binaries.js';
import { coreShare, type ThreadsPolicy } from './args/encoders.js';
import { runCapture, runFfmpeg } from './run.js';

/** What every task of a job on this machine shares. */
export interface FfmpegJobOptions {
  binaries: FfmpegBinaries;
  /** Kill an ffmpeg that reports no progress for this long (ms); 0: never. */
  stallTimeoutMs: number;
  /** This machine's cores, and how many chunk encodes run on them at once (the slots). */
  cores: number;
  parallelEncodes: number;
  /**
   * The job's chunk encodes not finished yet, asked as each chunk starts: when fewer than the
   * slots remain, their encoders share the idle cores. Absent: every slot counts as busy.
   */
  unfinishedChunkEncodes?: () => number;
}

export interface FfmpegRunOptions {
  /** What the run is for, in messages ("encode chunk 3"). */
  label: string;
  /** Seconds of output the run makes: progress is ffmpeg's out_time over it, with an ETA from its speed. */
  durationSeconds?: number;
  /** The part of the task's progress this run covers, when a task runs ffmpeg several times. Default [0, 1]. */
  span?: readonly [number, number];
}

export type ProgressListener = (fraction: number, etaSeconds?: number) => void;

export class FfmpegRunner {
  constructor(
    private readonly job: FfmpegJobOptions,
    readonly signal: AbortSignal,
    private readonly onProgress: ProgressListener = () => undefined,
  ) {}

  get binaries(): FfmpegBinaries {
    return this.job.binaries;
  }

  /** The same job's runner for another task (its own signal and progress). */
  forTask(signal: AbortSignal, onProgress?: ProgressListener): FfmpegRunner {
    return new FfmpegRunner(this.job, signal, onProgress);
  }

  /** Runs ffmpeg; resolves with its stderr, throws FFMPEG_FAILED / FFMPEG_STALLED / INTERRUPTED. */
  run(args: string[], options: FfmpegRunOptions): Promise<{ stderr: string }> {
    const { durationSeconds } = options;
    const [from, to] = options.span ?? [0, 1];
    return runFfmpeg(this.job.binaries.ffmpeg, args, {
      label: options.label,
      signal: this.signal,
      stallTimeoutMs: this.job.stallTimeoutMs,
      onProgress:
        durationSeconds && durationSeconds > 0
          ? (p) => this.onProgress(from + (to - from) * Math.min(1, p.outTimeSeconds / durationSeconds), p.speed > 0 ? Math.max(0, durationSeconds - p.outTimeSeconds) / p.speed : undefined)
          : undefined,
    });
  }

  /** Runs ffprobe and returns what it printed; a non-zero exit is FFMPEG_FAILED with its stderr. */
  async probe(args: string[], label: string): Promise<string> {
    const result = await runCapture(this.job.binaries.ffprobe, args, { label, signal: this.signal });
    if (result.exitCode !== 0) throw new VidpipeError('FFMPEG_FAILED', `${label}: ffprobe exited with code ${result.exitCode}`, { stderrTail: result.stderr });
    return result.stdout;
  }

  /** How many chunk encodes this machine runs at once (the job's slots). */
  get encodeSlots(): number {
    return this.job.parallelEncodes;
  }

  /**
   * This runner for a task that runs chunk encodes of its own (a quality correction after the
   * encode nodes): its encodes share the cores by its own count of unfinished ones, as the
   * encode nodes do by theirs.
   */
  forOwnChunkEncodes(unfinishedChunkEncodes: () => number): FfmpegRunner {
    return new FfmpegRunner({ ...this.job, unfinishedChunkEncodes }, this.signal, this.onProgress);
  }

  /** The cores a chunk encode starting now gets: when fewer chunks than slots are left, they share the idle ones. */
  coreShare(): number {
    const { parallelEncodes, unfinishedChunkEncodes } = this.job;
    // The one starting is unfinished itself: at least 1.
    const parallel = unfinishedChunkEncodes ? Math.max(1, Math.min(parallelEncodes, unfinishedChunkEncodes())) : parallelEncodes;
    return coreShare({ cores: this.job.cores, parallel });
  }

  /** An encoder's threads for a chunk encode starting now (undefined: the encoder's default). */
  threadsFor(policy: ThreadsPolicy): number | undefined {
    return policy === 'share-cores' ? this.coreShare() : undefined;
  }
}
