import type { JobEvent } from '../../core/events.js';

/** Something that observes job events and draws them; `close` waits for the drawing to finish. */
export interface Reporter {
  onEvent(event: JobEvent): void;
  close(): Promise<void>;
}

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'none';

/**
 * Chooses how progress is drawn: a live task list only on an interactive terminal, plain
 * throttled lines otherwise (CI, pipes, TERM=dumb), nothing with --quiet.
 */
export function chooseProgressMode(options: { progress?: string; quiet?: boolean }, stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): 'tty' | 'plain' | 'none' {
  if (options.quiet || options.progress === 'none') return 'none';
  if (options.progress === 'plain') return 'plain';
  if (options.progress === 'tty') return 'tty';
  // A terminal that reports no width (some pseudo-terminals) would truncate every row to nothing.
  if (stream.isTTY !== true || env.TERM === 'dumb' || env.CI || (stream.columns !== undefined && stream.columns < 20)) return 'plain';
  return 'tty';
}
