import { resolve } from 'node:path';
import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { VidpipeError, EXIT_INTERRUPTED, EXIT_OK } from '../../errors.js';
import { defaultWorkRoot } from '../../settings/job-settings.js';
import type { GlobalOptions, WorkerOptions } from '../../settings/command-options.js';
import { startWorker } from '../../queue/worker.js';
import { displayRedisUrl } from '../../queue/connection.js';
import type { CliIO } from '../io.js';
import { installInterruptHandler } from '../signals.js';
import { printable } from '../io.js';

/**
 * `vidpipe worker`: runs queued tasks until SIGINT/SIGTERM. The first signal stops within seconds:
 * running tasks are interrupted and handed back to the queue without spending an attempt (exit
 * 130; 0 when none was running). A second signal exits at once; tasks it interrupts are picked up
 * by another worker once their lock expires.
 */
export async function runWorker(options: WorkerOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  if (!options.redis) throw new VidpipeError('USAGE', 'vidpipe worker needs --redis redis://host:6379 (or VIDPIPE_REDIS)');
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  const { concurrency } = options;
  const log = global.quiet ? () => undefined : (line: string) => io.stderr(`vidpipe worker: ${printable(line)}`);
  const worker = await startWorker({
    redisUrl: options.redis,
    concurrency,
    binaries,
    storage: { s3: { endpoint: options.s3Endpoint, region: options.s3Region, timeoutSeconds: options.s3TimeoutSeconds } },
    // Absolute once: paths handed to ffmpeg and recorded in results must not depend on the cwd.
    workRoot: resolve(options.workDir ?? defaultWorkRoot(io.env), 'worker'),
    lockDurationMs: options.lockDurationSeconds * 1000,
    log,
  });
  log(`${worker.id} waiting for tasks on ${displayRedisUrl(options.redis)} (concurrency ${concurrency})`);
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
