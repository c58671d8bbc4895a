import { Job, Queue } from 'bullmq';
import { VidpipeError } from '../errors.js';
import { locationBelow, uriBelow } from '../storage/backends.js';
import { parseLocation } from '../storage/index.js';
import { NodeResultsView, node } from '../job/nodes.js';
import type { EndedElsewhere } from '../job/records.js';
import { TASK_QUEUE, taskJobId, type QueuedJobSpec, type TaskJobData, type TaskOutput, type TaskProgress } from './protocol.js';
import { assertRedisReachable, displayRedisUrl, redisConnection } from './connection.js';
import { jobRecordKey, redisOf, taskError, type QueuedJobRecord } from './submit.js';

export type QueuedTaskState = 'waiting' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'removed';

export interface QueuedTaskStatus {
  id: string;
  /** DAG nodes the task runs. */
  nodes: string[];
  state: QueuedTaskState;
  attempts: number;
  worker: string | null;
  progress: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

export interface QueuedJobStatus {
  jobId: string;
  input: string;
  out: string;
  submittedAt: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  tasks: QueuedTaskStatus[];
  /** Once succeeded: where the manifests are. */
  outputs?: { root: string; hls: string; dash: string };
  error?: string;
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

function taskState(state: string, job: Job): QueuedTaskState {
  if (state === 'completed') return 'succeeded';
  if (state === 'failed') return 'failed';
  if (state === 'active') return 'running';
  if (state === 'delayed' && job.attemptsMade > 0) return 'retrying';
  if (state === 'unknown') return 'removed';
  return 'waiting';
}

/** A queued job as Redis holds it: its status, and once it ended, the spec its last flow was sent with and that flow's output. */
export interface QueuedJobReading {
  status: QueuedJobStatus;
  spec?: QueuedJobSpec;
  /** The last flow's root task's output: every node's results (what the metadata records). */
  output?: TaskOutput;
  /** Once failed: the failing task's error as its worker reported it (code, message). */
  failure?: VidpipeError;
  /** Submitted with `--detach`: no submitter records its end. */
  detached: boolean;
}

/** Reads a queued job's state from Redis: what `vidpipe status <job>` shows. */
export async function queuedJobStatus(redisUrl: string, jobId: string): Promise<QueuedJobStatus> {
  return (await readQueuedJob(redisUrl, jobId)).status;
}

export async function readQueuedJob(redisUrl: string, jobId: string): Promise<QueuedJobReading> {
  await assertRedisReachable(redisUrl);
  const queue = new Queue<TaskJobData, TaskOutput>(TASK_QUEUE, { connection: redisConnection(redisUrl, 'commands') });
  queue.on('error', () => undefined);
  try {
    await queue.waitUntilReady();
    const text = await (await redisOf(queue)).get(jobRecordKey(jobId));
    if (!text) {
      throw new VidpipeError('NOT_FOUND', `no queued job ${jobId} in ${displayRedisUrl(redisUrl)}`, {
        hint: 'job ids are printed by `vidpipe transcode --queue … --detach`; finished jobs are kept for 7 days',
      });
    }
    const record = JSON.parse(text) as QueuedJobRecord;
    const tasks: QueuedTaskStatus[] = [];
    let rootJob: Job<TaskJobData, TaskOutput> | undefined;
    let firstError: string | undefined;
    let failed: { id: string; reason: string } | undefined;
    for (const task of record.tasks) {
      const job = await Job.fromId<TaskJobData, TaskOutput>(queue, taskJobId(jobId, task.id));
      const state = job ? taskState(await job.getState(), job) : 'removed';
      if (task.id === record.root) rootJob = job;
      const progress = job?.progress as TaskProgress | number | undefined;
      const error = job?.failedReason || null;
      if (state === 'failed' && error && !error.startsWith('child ')) {
        firstError ??= `task ${task.id}: ${error}`;
        failed ??= { id: task.id, reason: error };
      }
      tasks.push({
        id: task.id,
        nodes: task.nodes,
        state,
        attempts: job ? Math.max(job.attemptsStarted, job.attemptsMade) : 0,
        worker: (typeof progress === 'object' && progress?.worker) || job?.processedBy || null,
        progress: state === 'succeeded' ? 1 : typeof progress === 'object' && progress ? progress.fraction : 0,
        startedAt: iso(job?.processedOn),
        finishedAt: state === 'succeeded' || state === 'failed' ? iso(job?.finishedOn) : null,
        error: state === 'succeeded' ? null : error,
      });
    }
    // Until its last flow was sent, a job whose root task succeeded is still running (an input's copy before the encodes).
    const rootState = tasks.find((t) => t.id === record.root)?.state;
    const status =
      rootState === 'succeeded' && record.complete !== false ? 'succeeded'
      : rootState === 'failed' || firstError ? 'failed'
      : tasks.some((t) => t.state !== 'waiting') ? 'running'
      : 'queued';
    const result: QueuedJobStatus = { jobId, input: record.input, out: record.out, submittedAt: record.submittedAt, status, tasks };
    if (status === 'succeeded' && rootJob) {
      const location = parseLocation(record.out);
      // The publish task chose the final package name (it differs from the submitter's if another video took that one meanwhile).
      const name = new NodeResultsView(new Map(Object.entries(rootJob.returnvalue?.results ?? {}))).find(node.publish)?.name ?? rootJob.data.spec.name;
      const root = locationBelow(location, name);
      result.outputs = { root: root.text, hls: uriBelow(root, 'master.m3u8'), dash: uriBelow(root, 'manifest.mpd') };
    }
    if (status === 'failed') result.error = firstError ?? tasks.find((t) => t.id === record.root)?.error ?? 'failed';
    const failure = status === 'failed' && failed ? await taskError(queue, taskJobId(jobId, failed.id), failed.id, failed.reason) : undefined;
    return {
      status: result,
      detached: record.detached === true,
      ...(rootJob ? { spec: rootJob.data.spec } : {}),
      ...(status === 'succeeded' && rootJob?.returnvalue ? { output: rootJob.returnvalue } : {}),
      ...(failure ? { failure } : {}),
    };
  } finally {
    await queue.close();
  }
}

export function formatQueuedJobStatus(status: QueuedJobStatus): string {
  const done = status.tasks.filter((t) => t.state === 'succeeded').length;
  const lines = [`${status.jobId}: ${status.status} (${done}/${status.tasks.length} tasks) — ${status.input} → ${status.out}`];
  for (const t of status.tasks) {
    const pct = t.state === 'running' ? ` ${Math.round(t.progress * 100)}%` : '';
    const who = t.worker ? ` on ${t.worker}` : '';
    const tries = t.attempts > 1 ? ` (attempt ${t.attempts})` : '';
    lines.push(`  ${t.id.padEnd(28)} ${t.state}${pct}${who}${tries}${t.error && t.state !== 'succeeded' ? ` — ${t.error}` : ''}`);
  }
  if (status.outputs) lines.push(`  HLS:  ${status.outputs.hls}`, `  DASH: ${status.outputs.dash}`);
  if (status.error) lines.push(`  error: ${status.error}`);
  return lines.join('\n');
}

/** What the submitting machine's database records of a queued job that has ended (undefined while it runs). */
export function endedJobOf(reading: QueuedJobReading): EndedElsewhere | undefined {
  const { status, spec } = reading;
  if ((status.status !== 'succeeded' && status.status !== 'failed') || !spec?.state.plan || !spec.state.source) return undefined;
  const finishedAt = status.tasks.map((t) => t.finishedAt).filter((t): t is string => t !== null).sort().at(-1) ?? new Date().toISOString();
  return {
    options: spec.options,
    plan: spec.state.plan,
    source: spec.state.source,
    ...(reading.output ? { results: reading.output.results } : {}),
    ...(status.error ? { error: { code: reading.failure?.code ?? 'FFMPEG_FAILED', message: reading.failure?.message ?? status.error } } : {}),
    nodes: status.tasks.flatMap((task) =>
      task.nodes.map((id) => ({
        id,
        status: task.state === 'succeeded' ? ('succeeded' as const) : task.state === 'failed' ? ('failed' as const) : ('cancelled' as const),
        worker: task.worker,
        attempts: task.attempts,
        startedAt: task.startedAt,
        finishedAt: task.finishedAt,
        error: task.error,
      })),
    ),
    submittedAt: status.submittedAt,
    finishedAt,
  };
}
