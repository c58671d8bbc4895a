/**
 * A `--detach`ed job's end, recorded by a worker (`vidpipe worker --db`): its submitter did not
 * wait, so the worker whose task ended the job (the last flow's root completed, or a task failed
 * for good) writes what the submitter's metadata node would have, through `recordEndedJob`, the
 * same function `vidpipe status <job> --db` uses. Exactly one writer: of the workers that see the
 * job ended (two tasks failing for good together), only the one that takes the job's claim in
 * Redis writes; and `recordEndedJob` leaves a job alone that is no longer running in the database.
 */
import { Queue } from 'bullmq';
import type { MetadataStore } from '../db/metadata-store.js';
import { recordEndedJob } from '../job/records.js';
import { redisConnection } from './connection.js';
import { TASK_QUEUE } from './protocol.js';
import { endedJobOf, readQueuedJob } from './status.js';
import { KEEP_SECONDS, jobRecordKey } from './submit.js';

/** What became of a job's end when a worker looked: recorded here, or why not. */
export type EndedJobRecording = 'recorded' | 'not-detached' | 'not-ended' | 'taken' | 'not-running';

/** Records the end of job `jobId` in `db` when it was submitted with `--detach` and has ended; see the file comment. */
export async function recordDetachedJobEnd(redisUrl: string, jobId: string, db: MetadataStore, workerId: string): Promise<EndedJobRecording> {
  const reading = await readQueuedJob(redisUrl, jobId);
  if (!reading.detached) return 'not-detached';
  const ended = endedJobOf(reading);
  if (!ended) return 'not-ended';
  if (!(await claimRecording(redisUrl, jobId, workerId))) return 'taken';
  return (await recordEndedJob(db, ended)) ? 'recorded' : 'not-running';
}

/** Takes the job's one recording claim (SET NX): true for exactly one caller. */
async function claimRecording(redisUrl: string, jobId: string, workerId: string): Promise<boolean> {
  const queue = new Queue(TASK_QUEUE, { connection: redisConnection(redisUrl, 'commands') });
  queue.on('error', () => undefined);
  try {
    const client = (await queue.client) as unknown as { set(key: string, value: string, ex: 'EX', seconds: number, nx: 'NX'): Promise<string | null> };
    return (await client.set(`${jobRecordKey(jobId)}:recorded-by`, workerId, 'EX', KEEP_SECONDS, 'NX')) === 'OK';
  } finally {
    await queue.close();
  }
}
