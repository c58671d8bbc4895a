import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { VidpipeError, EXIT_INTERRUPTED, EXIT_OK } from '../../core/errors.js';
import { defaultWorkRoot } from '../../core/transcode.js';
import { startWorker } from '../../queue/worker.js';
import type { GlobalOptions } from '../program.js';
import type { CliIO } from '../io.js';

export interface RawWorkerOptions {
  redis?: string;
  concurrency?: string;
  workDir?: string;
  lockDuration: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3Timeout?: string;
}

function positive(flag: string, value: string | undefined, integer: boolean): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new VidpipeError('USAGE', `${flag}: "${value}" is not a ${integer ? 'whole ' : ''}number above 0`);
  return n;
}

/**
 * `vidpipe worker`: runs queued tasks until SIGINT/SIGTERM. The first signal stops taking new
 * tasks and lets running ones finish; a second one stops at once (the interrupted tasks are
 * picked up by another worker once their lock expires).
 */
export async function runWorker(raw: RawWorkerOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  if (!raw.redis) throw new VidpipeError('USAGE', 'vidpipe worker needs --redis redis://host:6379 (or VIDPIPE_REDIS)');
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  const concurrency = raw.concurrency ? positive('--concurrency', raw.concurrency, true) : Math.max(1, Math.floor(availableParallelism() / 2));
  const log = global.quiet ? () => undefined : (line: string) => io.stderr(`vidpipe worker: ${line}`);
  const worker = await startWorker({
    redisUrl: raw.redis,
    concurrency,
    binaries,
    s3: { endpoint: raw.s3Endpoint, region: raw.s3Region, timeoutSeconds: raw.s3Timeout === undefined ? undefined : positive('--s3-timeout', raw.s3Timeout, false) },
    workRoot: join(raw.workDir ?? defaultWorkRoot(io.env), 'worker'),
    lockDurationMs: positive('--lock-duration', raw.lockDuration, false) * 1000,
    log,
  });
  log(`${worker.id} waiting for tasks on ${raw.redis} (concurrency ${concurrency})`);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        log(`${signal}: finishing running tasks (send it again to stop now)`);
        void worker.close().then(() => done(EXIT_OK));
      } else {
        void worker.close(true).then(() => done(EXIT_INTERRUPTED));
      }
    };
    const done = (code: number) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(code);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
