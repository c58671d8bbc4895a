import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { VidpipeError, EXIT_INTERRUPTED, EXIT_OK } from '../../errors.js';
import { defaultWorkRoot } from '../../core/transcode.js';
import { startWorker } from '../../queue/worker.js';
import { displayRedisUrl } from '../../queue/connection.js';
import type { GlobalOptions } from '../program.js';
import type { CliIO } from '../io.js';
import { installInterruptHandler } from '../signals.js';

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
 * `vidpipe worker`: runs queued tasks until SIGINT/SIGTERM. The first signal stops within seconds:
 * running tasks are interrupted and handed back to the queue without spending an attempt (exit
 * 130; 0 when none was running). A second signal exits at once; tasks it interrupts are picked up
 * by another worker once their lock expires.
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
    // Absolute once: paths handed to ffmpeg and recorded in results must not depend on the cwd.
    workRoot: resolve(raw.workDir ?? defaultWorkRoot(io.env), 'worker'),
    lockDurationMs: positive('--lock-duration', raw.lockDuration, false) * 1000,
    log,
  });
  log(`${worker.id} waiting for tasks on ${displayRedisUrl(raw.redis)} (concurrency ${concurrency})`);
  return new Promise<number>((done) => {
    installInterruptHandler(
      () => void worker.stop().then(
        (handedBack) => {
          if (handedBack > 0) log(`handed ${handedBack} running task${handedBack === 1 ? '' : 's'} back to the queue`);
          done(handedBack > 0 ? EXIT_INTERRUPTED : EXIT_OK);
        },
        (error: unknown) => {
          log(`stopping failed: ${(error as Error).message}`);
          done(EXIT_INTERRUPTED);
        },
      ),
      io.stderr,
    );
  });
}
