/** A `vidpipe worker` process for end-to-end queue tests, with its log and a way to wait for a line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { VIDPIPE_BIN } from './media.js';

export interface WorkerProcess {
  child: ChildProcess;
  /** The id the worker reports itself as (and the submitter's task rows record). */
  id: string;
  log: () => string;
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>;
  stop: () => Promise<void>;
}

export function startWorkerProcess(redisUrl: string, env: NodeJS.ProcessEnv, extra: string[] = []): WorkerProcess {
  const child = spawn(process.execPath, [VIDPIPE_BIN, 'worker', '--redis', redisUrl, '--concurrency', '1', '--lock-duration', '2', ...extra], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  child.stderr!.on('data', (d) => {
    text += d;
    for (const w of [...waiters]) {
      const match = text.match(w.pattern);
      if (match) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(match);
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    id: `${hostname()}:${child.pid}`,
    log: () => text,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const match = text.match(pattern);
        if (match) return resolve(match);
        const timer = setTimeout(() => reject(new Error(`worker never logged ${pattern}:\n${text}`)), timeoutMs);
        waiters.push({ pattern, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * An ffmpeg for a worker that answers what vidpipe asks before any work (version, encoders, help)
 * with the real one, and does `then` (shell lines) for every real run: crash, hang.
 */
export async function brokenFfmpeg(path: string, then: string): Promise<string> {
  await writeFile(path, `#!/bin/sh\ncase "$*" in *-version*|*-encoders*|*-hide_banner\\ -h*) exec ffmpeg "$@";; esac\n${then}\n`);
  await chmod(path, 0o755);
  return path;
}
