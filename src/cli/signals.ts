/**
 * Ctrl-C and SIGTERM, owned by vidpipe (listr2's own handler would call process.exit and leave
 * ffmpeg running and the job marked running, so it stays disabled: see listr-reporter.ts).
 *
 * The first SIGINT/SIGTERM starts an orderly stop (`onFirst` aborts the work: ffmpeg children are
 * terminated, the job is marked interrupted, its work folder kept for a resume). A watchdog bounds
 * that stop: if the process is still alive STOP_GRACE_MS later — something did not honour the
 * abort, or a connection keeps the event loop busy — it kills its children and exits. A second
 * signal exits at once. Both exit with 130 unless the command already returned its own status.
 */
import { EXIT_INTERRUPTED } from '../errors.js';
import { killChildren } from '../ffmpeg/child-guard.js';

/** How long an orderly stop may take after the first signal. */
export const STOP_GRACE_MS = 10_000;

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

let stopping = false;
let watchdog: NodeJS.Timeout | undefined;

/** Ends the process now: children first (SIGKILL), then exit with the command's status or 130. */
function exitNow(write: (text: string) => void, reason: string): never {
  const killed = killChildren('SIGKILL');
  write(`vidpipe: ${reason}; exiting now${killed > 0 ? ` (killed ${killed} ffmpeg process${killed === 1 ? '' : 'es'})` : ''}`);
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT_INTERRUPTED);
}

export interface InterruptOptions {
  /** Bound of the orderly stop (default STOP_GRACE_MS). */
  graceMs?: number;
}

/**
 * Calls `onFirst` on the first SIGINT/SIGTERM. The returned function removes the handlers, except
 * once a stop has begun: from then on a further signal forces the exit and the watchdog stays armed
 * (unreferenced: it never keeps a process alive that would otherwise end).
 */
export function installInterruptHandler(onFirst: (signal: NodeJS.Signals) => void, write: (text: string) => void, options: InterruptOptions = {}): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) exitNow(write, `${signal} received again`);
    stopping = true;
    write(`\nvidpipe: ${signal} received, stopping (press Ctrl-C again to force)…`);
    const graceMs = options.graceMs ?? STOP_GRACE_MS;
    watchdog = setTimeout(() => exitNow(write, `did not stop within ${graceMs / 1000} s of ${signal}`), graceMs);
    watchdog.unref();
    onFirst(signal);
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  return () => {
    if (stopping) return;
    for (const signal of SIGNALS) process.off(signal, handler);
  };
}
