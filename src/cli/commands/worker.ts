import { resolve } from 'node:path';
import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { VidpipeError, EXIT_INTERRUPTED, EXIT_OK } from '../../errors.js';
import { defaultWorkRoot } from '../../settings/job-settings.js';
import type { GlobalOptions, WorkerOptions } from '../../settings/command-options.js';
import { openMetadata } from '../../db/engines.js';
import type { MetadataStore } from '../../db/metadata-store.js';
import { recordDetachedJobEnd, recordEndedDetachedJobs } from '../../queue/record-ended.js';
import { startWorker } from '../../queue/worker.js';
import { displayRedisUrl } from '../../queue/connection.js';
import type { CliIO } from '../io.js';
import { installInterruptHandler } from '../signals.js';
import { printable } from '../io.js';
import { ownWebhookSecret } from '../../settings/job-settings.js';
import { WEBHOOK_EXIT_BUDGET_MS, startWebhookSender } from '../webhook-sender.js';

/**
 * `vidpipe worker`: runs queued tasks until SIGINT/SIGTERM. The first signal stops within seconds:
 * running tasks are interrupted and handed back to the queue without spending an attempt (exit
 * 130; 0 when none was running). A second signal exits at once; tasks it interrupts are picked up
 * by another worker once their lock expires.
 *
 * With --db (or VIDPIPE_DB), the worker whose task ends a `--detach`ed job records its end in that
 * database, as `vidpipe status <job> --db` would (src/queue/record-ended.ts). The database is
 * opened at start, so a wrong target fails at once; a write that fails later is logged, never
 * fails a task, and is tried again by the sweep: at start and every minute the worker records any
 * detached job of its queue that the database still says is running but has ended (its recorder
 * died, the database was down, or its workers ran without --db).
 */
export async function runWorker(options: WorkerOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  if (!options.redis) throw new VidpipeError('USAGE', 'vidpipe worker needs --redis redis://host:6379 (or VIDPIPE_REDIS)');
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  const { concurrency } = options;
  const log = global.quiet ? () => undefined : (line: string) => io.stderr(`vidpipe worker: ${printable(line)}`);
  const metadata = global.db ? await openMetadata(global.db) : undefined;
  // With --db and a secret, the worker also sends the outbox's due events (those of the jobs it records, and any other's).
  const webhooks = global.db ? await startWebhookSender(global.db, ownWebhookSecret(io.env), { required: false, log }).catch(async (error: unknown) => {
    await metadata?.close();
    throw error;
  }) : undefined;
  const redisUrl = options.redis;
  /** Recordings under way: stopping waits for them before closing the database. */
  const recordings = new Set<Promise<void>>();
  const recordEnd = (db: MetadataStore) => (jobId: string, workerId: string) => {
    const recording = recordEndOf(db, redisUrl, jobId, workerId, log);
    recordings.add(recording);
    return recording.finally(() => recordings.delete(recording));
  };
  let stopping = false;
  const closeMetadata = async () => {
    stopping = true;
    clearTimeout(nextSweep);
    while (recordings.size > 0) await Promise.allSettled([...recordings]);
    await metadata?.close();
    await webhooks?.stop(WEBHOOK_EXIT_BUDGET_MS);
  };
  const worker = await startWorker({
    redisUrl: options.redis,
    concurrency,
    binaries,
    storage: { s3: { endpoint: options.s3Endpoint, region: options.s3Region, timeoutSeconds: options.s3TimeoutSeconds } },
    // Absolute once: paths handed to ffmpeg and recorded in results must not depend on the cwd.
    workRoot: resolve(options.workDir ?? defaultWorkRoot(io.env), 'worker'),
    lockDurationMs: options.lockDurationSeconds * 1000,
    log,
    ...(metadata ? { onJobMayHaveEnded: recordEnd(metadata) } : {}),
  }).catch(async (error: unknown) => {
    await metadata?.close();
    await webhooks?.stop(0);
    throw error;
  });
  log(`${worker.id} waiting for tasks on ${displayRedisUrl(options.redis)} (concurrency ${concurrency})`);
  let nextSweep: NodeJS.Timeout | undefined;
  const sweep = (db: MetadataStore) => {
    if (stopping) return;
    const swept = recordEndedDetachedJobs(redisUrl, db, worker.id, (jobId, error) => log(`${jobId}: ended, but recording it in the database failed (tried again in a minute): ${error.message}`))
      .then((recorded) => recorded.forEach((jobId) => log(`${jobId}: ended; recorded in the database`)))
      .catch((error: unknown) => log(`looking for ended jobs to record failed (tried again in a minute): ${(error as Error).message}`))
      .finally(() => {
        recordings.delete(swept);
        if (!stopping) nextSweep = setTimeout(() => sweep(db), SWEEP_INTERVAL_MS).unref();
      });
    recordings.add(swept);
  };
  if (metadata) sweep(metadata);
  return new Promise<number>((done) => {
    installInterruptHandler(
      () => void worker.stop().finally(closeMetadata).then(
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

/** How often a worker with --db looks for detached jobs that ended unrecorded. */
const SWEEP_INTERVAL_MS = 60_000;

/** Records a detached job's end if this worker's task ended it; a failure is logged, never thrown (`status --db` can still record it). */
async function recordEndOf(db: MetadataStore, redisUrl: string, jobId: string, workerId: string, log: (line: string) => void): Promise<void> {
  try {
    if ((await recordDetachedJobEnd(redisUrl, jobId, db, workerId)) === 'recorded') log(`${jobId}: ended; recorded in the database`);
  } catch (error) {
    log(`${jobId}: ended, but recording it in the database failed (tried again within a minute): ${(error as Error).message}`);
  }
}
