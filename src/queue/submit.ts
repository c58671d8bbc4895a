/**
 * `vidpipe transcode --queue redis://…`: the job is probed, planned and recorded here as usual
 * (src/core/transcode.ts), then its graph runs on `vidpipe worker` processes instead of in this
 * process. This module is that runner: it turns the graph into a BullMQ flow (see tree.ts), turns
 * the queue's events back into the same task events a local run emits (so the reporters and the
 * SQLite task rows work unchanged), and runs the local-only nodes (metadata) at the end.
 */
import { FlowProducer, Job, Queue, QueueEvents, type FlowJob } from 'bullmq';
import type { Dag, DagEvent, RunDagOptions, DagRunResult } from '../core/dag.js';
import { VidpipeError, toVidpipeError } from '../errors.js';
import type { RunnerJob } from '../core/transcode.js';
import { formatS3Uri, isS3Uri, parseLocation } from '../storage/uri.js';
import {
  ERROR_LOG_PREFIX,
  RETRY_DELAY_MS,
  TASK_ATTEMPTS,
  TASK_QUEUE,
  fromTaskError,
  taskJobId,
  type QueuedJobSpec,
  type TaskError,
  type TaskJobData,
  type TaskOutput,
  type TaskProgress,
} from './protocol.js';
import { assertRedisReachable, redisConnection } from './connection.js';
import { buildFlowTree, flattenTree, type TreeNode } from './tree.js';
import { deletePrefix } from './worker.js';

/** Kept in Redis next to the tasks so `vidpipe status` can find them without the submitting machine. */
export interface QueuedJobRecord {
  jobId: string;
  input: string;
  out: string;
  submittedAt: string;
  root: string;
  tasks: { id: string; nodes: string[]; dependsOn: string[] }[];
}

/** Finished task jobs and job records stay this long (for `vidpipe status`). */
export const KEEP_SECONDS = 7 * 24 * 3600;
const POLL_MS = 1000;

export function jobRecordKey(jobId: string): string {
  return `vidpipe:job:${jobId}`;
}

/** The ioredis client BullMQ opened (its type is a union over the clients BullMQ supports). */
export async function redisOf(queue: Queue): Promise<{
  set(key: string, value: string, mode: 'EX', seconds: number): Promise<unknown>;
  get(key: string): Promise<string | null>;
}> {
  return (await queue.client) as never;
}

/** Workers on other machines must reach the source and the destination: both must be on S3. */
export function assertQueueable(inputs: string[], out: string): void {
  const local = [...inputs.filter((i) => !isS3Uri(i)), ...(isS3Uri(out) ? [] : [`--out ${out}`])];
  if (local.length > 0) {
    throw new VidpipeError('USAGE', `--queue needs the inputs and --out on S3, where every worker can reach them; local: ${local.join(', ')}`, {
      hint: 'upload the source (aws s3 cp talk.mp4 s3://bucket/in/) and use --out s3://bucket/prefix',
    });
  }
}

export function workPrefixOf(out: string, jobId: string): string {
  const location = parseLocation(out);
  if (location.kind !== 's3') throw new VidpipeError('USAGE', `--out ${out} is not on S3`);
  return formatS3Uri(location.bucket, `${location.prefix}.vidpipe-work/${jobId}/`);
}

export interface QueueRunnerOptions {
  redisUrl: string;
  /** Return once the flow is queued instead of following it. */
  detach: boolean;
}

/** The `runner` of a TranscodeRequest that sends the graph to the queue. */
export function queueRunner(options: QueueRunnerOptions) {
  return (job: RunnerJob) =>
    (dag: Dag, runOptions: RunDagOptions): Promise<DagRunResult> =>
      runOnQueue(dag, runOptions, job, options);
}

async function runOnQueue(dag: Dag, runOptions: RunDagOptions, job: RunnerJob, options: QueueRunnerOptions): Promise<DagRunResult> {
  const { jobId, request } = job;
  const emit = (event: DagEvent) => runOptions.onEvent?.(event);
  const tasks = dag.describe();
  const local = new Set(tasks.filter((t) => t.kind === 'metadata').map((t) => t.id));
  const tree = buildFlowTree(tasks, local);
  const byTask = new Map(flattenTree(tree).map((node) => [node.id, node]));
  const spec: QueuedJobSpec = {
    jobId,
    input: request.input,
    out: request.out,
    name: job.name,
    package: job.package,
    s3: { endpoint: request.s3?.endpoint, region: request.s3?.region },
    // ffprobe's raw JSON is only for the metadata record, which stays here.
    probe: { ...job.probe, raw: null },
    plan: job.plan,
    preset: request.settings.preset,
    av1Encoder: job.av1Encoder,
    thumbnails: request.thumbnails,
    stallTimeoutMs: request.stallTimeoutMs,
    workPrefix: workPrefixOf(request.out, jobId),
  };
  await assertRedisReachable(options.redisUrl);
  const queue = new Queue<TaskJobData, TaskOutput>(TASK_QUEUE, { connection: redisConnection(options.redisUrl, 'commands') });
  const events = options.detach ? undefined : new QueueEvents(TASK_QUEUE, { connection: redisConnection(options.redisUrl, 'blocking') });
  const flows = new FlowProducer({ connection: redisConnection(options.redisUrl, 'commands') });
  // Connection errors are retried by ioredis; unhandled they would crash the CLI.
  queue.on('error', () => undefined);
  events?.on('error', () => undefined);
  flows.on('error', () => undefined);
  const cleanupWork = () => {
    return deletePrefix(request.s3 ?? {}, spec.workPrefix).catch(() => undefined);
  };

  try {
    await Promise.all([queue.waitUntilReady(), events?.waitUntilReady(), flows.waitUntilReady()]);
    const record: QueuedJobRecord = {
      jobId,
      input: request.input,
      out: request.out,
      submittedAt: new Date().toISOString(),
      root: tree.id,
      tasks: flattenTree(tree).map((n) => ({ id: n.id, nodes: n.nodes, dependsOn: n.children.map((c) => c.id) })),
    };
    await (await redisOf(queue)).set(jobRecordKey(jobId), JSON.stringify(record), 'EX', KEEP_SECONDS);

    const finished = events ? follow(events, queue, jobId, byTask, job, emit, runOptions.signal) : undefined;
    await flows.add(toFlowJob(tree, spec));
    if (!finished) {
      job.markQueued();
      return { results: new Map() };
    }

    let output: TaskOutput;
    try {
      output = await finished;
    } catch (error) {
      await removeUnstarted(queue, jobId, byTask);
      await cleanupWork();
      throw error;
    }
    const results = new Map<string, unknown>(Object.entries(output.results));
    for (const node of dag.topologicalOrder().filter((t) => local.has(t.id))) {
      emit({ type: 'task-start', id: node.id, at: Date.now() });
      try {
        const value = await node.run(results, runOptions.signal ?? new AbortController().signal);
        results.set(node.id, value);
        emit({ type: 'task-succeeded', id: node.id, at: Date.now(), result: value });
      } catch (error) {
        emit({ type: 'task-failed', id: node.id, at: Date.now(), error: toVidpipeError(error) });
        throw error;
      }
    }
    return { results };
  } finally {
    await Promise.allSettled([events?.close(), flows.close(), queue.close()]);
  }
}

function toFlowJob(node: TreeNode, spec: QueuedJobSpec): FlowJob {
  return {
    name: node.id,
    queueName: TASK_QUEUE,
    data: { spec, taskId: node.id, nodes: node.nodes } satisfies TaskJobData,
    opts: {
      jobId: taskJobId(spec.jobId, node.id),
      attempts: TASK_ATTEMPTS,
      backoff: { type: 'exponential', delay: RETRY_DELAY_MS },
      failParentOnFailure: true,
      removeOnComplete: { age: KEEP_SECONDS },
      removeOnFail: { age: KEEP_SECONDS },
    },
    children: node.children.map((child) => toFlowJob(child, spec)),
  };
}

/**
 * Turns queue events of this job's tasks into DAG events of their nodes and resolves with the
 * root task's output, or rejects with the first task failure. Redis streams can drop events for
 * a client that reconnects, so the root's state is also polled.
 */
function follow(
  events: QueueEvents,
  queue: Queue<TaskJobData, TaskOutput>,
  jobId: string,
  byTask: Map<string, TreeNode>,
  job: RunnerJob,
  emit: (event: DagEvent) => void,
  signal: AbortSignal | undefined,
): Promise<TaskOutput> {
  const prefix = `${jobId}-`;
  const taskOf = (id: string) => (id.startsWith(prefix) ? byTask.get(id.slice(prefix.length)) : undefined);
  const started = new Set<string>();
  const done = new Set<string>();
  const attempts = new Map<string, number>();
  let root: TreeNode | undefined;
  for (const node of byTask.values()) if (![...byTask.values()].some((n) => n.children.includes(node))) root = node;
  const rootJobId = taskJobId(jobId, root!.id);

  const start = (task: TreeNode) => {
    if (started.has(task.id)) return;
    started.add(task.id);
    for (const node of task.nodes) emit({ type: 'task-start', id: node, at: Date.now() });
  };
  const succeed = (task: TreeNode) => {
    if (done.has(task.id)) return;
    start(task);
    done.add(task.id);
    for (const node of task.nodes) emit({ type: 'task-succeeded', id: node, at: Date.now(), result: undefined });
  };

  return new Promise<TaskOutput>((resolve, reject) => {
    let settled = false;
    const settle = (error: unknown, output?: TaskOutput) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      for (const name of ['active', 'progress', 'completed', 'failed'] as const) events.removeAllListeners(name);
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(output!);
    };
    const failWith = async (task: TreeNode, reason: string) => {
      const error = await taskError(queue, taskJobId(jobId, task.id), task.id, reason);
      start(task);
      for (const node of task.nodes) emit({ type: 'task-failed', id: node, at: Date.now(), error });
      settle(error);
    };
    const finishRoot = async () => {
      const rootJob = await Job.fromId<TaskJobData, TaskOutput>(queue, rootJobId);
      const state = rootJob ? await rootJob.getState() : 'unknown';
      if (state === 'completed' && rootJob) {
        for (const task of byTask.values()) succeed(task);
        settle(undefined, rootJob.returnvalue);
      } else if (state === 'failed' && rootJob) {
        // The task whose own failure failed the job: not one failed only because a child did.
        for (const task of byTask.values()) {
          const taskJob = await Job.fromId(queue, taskJobId(jobId, task.id));
          if (taskJob && (await taskJob.getState()) === 'failed' && !taskJob.failedReason.startsWith('child ')) {
            return failWith(task, taskJob.failedReason);
          }
        }
        return failWith(root!, rootJob.failedReason);
      } else if (state === 'unknown') {
        settle(new VidpipeError('STORAGE_FAILED', `job ${jobId} vanished from the queue (Redis flushed?)`));
      }
    };
    const onAbort = () => settle(new VidpipeError('INTERRUPTED', 'interrupted; tasks already running on workers finish, the rest were removed'));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();

    events.on('active', ({ jobId: id }) => {
      const task = taskOf(id);
      if (task) start(task);
    });
    events.on('progress', ({ jobId: id, data }) => {
      const task = taskOf(id);
      const progress = data as TaskProgress;
      if (!task || typeof progress !== 'object' || progress === null) return;
      start(task);
      if (attempts.get(task.id) !== progress.attempt) {
        attempts.set(task.id, progress.attempt);
        for (const node of task.nodes) job.updateTask(node, { status: 'running', attempts: progress.attempt, worker: progress.worker, startedAt: new Date() });
      }
      for (const node of task.nodes) emit({ type: 'task-progress', id: node, fraction: progress.fraction, etaSeconds: progress.etaSeconds });
    });
    events.on('completed', ({ jobId: id }) => {
      const task = taskOf(id);
      if (!task) return;
      succeed(task);
      if (id === rootJobId) void finishRoot().catch((error: unknown) => settle(error));
    });
    events.on('failed', ({ jobId: id, failedReason }) => {
      const task = taskOf(id);
      // A parent failing because its child did is reported through the child.
      if (task && !failedReason.startsWith('child ')) void failWith(task, failedReason).catch((error: unknown) => settle(error));
      else if (id === rootJobId) void finishRoot().catch((error: unknown) => settle(error));
    });
    const timer = setInterval(() => void finishRoot().catch(() => undefined), POLL_MS);
  });
}

/** The worker's structured error from the job log, else the reason BullMQ kept. */
async function taskError(queue: Queue, bullJobId: string, taskId: string, reason: string): Promise<VidpipeError> {
  const { logs } = await queue.getJobLogs(bullJobId).catch(() => ({ logs: [] as string[] }));
  const line = logs.filter((l) => l.startsWith(ERROR_LOG_PREFIX)).at(-1);
  const job = await Job.fromId(queue, bullJobId).catch(() => undefined);
  const tries = job ? ` (attempt ${job.attemptsMade} of ${job.opts.attempts ?? 1})` : '';
  if (line) {
    const error = fromTaskError(JSON.parse(line.slice(ERROR_LOG_PREFIX.length)) as TaskError);
    return new VidpipeError(error.code, `task ${taskId} failed${tries}: ${error.message}`, { hint: error.hint, stderrTail: error.stderrTail });
  }
  return new VidpipeError('FFMPEG_FAILED', `task ${taskId} failed${tries}: ${reason}`);
}

/** After a failure the job's tasks that have not started would only waste workers. */
async function removeUnstarted(queue: Queue, jobId: string, byTask: Map<string, TreeNode>): Promise<void> {
  for (const task of byTask.values()) {
    const taskJob = await Job.fromId(queue, taskJobId(jobId, task.id)).catch(() => undefined);
    const state = await taskJob?.getState().catch(() => 'unknown');
    if (taskJob && (state === 'waiting' || state === 'delayed' || state === 'waiting-children' || state === 'prioritized')) {
      await taskJob.remove({ removeChildren: false }).catch(() => undefined);
    }
  }
}
