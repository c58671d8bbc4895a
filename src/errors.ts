/**
 * Every failure vidpipe reports carries a stable code, a message a user can act on,
 * and (for ffmpeg failures) the tail of ffmpeg's stderr. The CLI maps `exitCode` to the
 * process exit status in exactly one place (src/cli/index.ts).
 */
export type ErrorCode =
  | 'USAGE' // bad flags or arguments
  | 'INPUT_NOT_FOUND'
  | 'INPUT_INVALID' // not media, no usable stream, zero duration, truncated …
  | 'SOURCE_CHANGED' // the input changed while it was processed (still being written, overwritten): not bad input, try again later
  | 'FFMPEG_NOT_FOUND'
  | 'ENCODER_MISSING'
  | 'FFMPEG_FAILED'
  | 'FFMPEG_STALLED'
  | 'WORKER_LOST' // a queued task's worker died or lost Redis on every attempt (BullMQ failed the task after its stalls)
  | 'STORAGE_FAILED'
  | 'BUSY' // another vidpipe is doing the same job right now: nothing is wrong, try again later
  | 'DB_FAILED'
  | 'NOT_FOUND' // an id or object that does not exist
  | 'VALIDATION_FAILED'
  | 'INTERRUPTED'
  | 'INTERNAL';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

const exitCodeFor: Record<ErrorCode, number> = {
  USAGE: EXIT_USAGE,
  INPUT_NOT_FOUND: EXIT_USAGE,
  INPUT_INVALID: EXIT_USAGE,
  SOURCE_CHANGED: EXIT_FAILURE,
  FFMPEG_NOT_FOUND: EXIT_FAILURE,
  ENCODER_MISSING: EXIT_FAILURE,
  FFMPEG_FAILED: EXIT_FAILURE,
  FFMPEG_STALLED: EXIT_FAILURE,
  WORKER_LOST: EXIT_FAILURE,
  STORAGE_FAILED: EXIT_FAILURE,
  BUSY: EXIT_FAILURE,
  DB_FAILED: EXIT_FAILURE,
  NOT_FOUND: EXIT_USAGE,
  VALIDATION_FAILED: EXIT_FAILURE,
  INTERRUPTED: EXIT_INTERRUPTED,
  INTERNAL: EXIT_FAILURE,
};

export interface VidpipeErrorOptions {
  cause?: unknown;
  /** Last lines of ffmpeg/ffprobe stderr, shown under the message. */
  stderrTail?: string;
  /** What the user can do about it. */
  hint?: string;
}

export class VidpipeError extends Error {
  readonly code: ErrorCode;
  readonly stderrTail?: string;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: VidpipeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VidpipeError';
    this.code = code;
    this.stderrTail = options.stderrTail;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return exitCodeFor[this.code];
  }
}

export function isVidpipeError(error: unknown): error is VidpipeError {
  return error instanceof VidpipeError;
}

/** Wraps anything thrown into a VidpipeError so callers see one shape. */
export function toVidpipeError(error: unknown): VidpipeError {
  if (error instanceof VidpipeError) return error;
  if (error instanceof Error && error.name === 'AbortError') {
    return new VidpipeError('INTERRUPTED', 'interrupted', { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new VidpipeError('INTERNAL', message, { cause: error });
}

/** Keeps the last `lines` non-empty lines of a process's stderr. */
export function tailLines(text: string | undefined, lines = 12): string {
  if (!text) return '';
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .slice(-lines)
    .join('\n');
}
