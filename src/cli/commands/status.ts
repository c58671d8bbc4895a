import { EXIT_FAILURE, EXIT_OK, VidpipeError } from '../../errors.js';
import { formatQueuedJobStatus, queuedJobStatus } from '../../queue/status.js';
import type { GlobalOptions, StatusOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';

/** `vidpipe status <job>`: a queued job's tasks as Redis has them; exit 1 when the job failed. */
export async function runStatus(jobId: string, options: StatusOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  if (!options.redis) throw new VidpipeError('USAGE', 'vidpipe status needs --redis redis://host:6379 (or VIDPIPE_REDIS)');
  const status = await queuedJobStatus(options.redis, jobId);
  io.stdout(global.json ? JSON.stringify(status) : formatQueuedJobStatus(status));
  return status.status === 'failed' ? EXIT_FAILURE : EXIT_OK;
}
