/**
 * Ties every ffmpeg/ffprobe child to vidpipe's life, so that none goes on writing into a work
 * folder once vidpipe is gone — even after `kill -9`, which runs no JavaScript at all.
 *
 * - Linux with util-linux `setpriv`: a child is started as `setpriv --pdeathsig SIGKILL -- ffmpeg …`.
 *   setpriv sets PR_SET_PDEATHSIG and execs ffmpeg in the same process (same pid, same cmdline);
 *   the setting survives execve for a binary that is not setuid/setgid, and the kernel sends SIGKILL
 *   when the thread that forked the child exits. Node forks from the thread that calls
 *   child_process (here the main thread, checked below), so that is the life of the process.
 *   It costs one more execve per spawn (about a millisecond).
 * - Anywhere else (no setpriv, macOS, Windows, a worker thread): one small reaper process per vidpipe
 *   learns each child's pid over a pipe; when the pipe closes — vidpipe exited or was killed — it
 *   SIGKILLs the children still listed.
 *
 * Neither covers a kill in the instant between fork and the guard taking hold; the next run's
 * stopOrphans (src/core/work-lock.ts) stays as the second line of defence.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

export type ChildGuard = 'pdeathsig' | 'reaper';

interface Killable {
  pid?: number;
  kill(signal?: NodeJS.Signals): boolean;
}

/** Children started through the runner and not yet exited: what an overdue stop kills. */
const live = new Set<Killable>();

let setprivPath: string | null | undefined;

/** util-linux setpriv with --pdeathsig (2.33+), found once per process; Linux main thread only. */
function pdeathsigLauncher(): string | undefined {
  if (setprivPath === undefined) {
    setprivPath = null;
    if (process.platform === 'linux' && isMainThread) {
      const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/bin'];
      for (const dir of dirs) {
        const candidate = join(dir, 'setpriv');
        try {
          accessSync(candidate, constants.X_OK);
        } catch {
          continue;
        }
        const help = spawnSync(candidate, ['--help'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
        if (help.status === 0 && help.stdout.includes('--pdeathsig')) setprivPath = candidate;
        break;
      }
    }
  }
  return setprivPath ?? undefined;
}

/** Which guard this process uses for its children. */
export function childGuard(): ChildGuard {
  return pdeathsigLauncher() ? 'pdeathsig' : 'reaper';
}

/** The executable and arguments that start `binary args…` under this process's guard (never a shell). */
export function guardedCommand(binary: string, args: string[]): { file: string; args: string[] } {
  const setpriv = pdeathsigLauncher();
  return setpriv ? { file: setpriv, args: ['--pdeathsig', 'SIGKILL', '--', binary, ...args] } : { file: binary, args };
}

/**
 * Registers a started child until it exits: it is then killed by killChildren, and — under the
 * reaper guard — by the reaper if vidpipe dies first. Call the returned function once it has exited.
 */
export function trackChild(child: Killable): () => void {
  live.add(child);
  const pid = child.pid;
  if (pid !== undefined && !pdeathsigLauncher()) reaper()?.write(`+${pid}\n`);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    live.delete(child);
    if (pid !== undefined && !pdeathsigLauncher()) reaper()?.write(`-${pid}\n`);
  };
}

/** Sends `signal` to every live child (an overdue or forced stop); returns how many there were. */
export function killChildren(signal: NodeJS.Signals = 'SIGKILL'): number {
  let count = 0;
  for (const child of live) {
    try {
      if (child.kill(signal)) count += 1;
    } catch {
      // Already gone.
    }
  }
  return count;
}

interface ReaperLink {
  write(line: string): void;
}

let reaperLink: ReaperLink | null | undefined;

/** The reaper of this process, started at first need; null when it cannot be started. */
function reaper(): ReaperLink | undefined {
  if (reaperLink === undefined) reaperLink = startReaper() ?? null;
  return reaperLink ?? undefined;
}

/** Starts a reaper (exported for tests, which check it on Linux where setpriv would be used). */
export function startReaper(): ReaperLink | undefined {
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [fileURLToPath(new URL('./child-reaper.js', import.meta.url))], {
      stdio: ['pipe', 'ignore', 'ignore'],
      windowsHide: true,
    });
  } catch {
    return undefined;
  }
  let usable = true;
  child.on('error', () => (usable = false));
  child.stdin?.on('error', () => (usable = false));
  // Neither the reaper nor its pipe keeps vidpipe running: it ends when vidpipe does.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    write: (line) => {
      if (usable && child.stdin?.writable) child.stdin.write(line);
    },
  };
}
