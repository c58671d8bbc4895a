import { execa, type Options } from 'execa';
import { VidpipeError, tailLines } from '../errors.js';
import { guardedCommand, trackChild } from './child-guard.js';
import { ProgressParser, type FfmpegProgress } from './progress.js';

/**
 * The one place vidpipe starts ffmpeg or ffprobe: with an argument array (never a shell), under
 * the child guard that makes the child die with vidpipe (child-guard.ts), and registered so an
 * overdue stop can kill it.
 */
function spawnTool<O extends Options>(binary: string, args: string[], options: O) {
  const command = guardedCommand(binary, args);
  const child = execa(command.file, command.args, options);
  const untrack = trackChild(child);
  child.then(untrack, untrack);
  return child;
}

export interface RunFfmpegOptions {
  signal?: AbortSignal;
  /** Called with each progress block ffmpeg reports. */
  onProgress?: (progress: FfmpegProgress) => void;
  /** Kill ffmpeg when it reports no progress for this many milliseconds (0 = never). */
  stallTimeoutMs?: number;
  /** What the run is for, used in error messages ("encode chunk 3"). */
  label: string;
  cwd?: string;
}

/** Arguments every ffmpeg run gets: no banner, never read stdin, overwrite, quiet log, progress on stdout. */
export const COMMON_FFMPEG_ARGS = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-progress', 'pipe:1', '-nostats'];

/**
 * Runs ffmpeg with an argument array (never a shell). Progress comes from `-progress pipe:1`;
 * stderr is kept so a failure carries its tail. Aborting `signal` terminates ffmpeg
 * (SIGTERM, then SIGKILL after 5 s).
 */
export async function runFfmpeg(ffmpeg: string, args: string[], options: RunFfmpegOptions): Promise<{ stderr: string }> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) throw interrupted(options.label);
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let stalled = false;
  let stallTimer: NodeJS.Timeout | undefined;
  const armStallTimer = () => {
    if (!options.stallTimeoutMs) return;
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => {
      stalled = true;
      controller.abort(new Error('stalled'));
    }, options.stallTimeoutMs);
  };

  const child = spawnTool(ffmpeg, [...COMMON_FFMPEG_ARGS, ...args], {
    cancelSignal: controller.signal,
    forceKillAfterDelay: 5000,
    stdin: 'ignore',
    buffer: { stdout: false, stderr: true },
    lines: false,
    cwd: options.cwd,
    reject: false,
  } satisfies Options);

  armStallTimer();
  const parser = new ProgressParser();
  let lastTime = -1;
  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const progress = parser.push(line);
      if (!progress) continue;
      if (progress.outTimeSeconds !== lastTime || progress.done) armStallTimer();
      lastTime = progress.outTimeSeconds;
      options.onProgress?.(progress);
    }
  });

  const result = await child;
  clearTimeout(stallTimer);
  options.signal?.removeEventListener('abort', onAbort);

  if (options.signal?.aborted) throw interrupted(options.label);
  if (stalled) {
    throw new VidpipeError('FFMPEG_STALLED', `${options.label}: ffmpeg made no progress for ${options.stallTimeoutMs} ms and was stopped`, {
      stderrTail: tailLines(String(result.stderr ?? '')),
    });
  }
  if (result.failed) {
    const stderrTail = tailLines(String(result.stderr ?? ''));
    const reason = result.exitCode === undefined ? `was killed (${result.signal ?? 'unknown signal'})` : `exited with code ${result.exitCode}`;
    throw new VidpipeError('FFMPEG_FAILED', `${options.label}: ffmpeg ${reason}`, { stderrTail });
  }
  return { stderr: String(result.stderr ?? '') };
}

function interrupted(label: string): VidpipeError {
  return new VidpipeError('INTERRUPTED', `${label}: interrupted`);
}

/** Runs a short helper command (ffprobe, ffmpeg -encoders) and returns its stdout. */
export async function runCapture(
  binary: string,
  args: string[],
  options: { signal?: AbortSignal; label: string; timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const result = await spawnTool(binary, args, {
    reject: false,
    stdin: 'ignore',
    cancelSignal: options.signal,
    timeout: options.timeoutMs ?? 120_000,
    env: options.env,
    maxBuffer: 256 * 1024 * 1024,
    stripFinalNewline: false,
  });
  if (options.signal?.aborted) throw interrupted(options.label);
  if (result.exitCode === undefined) {
    throw new VidpipeError('FFMPEG_FAILED', `${options.label}: ${binary} did not finish (${result.signal ?? 'timeout'})`, {
      stderrTail: tailLines(String(result.stderr ?? '')),
    });
  }
  return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), exitCode: result.exitCode };
}
