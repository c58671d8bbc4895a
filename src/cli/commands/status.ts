import { EXIT_FAILURE, EXIT_OK, VidpipeError } from '../../errors.js';
import { withMetadata } from '../../db/engines.js';
import { recordEndedJob } from '../../job/records.js';
import { endedJobOf, formatQueuedJobStatus, readQueuedJob } from '../../queue/status.js';
import type { GlobalOptions, StatusOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';

/**
 * `vidpipe status <job>`: a queued job's tasks as Redis has them; exit 1 when the job failed.
 * With --db (or VIDPIPE_DB), a job that has ended is recorded in that database as its submitter
 * would have recorded it (a `--detach`ed job's submitter did not wait), so `list` and `show` see it.
 */
export async function runStatus(jobId: string, options: StatusOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  if (!options.redis) throw new VidpipeError('USAGE', 'vidpipe status needs --redis redis://host:6379 (or VIDPIPE_REDIS)');
  const reading = await readQueuedJob(options.redis, jobId);
  const ended = global.db ? endedJobOf(reading) : undefined;
  if (ended && global.db) await withMetadata(global.db, (db) => recordEndedJob(db, ended));
  const { status } = reading;
  io.stdout(global.json ? JSON.stringify(status) : formatQueuedJobStatus(status));
  return status.status === 'failed' ? EXIT_FAILURE : EXIT_OK;
}
