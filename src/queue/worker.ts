/**
 * `vidpipe worker`: runs the tasks of queued jobs. A task is one or more nodes of the job's
 * graph, built by the same builder (src/job/graph.ts) from the plan and options the submitter
 * sent, run by the same runDag and stage functions as a local transcode, in a folder of its own: the inputs (source, children's files) are downloaded from S3, the outputs
 * uploaded below `<out>/.vidpipe-work/<job>/<task>/<attempt>/`. The attempt's keys are unique,
 * so two runs of one task (a stalled job picked up while the first run still writes) never
 * touch each other's files; the task's return value, which BullMQ keeps only for the attempt
 * that completed it, is what commits an attempt's files to the job.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Dag, runDag } from '../core/dag.js';
import { VidpipeError, toVidpipeError } from '../errors.js';
import type { FfmpegBinaries } from '../ffmpeg/binaries.js';
import { buildJobGraph, stageContexts, type JobEnvironment } from '../job/graph.js';
import { receivedState } from '../job/job-options.js';
import { kindSpec, node, recalledResults } from '../job/nodes.js';
import { withOwnSecrets } from '../settings/job-settings.js';
import { objectHeadersFor } from '../storage/content-types.js';
import { connectTo, workerConfig } from '../storage/backends.js';
import { fetchInput, openStore, parseLocation, type FetchedInput, type StorageConfig } from '../storage/index.js';
import { putFiles, type ObjectStore } from '../storage/object-store.js';
import { forEachLimit } from '../storage/package-files.js';
import { assertRedisReachable, redisConnection } from './connection.js';
import {
  ERROR_LOG_PREFIX,
  TASK_QUEUE,
  pathsBelow,
  rebasePaths,
  toTaskError,
  type QueuedJobSpec,
  type TaskFile,
  type TaskJobData,
  type TaskOutput,
  type TaskProgress,
} from './protocol.js';

/** What a worker process runs with, resolved from `vidpipe worker`'s options (`WorkerOptions`) and the environment. */
export interface WorkerConfig {
  redisUrl: string;
  /** Tasks run at once by this process. */
  concurrency: number;
  binaries: FfmpegBinaries;
  /** This machine's storage settings (S3 endpoint …); they win over the submitter's. */
  storage: StorageConfig;
  /** Local folder for downloads and task outputs. */
  workRoot: string;
  /** How long a task's lock lives without renewal: a killed worker's task is retried after about this long. */
  lockDurationMs: number;
  log: (line: string) => void;
  /**
   * Called after a task of this worker may have ended its job (a flow's root task completed, or a
   * task failed for good): `vidpipe worker --db` records a detached job's end there. Never fails a task.
   */
  onJobMayHaveEnded?: (jobId: string, workerId: string) => Promise<void>;
}

export interface RunningWorker {
  id: string;
  /**
   * Stops within seconds: takes no more tasks, interrupts the running ones (their ffmpeg is
   * stopped) and hands them back to the queue without spending an attempt, then disconnects.
   * Resolves with the number of tasks handed back.
   */
  stop(): Promise<number>;
}

/** Failures a retry cannot fix: the input or the request is wrong, or this worker lacks an encoder. */
const PERMANENT = new Set(['USAGE', 'INPUT_NOT_FOUND', 'INPUT_INVALID', 'ENCODER_MISSING']);
const TRANSFER_CONCURRENCY = 8;
const PROGRESS_INTERVAL_MS = 500;

export async function startWorker(options: WorkerConfig): Promise<RunningWorker> {
  const id = `${hostname()}:${process.pid}`;
  const sources = new SourceCache(join(options.workRoot, 'sources'), options.log);
  await assertRedisReachable(options.redisUrl);
  const stopping = { requested: false, handedBack: 0 };
  const running = new Set<Promise<unknown>>();
  const processTask = (job: Job<TaskJobData, TaskOutput>, token: string | undefined, signal?: AbortSignal) => {
    const task = runTask(job, token, id, options, sources, stopping, signal);
    running.add(task);
    void task.catch(() => undefined).finally(() => running.delete(task));
    return task;
  };
  const worker = new Worker<TaskJobData, TaskOutput>(TASK_QUEUE, processTask, {
    connection: redisConnection(options.redisUrl, 'blocking'),
    concurrency: options.concurrency,
    name: id,
    lockDuration: options.lockDurationMs,
    stalledInterval: options.lockDurationMs,
    // A task killed twice with its worker still deserves a third run; more means it kills workers.
    maxStalledCount: 2,
    autorun: false,
  });
  const log = (line: string) => options.log(`${new Date().toISOString().slice(11, 23)} ${line}`);
  worker.on('active', (job) => log(`${job.data.spec.options.jobId} ${job.data.taskId}: started (attempt ${Math.max(job.attemptsStarted, job.attemptsMade + 1)})`));
  worker.on('completed', (job) => log(`${job.data.spec.options.jobId} ${job.data.taskId}: done`));
  worker.on('failed', (job, error) => job && log(`${job.data.spec.options.jobId} ${job.data.taskId}: failed: ${error.message}`));
  const { onJobMayHaveEnded } = options;
  if (onJobMayHaveEnded) {
    const mayHaveEnded = (job: Job<TaskJobData, TaskOutput>) => void onJobMayHaveEnded(job.data.spec.options.jobId, id).catch(() => undefined);
    // Only a flow's root (no parent) completes a job; a failure ends it only once no attempt is left.
    worker.on('completed', (job) => !job.parentKey && mayHaveEnded(job));
    worker.on('failed', (job) => job && void job.getState().then((state) => state === 'failed' && mayHaveEnded(job), () => undefined));
  }
  worker.on('error', (error) => log(`worker error: ${error.message}`));
  await worker.waitUntilReady();
  void worker.run();
  return {
    id,
    stop: async () => {
      stopping.requested = true;
      await worker.pause(true);
      worker.cancelAllJobs('the worker is stopping');
      // Each interrupted task hands itself back; then no need to wait for a blocking fetch to return.
      while (running.size > 0) await Promise.allSettled([...running]);
      await worker.close(true);
      await sources.clear();
      return stopping.handedBack;
    },
  };
}

async function runTask(
  job: Job<TaskJobData, TaskOutput>,
  bullToken: string | undefined,
  workerId: string,
  options: WorkerConfig,
  sources: SourceCache,
  stopping: { requested: boolean; handedBack: number },
  cancel?: AbortSignal,
): Promise<TaskOutput> {
  const { spec, taskId, nodes } = job.data;
  // attemptsStarted also counts runs lost with a killed worker, which attemptsMade (failures) does not.
  const attempt = Math.max(job.attemptsStarted, job.attemptsMade + 1);
  const startedAt = new Date().toISOString();
  const token = `a${attempt}-${randomBytes(4).toString('hex')}`;
  const root = join(options.workRoot, spec.options.jobId, `${taskId}-${token}`);
  const storage = await workerConfig(options.storage, spec.storage);
  const workLocation = parseLocation(spec.workPrefix);
  const workConnection = await connectTo(workLocation, storage);
  const workStore = workConnection.storeAt(workLocation);
  const controller = new AbortController();
  const abort = () => controller.abort(new VidpipeError('INTERRUPTED', 'the worker is stopping'));
  cancel?.addEventListener('abort', abort, { once: true });
  const held: { release: () => void }[] = [];

  const fractions = new Map(nodes.map((n) => [n, 0]));
  let lastSent = 0;
  const sendProgress = (force: boolean, etaSeconds?: number) => {
    const now = Date.now();
    if (!force && now - lastSent < PROGRESS_INTERVAL_MS) return;
    lastSent = now;
    const fraction = [...fractions.values()].reduce((a, b) => a + b, 0) / nodes.length;
    void job.updateProgress({ worker: workerId, attempt, fraction, etaSeconds } satisfies TaskProgress).catch(() => undefined);
  };

  try {
    // Fetched just as the worker began to stop.
    if (stopping.requested) throw new VidpipeError('INTERRUPTED', 'the worker is stopping');
    sendProgress(true);
    const children = Object.values(await job.getChildrenValues<TaskOutput>());
    const completed = new Map<string, unknown>();
    const inheritedPackage: TaskFile[] = [];
    const downloads = new Map<string, TaskFile>();
    for (const child of children) {
      for (const [id, value] of Object.entries(rebasePaths(child.results, child.root, root))) completed.set(id, value);
      inheritedPackage.push(...child.packageFiles);
      for (const file of [...child.packageFiles, ...child.workFiles]) downloads.set(file.rel, file);
    }
    await forEachLimit([...downloads.values()], TRANSFER_CONCURRENCY, async (file) => {
      const target = join(root, ...file.rel.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await workConnection.download(file.uri, target, { signal: controller.signal, onRetry: options.log });
    });

    const packageDir = join(root, 'package');
    const workDir = join(root, 'work');
    await Promise.all([mkdir(packageDir, { recursive: true }), mkdir(workDir, { recursive: true })]);
    const graphOf = (files: { input: string; source: string }) =>
      buildJobGraph(receivedState(spec.state, files, { workDir, packageDir }), workerEnvironment(spec, options, storage, workDir, (nodeId, fraction, etaSeconds) => {
        fractions.set(nodeId, fraction);
        sendProgress(fraction >= 1, etaSeconds);
      })).tasks;
    // Building the graph runs nothing; the first build only says which files this task reads.
    const reads = new Set(nodes.map((id) => graphOf({ input: '', source: '' }).find((task) => task.id === id)).map((task) => (task ? kindSpec(task.kind).reads : 'nothing')));
    const acquire = async (uri: string) => {
      const file = await sources.acquire(uri, storage);
      held.push(file);
      return file.path;
    };
    const files = {
      input: reads.has('input') ? await acquire(spec.files.input) : '',
      source: reads.has('source') ? await acquire(spec.files.source ?? spec.files.input) : '',
    };
    const dag = new Dag();
    for (const task of graphOf(files)) dag.add(task);

    // The results of probe, prepare-source and plan (the submitter's, or an earlier flow's) are the spec's state.
    const known = new Map([...recalledResults(spec.state), ...completed]);
    const group = new Set(nodes);
    const sub = new Dag();
    const given = new Map<string, unknown>();
    for (const nodeId of nodes) {
      const task = dag.get(nodeId);
      if (!task) throw new VidpipeError('INTERNAL', `task ${taskId}: the job's graph has no node ${nodeId}`);
      sub.add(task);
      for (const dependency of task.dependsOn) {
        if (group.has(dependency) || sub.get(dependency)) continue;
        if (!known.has(dependency)) throw new VidpipeError('INTERNAL', `task ${taskId}: no result of ${dependency} among its children`);
        sub.add({ ...dag.get(dependency)!, dependsOn: [] });
        given.set(dependency, known.get(dependency));
      }
    }
    const { results } = await runDag(sub, { concurrency: nodes.length, signal: controller.signal, given });

    // Results other tasks read: those of nodes with a dependent outside this task, or none at all.
    const all = dag.describe();
    const exported: Record<string, unknown> = {};
    for (const nodeId of nodes) {
      const users = all.filter((t) => t.dependsOn.includes(nodeId));
      if (users.length === 0 || users.some((t) => !group.has(t.id))) exported[nodeId] = results.get(nodeId);
    }
    if (group.has(node.publish.id)) {
      // The package is published: its intermediate files go, and nothing of this task is kept (a rerun would find its inputs gone, but nothing is left to do).
      await workStore.deleteBelow('', controller.signal).catch(() => undefined);
      return { taskId, worker: workerId, attempt, root, results: { ...Object.fromEntries(completed), ...exported }, packageFiles: [], workFiles: [], startedAt, finishedAt: new Date().toISOString() };
    }
    const ownPackage = (await listFiles(packageDir)).map((rel) => `package/${rel}`).filter((rel) => !downloads.has(rel));
    const workRefs: string[] = [];
    for (const rel of pathsBelow(exported, root)) {
      if (rel.startsWith('work/') && (await stat(join(root, ...rel.split('/'))).catch(() => undefined))?.isFile()) workRefs.push(rel);
    }
    const uploaded = await uploadFiles(workStore, root, [...ownPackage, ...workRefs], `${taskId}/${token}/`, controller.signal);
    return {
      taskId,
      worker: workerId,
      attempt,
      root,
      results: { ...Object.fromEntries(completed), ...exported },
      packageFiles: [...inheritedPackage, ...uploaded.filter((f) => f.rel.startsWith('package/'))],
      workFiles: uploaded.filter((f) => f.rel.startsWith('work/')),
      startedAt,
      finishedAt: new Date().toISOString(),
    };
  } catch (caught) {
    if (stopping.requested && bullToken) {
      // Stopped with its worker: back to the queue for this or another worker, no attempt spent.
      await job.moveToWait(bullToken);
      stopping.handedBack += 1;
      throw new WaitingError();
    }
    const error = toVidpipeError(caught);
    await job.log(ERROR_LOG_PREFIX + JSON.stringify(toTaskError(error))).catch(() => undefined);
    if (PERMANENT.has(error.code)) throw new UnrecoverableError(error.message);
    throw new Error(error.message);
  } finally {
    cancel?.removeEventListener('abort', abort);
    for (const file of held) file.release();
    workStore.close();
    workConnection.close();
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** How this worker runs a job's nodes: its ffmpeg and folders; publishing with its own storage settings; no probe or metadata here. */
function workerEnvironment(spec: QueuedJobSpec, options: WorkerConfig, storage: StorageConfig, workDir: string, onProgress: (id: string, fraction: number, etaSeconds?: number) => void): JobEnvironment {
  const submitterOnly = async (): Promise<never> => {
    throw new VidpipeError('INTERNAL', 'probe and metadata run on the submitting machine, not on a worker');
  };
  return {
    // The spec carries no secret settings: this machine's own (its environment) fill them in.
    options: { ...spec.options, settings: withOwnSecrets(spec.options.settings) },
    contextFor: stageContexts({ binaries: options.binaries, settings: spec.options.settings, concurrency: options.concurrency, plan: () => spec.state.plan, workDir: () => workDir, onProgress }),
    probe: submitterOnly,
    publishing: { storage },
    recordMetadata: submitterOnly,
  };
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

/** Uploads the given files (paths below root) below `prefix` of the job's work store, keeping their relative paths. */
async function uploadFiles(store: ObjectStore, root: string, rels: string[], prefix: string, signal: AbortSignal): Promise<TaskFile[]> {
  const files = await Promise.all(rels.map(async (rel) => {
    const absPath = join(root, ...rel.split('/'));
    return { key: rel, absPath, bytes: (await stat(absPath)).size };
  }));
  await putFiles(store, files, { signal, keyOf: (file) => prefix + file.key, headersFor: (file) => objectHeadersFor(file.key) });
  return files.map((file) => ({ rel: file.key, uri: store.uriOf(prefix + file.key), bytes: file.bytes }));
}

/** Removes every object below a job's work prefix (`<out>/.vidpipe-work/<jobId>/`: its intermediate files). */
export async function deletePrefix(storage: StorageConfig, prefixUri: string, signal?: AbortSignal): Promise<void> {
  const location = parseLocation(prefixUri);
  if (!/\/\.vidpipe-work\/[^/]+\/$/.test(location.text)) throw new VidpipeError('INTERNAL', `refusing to delete below ${prefixUri}`);
  const store = await openStore(location, storage);
  try {
    await store.deleteBelow('', signal);
  } finally {
    store.close();
  }
}

/**
 * Sources downloaded by this worker, shared by the tasks of a job that run here (a film's chunk
 * encodes all read it) and kept while in use; the two most recently released stay for the next task.
 */
class SourceCache {
  private readonly entries = new Map<string, { fetched: Promise<FetchedInput>; users: number }>();

  constructor(
    private readonly dir: string,
    private readonly log: (line: string) => void,
  ) {}

  async acquire(uri: string, storage: StorageConfig): Promise<{ path: string; release: () => void }> {
    let entry = this.entries.get(uri);
    if (!entry) {
      entry = { fetched: fetchInput(uri, this.dir, storage, { onRetry: this.log }), users: 0 };
      this.entries.set(uri, entry);
    }
    entry.users += 1;
    const current = entry;
    try {
      const fetched = await current.fetched;
      let released = false;
      return {
        path: fetched.localPath,
        release: () => {
          if (released) return;
          released = true;
          current.users -= 1;
          this.evict();
        },
      };
    } catch (error) {
      current.users -= 1;
      if (this.entries.get(uri) === current) this.entries.delete(uri);
      throw error;
    }
  }

  private evict(): void {
    const idle = [...this.entries].filter(([, e]) => e.users === 0);
    for (const [uri, entry] of idle.slice(0, Math.max(0, idle.length - 2))) {
      this.entries.delete(uri);
      void entry.fetched.then((f) => f.cleanup()).catch(() => undefined);
    }
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.fetched.then((f) => f.cleanup()).catch(() => undefined)));
  }
}
