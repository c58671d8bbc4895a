/**
 * `vidpipe transcode --queue redis://…`: the job runs as usual (src/job/run-job.ts): its probe,
 * plan and metadata nodes here, every other node on `vidpipe worker` processes. This module is
 * that runner: it runs what must run here with runDag, sends the nodes that wait for workers as a
 * BullMQ flow (see tree.ts), turns the queue's events back into the same task events a local run
 * emits (so the reporters and the SQLite task rows work unchanged), and goes on with what the
 * flow's results make possible. An input that must be copied into Matroska first takes two
 * flows: the copy (a worker's intermediate file, like a chunk), then the rest once it is planned.
 */
import { FlowProducer, Job, Queue, QueueEvents, type FlowJob } from 'bullmq';
import { relative, sep } from 'node:path';
import { extendDag, runDag, tasksAdded, type Dag, type DagEvent, type DagRunResult, type RunDagOptions, type DagTask } from '../core/dag.js';
import { VidpipeError, toVidpipeError } from '../errors.js';
import { sentState, shareableJobOptions } from '../job/job-options.js';
import { NodeResultsView, kindSpec, node } from '../job/nodes.js';
import type { GraphRunner, RemoteJob } from '../job/run-job.js';
import { isShared, locationBelow, portableConfig } from '../storage/backends.js';
import { parseLocation } from '../storage/index.js';
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
  /** The root task of the last flow sent. */
  root: string;
  /** The last flow has been sent (false while an input's copy runs before the job is planned). */
  complete?: boolean;
  /** The submitter does not follow the job (`--detach`): a worker with a database records its end (record-ended.ts). */
  detached?: boolean;
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

/** Workers on other machines must reach the source and the destination: both must be on shared storage (S3). */
export function assertQueueable(inputs: string[], out: string): void {
  const local = [...inputs.filter((i) => !isShared(i)), ...(isShared(out) ? [] : [`--out ${out}`])];
  if (local.length > 0) {
    throw new VidpipeError('USAGE', `--queue needs the inputs and --out on S3, where every worker can reach them; local: ${local.join(', ')}`, {
      hint: 'upload the source (aws s3 cp talk.mp4 s3://bucket/in/) and use --out s3://bucket/prefix',
    });
  }
}

export function workPrefixOf(out: string, jobId: string): string {
  const location = parseLocation(out);
  if (!isShared(location)) throw new VidpipeError('USAGE', `--out ${out} is not on S3`);
  return locationBelow(location, `.vidpipe-work/${jobId}`).text;
}

export interface QueueRunnerOptions {
  redisUrl: string;
  /** Return once the last flow is queued instead of following it. */
  detach: boolean;
}

/** The `runner` of a JobRequest that sends the graph's nodes to the queue. */
export function queueRunner(options: QueueRunnerOptions): GraphRunner {
  return (dag, runOptions, job) => runOnQueue(dag, runOptions, job, options);
}

/** Nodes that must run in this process: they own the input, the SQLite file (NODE_KINDS' `runsOn`). */
const runsHere = (task: DagTask) => kindSpec(task.kind).runsOn === 'submitter';

async function runOnQueue(dag: Dag, runOptions: RunDagOptions, job: RemoteJob, options: QueueRunnerOptions): Promise<DagRunResult> {
  const { jobId } = job.options;
  const emit = (event: DagEvent) => runOptions.onEvent?.(event);
  const workPrefix = workPrefixOf(job.options.out, jobId);
  const done = new Map<string, unknown>();
  /** The copy of the input a prepare-source task uploaded, which the later tasks read. */
  let sourceUri: string | undefined;
  await assertRedisReachable(options.redisUrl);
  const queue = new Queue<TaskJobData, TaskOutput>(TASK_QUEUE, { connection: redisConnection(options.redisUrl, 'commands') });
  const events = new QueueEvents(TASK_QUEUE, { connection: redisConnection(options.redisUrl, 'blocking') });
  const flows = new FlowProducer({ connection: redisConnection(options.redisUrl, 'commands') });
  // Connection errors are retried by ioredis; unhandled they would crash the CLI.
  queue.on('error', () => undefined);
  events.on('error', () => undefined);
  flows.on('error', () => undefined);
  const record: QueuedJobRecord = { jobId, input: job.options.input, out: job.options.out, submittedAt: new Date().toISOString(), root: '', ...(options.detach ? { detached: true } : {}), tasks: [] };

  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), flows.waitUntilReady()]);
    for (;;) {
      // What can run here runs here; it stops where the rest waits for workers.
      const { results, waiting } = await runDag(dag, { ...runOptions, given: done, runsHere });
      for (const [id, value] of results) done.set(id, value);
      const remote = waiting.map((id) => dag.get(id)!).filter((task) => !runsHere(task));
      if (remote.length === 0) return { results: done, waiting };

      const tree = buildFlowTree(remote.map((task) => ({ id: task.id, kind: task.kind, label: task.label, dependsOn: task.dependsOn })), new Set());
      const byTask = new Map(flattenTree(tree).map((n) => [n.id, n]));
      const spec: QueuedJobSpec = {
        // Secret settings never travel: a worker reads its own (withOwnSecrets in worker.ts).
        options: shareableJobOptions(job.options),
        state: sentState(job.state()),
        files: { input: job.options.input, ...(sourceUri ? { source: sourceUri } : {}) },
        name: job.options.package.name,
        storage: portableConfig(job.storage ?? {}),
        workPrefix,
      };
      record.root = tree.id;
      record.complete = remote.some((task) => task.id === node.publish.id);
      record.tasks.push(...flattenTree(tree).map((n) => ({ id: n.id, nodes: n.nodes, dependsOn: n.children.map((c) => c.id) })));
      await (await redisOf(queue)).set(jobRecordKey(jobId), JSON.stringify(record), 'EX', KEEP_SECONDS);

      // Nothing but the metadata is left for this process after this flow: a detached job ends here.
      if (options.detach && remote.some((task) => task.id === node.publish.id)) {
        await flows.add(toFlowJob(tree, spec));
        job.markQueued();
        return { results: done, waiting };
      }
      const finished = follow(events, queue, jobId, byTask, job, emit, runOptions.signal);
      await flows.add(toFlowJob(tree, spec));
      let output: TaskOutput;
      try {
        output = await finished;
      } catch (error) {
        await removeUnstarted(queue, jobId, byTask);
        await deletePrefix(job.storage ?? {}, workPrefix).catch(() => undefined);
        throw error;
      }
      // Every node of the flow is done; nodes no other task read have no result here.
      for (const task of remote) done.set(task.id, output.results[task.id]);
      const copy = new NodeResultsView(new Map(Object.entries(output.results))).find(node.prepareSource);
      if (copy) sourceUri = uriOfTaskFile(output, copy.path);
      for (const task of remote) {
        const growth = await runOptions.grow?.(task, done.get(task.id), runOptions.signal ?? new AbortController().signal);
        if (growth) emit(tasksAdded(extendDag(dag, growth), growth));
      }
    }
  } finally {
    await Promise.allSettled([events.close(), flows.close(), queue.close()]);
  }
}

/** The s3:// copy of a file a task wrote (one of its results' paths). */
function uriOfTaskFile(output: TaskOutput, path: string): string {
  const rel = relative(output.root, path).split(sep).join('/');
  const file = output.workFiles.find((f) => f.rel === rel);
  if (!file) throw new VidpipeError('INTERNAL', `task ${output.taskId} did not upload ${rel}`);
  return file.uri;
}

function toFlowJob(treeNode: TreeNode, spec: QueuedJobSpec): FlowJob {
  return {
    name: treeNode.id,
    queueName: TASK_QUEUE,
    data: { spec, taskId: treeNode.id, nodes: treeNode.nodes } satisfies TaskJobData,
    opts: {
      jobId: taskJobId(spec.options.jobId, treeNode.id),
      attempts: TASK_ATTEMPTS,
      backoff: { type: 'exponential', delay: RETRY_DELAY_MS },
      failParentOnFailure: true,
      removeOnComplete: { age: KEEP_SECONDS },
      removeOnFail: { age: KEEP_SECONDS },
    },
    children: treeNode.children.map((child) => toFlowJob(child, spec)),
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
  job: RemoteJob,
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
  /**
   * Who ran a task and how often, from the queue, for a task whose progress messages were missed
   * (a short first task can end before the events stream is read: the stream starts at its end).
   */
  const recordRunner = async (task: TreeNode) => {
    if (attempts.has(task.id)) return;
    const taskJob = await Job.fromId<TaskJobData, TaskOutput>(queue, taskJobId(jobId, task.id)).catch(() => undefined);
    const progress = taskJob?.progress as TaskProgress | number | undefined;
    const worker = (typeof progress === 'object' && progress?.worker) || taskJob?.processedBy;
    if (!taskJob || !worker || attempts.has(task.id)) return;
    const attempt = Math.max(taskJob.attemptsStarted, taskJob.attemptsMade);
    attempts.set(task.id, attempt);
    for (const node of task.nodes) job.updateTask(node, { worker, attempts: attempt });
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
        await Promise.all([...byTask.values()].map((task) => recordRunner(task)));
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
      void recordRunner(task)
        .then(() => {
          succeed(task);
          if (id === rootJobId) return finishRoot();
        })
        .catch((error: unknown) => settle(error));
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

/** The reason BullMQ gives a task it failed because its workers kept dying (moveStalledJobsToWait). */
const STALLED_OUT = 'job stalled more than allowable limit';

/**
 * The worker's structured error from the job log, else the reason BullMQ kept. A task BullMQ failed
 * after its stalls has no error of its own (no worker lived to log one; an earlier attempt's line
 * would be the wrong story): WORKER_LOST.
 */
export async function taskError(queue: Queue, bullJobId: string, taskId: string, reason: string): Promise<VidpipeError> {
  const job = await Job.fromId(queue, bullJobId).catch(() => undefined);
  if (reason === STALLED_OUT) {
    const lost = job ? ` ${job.stalledCounter} times` : '';
    return new VidpipeError('WORKER_LOST', `task ${taskId} failed: the worker running it stopped answering${lost} (killed, out of memory, or cut off from Redis)`, {
      hint: 'look for the dead workers in their logs or the kernel log (dmesg: oom-kill); run the job again once the workers stay up',
    });
  }
  const { logs } = await queue.getJobLogs(bullJobId).catch(() => ({ logs: [] as string[] }));
  const line = logs.filter((l) => l.startsWith(ERROR_LOG_PREFIX)).at(-1);
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
