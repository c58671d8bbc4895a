/**
 * A `--detach`ed job's end, recorded by a worker (`vidpipe worker --db`): its submitter did not
 * wait, so the worker whose task ended the job (the last flow's root completed, or a task failed
 * for good) writes what the submitter's metadata node would have, through `recordEndedJob`, the
 * same function `vidpipe status <job> --db` uses. Exactly one writer: of the workers that see the
 * job ended (two tasks failing for good together), only the one that takes the job's claim in
 * Redis writes; and `recordEndedJob` leaves a job alone that is no longer running in the database.
 *
 * Nothing is lost when that writer fails: the claim is a lease (RECORDING_LEASE_SECONDS), given
 * back at once when the write throws (the database was down), and every `worker --db` sweeps the
 * jobs its database still says are running (`recordEndedDetachedJobs`, at start and every
 * minute), so a job whose recorder died mid-write, or whose workers had no --db, is recorded by
 * the next worker --db that looks.
 */
import { Queue } from 'bullmq';
import type { MetadataStore } from '../db/metadata-store.js';
import { recordEndedJob } from '../job/records.js';
import { redisConnection } from './connection.js';
import { TASK_QUEUE } from './protocol.js';
import { endedJobOf, readQueuedJob } from './status.js';
import { isVidpipeError } from '../errors.js';
import { jobRecordKey } from './submit.js';

/** How long a recording claim keeps others off: far longer than a write, short enough that a dead recorder's job is taken over. */
export const RECORDING_LEASE_SECONDS = 300;

/** What became of a job's end when a worker looked: recorded here, or why not. */
export type EndedJobRecording = 'recorded' | 'not-detached' | 'not-ended' | 'taken' | 'not-running';

/** Records the end of job `jobId` in `db` when it was submitted with `--detach` and has ended; see the file comment. */
export async function recordDetachedJobEnd(redisUrl: string, jobId: string, db: MetadataStore, workerId: string): Promise<EndedJobRecording> {
  const reading = await readQueuedJob(redisUrl, jobId);
  if (!reading.detached) return 'not-detached';
  const ended = endedJobOf(reading);
  if (!ended) return 'not-ended';
  if (!(await claimRecording(redisUrl, jobId, workerId))) return 'taken';
  try {
    return (await recordEndedJob(db, ended)) ? 'recorded' : 'not-running';
  } catch (error) {
    // The next sweep (this worker's or another's) tries again instead of waiting out the lease.
    await releaseRecording(redisUrl, jobId, workerId).catch(() => undefined);
    throw error;
  }
}

/**
 * Records every detached job that `db` still says is running and that has ended on this queue;
 * returns the ids it recorded. Jobs of other queues, or run without one, are left alone; a job
 * that cannot be read or written now is logged through `onError` and left for the next sweep.
 */
export async function recordEndedDetachedJobs(redisUrl: string, db: MetadataStore, workerId: string, onError: (jobId: string, error: Error) => void): Promise<string[]> {
  const recorded: string[] = [];
  for (const jobId of await db.runningJobIds()) {
    try {
      if ((await recordDetachedJobEnd(redisUrl, jobId, db, workerId)) === 'recorded') recorded.push(jobId);
    } catch (error) {
      if (isVidpipeError(error) && error.code === 'NOT_FOUND') continue;
      onError(jobId, error as Error);
    }
  }
  return recorded;
}

interface ClaimClient {
  set(key: string, value: string, ex: 'EX', seconds: number, nx: 'NX'): Promise<string | null>;
  eval(script: string, keys: number, key: string, value: string): Promise<unknown>;
}

async function withClaimClient<T>(redisUrl: string, use: (client: ClaimClient) => Promise<T>): Promise<T> {
  const queue = new Queue(TASK_QUEUE, { connection: redisConnection(redisUrl, 'commands') });
  queue.on('error', () => undefined);
  try {
    return await use((await queue.client) as unknown as ClaimClient);
  } finally {
    await queue.close();
  }
}

const claimKey = (jobId: string) => `${jobRecordKey(jobId)}:recorded-by`;

/** Takes the job's one recording claim (SET NX): true for exactly one caller until the lease runs out. */
async function claimRecording(redisUrl: string, jobId: string, workerId: string): Promise<boolean> {
  return withClaimClient(redisUrl, async (client) => (await client.set(claimKey(jobId), workerId, 'EX', RECORDING_LEASE_SECONDS, 'NX')) === 'OK');
}

/** Gives the claim back if this worker still holds it (compare and delete in one step). */
async function releaseRecording(redisUrl: string, jobId: string, workerId: string): Promise<void> {
  await withClaimClient(redisUrl, (client) =>
    client.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, claimKey(jobId), workerId),
  );
}
