import { VidpipeError, toVidpipeError } from '../errors.js';

/**
 * An explicit in-process task graph. A node runs only after every node it depends on
 * succeeded; ready nodes run with bounded concurrency, higher `priority` first (the chunk
 * encodes are the critical path). The first failure aborts the shared signal, so running
 * siblings stop and pending nodes are cancelled: the graph fails fast.
 *
 * The graph may grow while it runs: when a node succeeds, `grow` may add nodes that depend on
 * it (the job's plan decides the encodes; see src/job/graph.ts). This module knows nothing of
 * what the nodes are: their kinds and result types are declared in src/job/nodes.ts.
 */
/** Where a task of the graph stands (the job's task rows in the database hold the same). */
export type TaskStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

/** A node of the graph as the scheduler runs it: its place among the others and the function that runs it. */
export interface DagTask {
  id: string;
  kind: string;
  label: string;
  dependsOn: string[];
  priority?: number;
  /** Weight against the concurrency budget (default 1). */
  slots?: number;
  /** Gets the results of the nodes finished so far (its dependencies among them). */
  run: (results: ReadonlyMap<string, unknown>, signal: AbortSignal) => Promise<unknown>;
  /** Runs allowed when a run fails in a way worth retrying (a stalled ffmpeg); default DEFAULT_MAX_ATTEMPTS. */
  maxAttempts?: number;
}

/**
 * A stalled ffmpeg (no progress for --stall-timeout, then killed) is usually a transient hang —
 * a slow network mount, a blocked pipe — so its task gets one more run. Any other failure is
 * deterministic (bad data, a full disk) and would only fail again, so it is not retried.
 */
export const DEFAULT_MAX_ATTEMPTS = 2;

export function isRetryable(error: VidpipeError): boolean {
  return error.code === 'FFMPEG_STALLED';
}

export interface DagNodeSummary {
  id: string;
  kind: string;
  label: string;
  dependsOn: string[];
}

export type DagEvent =
  /** `attempt` is 1 for the first run; a retry after a stall starts again with 2, carrying the stall as `retryAfter`. */
  | { type: 'task-start'; id: string; at: number; attempt?: number; retryAfter?: VidpipeError }
  | { type: 'task-progress'; id: string; fraction: number; etaSeconds?: number }
  | { type: 'task-succeeded'; id: string; at: number; result: unknown }
  | { type: 'task-failed'; id: string; at: number; error: VidpipeError }
  | { type: 'task-cancelled'; id: string; at: number }
  | { type: 'task-skipped'; id: string; at: number }
  /** The graph grew; `complete`: nothing more will be added. */
  | { type: 'tasks-added'; tasks: DagNodeSummary[]; complete: boolean };

export class Dag {
  private readonly tasks = new Map<string, DagTask>();

  add(task: DagTask): this {
    if (this.tasks.has(task.id)) throw new VidpipeError('INTERNAL', `duplicate task id ${task.id}`);
    this.tasks.set(task.id, task);
    return this;
  }

  get size(): number {
    return this.tasks.size;
  }

  get(id: string): DagTask | undefined {
    return this.tasks.get(id);
  }

  /** Nodes in a topological order; throws on a missing dependency or a cycle. */
  topologicalOrder(): DagTask[] {
    const order: DagTask[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (task: DagTask, path: string[]) => {
      const seen = state.get(task.id);
      if (seen === 'done') return;
      if (seen === 'visiting') throw new VidpipeError('INTERNAL', `cycle in task graph: ${[...path, task.id].join(' → ')}`);
      state.set(task.id, 'visiting');
      for (const dependency of task.dependsOn) {
        const target = this.tasks.get(dependency);
        if (!target) throw new VidpipeError('INTERNAL', `task ${task.id} depends on unknown task ${dependency}`);
        visit(target, [...path, task.id]);
      }
      state.set(task.id, 'done');
      order.push(task);
    };
    for (const task of this.tasks.values()) visit(task, []);
    return order;
  }

  describe(): DagNodeSummary[] {
    return this.topologicalOrder().map(summarise);
  }
}

export function summarise({ id, kind, label, dependsOn }: DagTask): DagNodeSummary {
  return { id, kind, label, dependsOn: [...dependsOn] };
}

/** What a node that just succeeded adds to the graph. */
export interface Growth {
  /** New nodes (ones the graph already has are left as they are). */
  tasks: DagTask[];
  /** Nothing more will be added after these. */
  complete: boolean;
  /** Of the new nodes, those already done (reused on resume): succeeded with this result. */
  completed?: Map<string, unknown>;
}

/** Adds a growth's new nodes to the graph (checking it stays acyclic and whole); returns them. */
export function extendDag(dag: Dag, growth: Growth): DagTask[] {
  const added = growth.tasks.filter((task) => !dag.get(task.id));
  for (const task of added) dag.add(task);
  dag.topologicalOrder();
  return added;
}

export function tasksAdded(added: readonly DagTask[], growth: Growth): DagEvent {
  return { type: 'tasks-added', tasks: added.map(summarise), complete: growth.complete };
}

export interface RunDagOptions {
  concurrency: number;
  signal?: AbortSignal;
  onEvent?: (event: DagEvent) => void;
  /** Node ids already done (e.g. restored on resume): treated as succeeded with this result, reported as skipped. */
  completed?: Map<string, unknown>;
  /** Results of nodes that ran before, elsewhere or in an earlier call: succeeded, reported by nobody. */
  given?: ReadonlyMap<string, unknown>;
  /** Only these nodes run here; the others are left pending for another runner (a queue). Default: all. */
  runsHere?: (task: DagTask) => boolean;
  /** Called when a node succeeded, before it counts as succeeded: the nodes its result adds to the graph. */
  grow?: (task: DagTask, result: unknown, signal: AbortSignal) => Promise<Growth | undefined>;
}

export interface DagRunResult {
  results: Map<string, unknown>;
  /** Nodes that did not run because they do not run here (runsHere), nor the nodes waiting for them. */
  waiting: string[];
}

/**
 * Runs the graph. Resolves with every node's result, or rejects with the first failure
 * (as a VidpipeError) after every running node has stopped.
 */
export async function runDag(dag: Dag, options: RunDagOptions): Promise<DagRunResult> {
  let order = dag.topologicalOrder();
  const results = new Map<string, unknown>([...(options.given ?? []), ...(options.completed ?? [])]);
  const status = new Map<string, TaskStatus>(order.map((t) => [t.id, results.has(t.id) ? 'skipped' : 'pending']));
  for (const id of options.given?.keys() ?? []) if (status.has(id)) status.set(id, 'succeeded');
  const controller = new AbortController();
  const abortFromOutside = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', abortFromOutside, { once: true });
  if (options.signal?.aborted) controller.abort(options.signal.reason);

  const emit = (event: DagEvent) => options.onEvent?.(event);
  for (const task of order) if (status.get(task.id) === 'skipped') emit({ type: 'task-skipped', id: task.id, at: Date.now() });

  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const runsHere = options.runsHere ?? (() => true);
  let usedSlots = 0;
  let firstError: VidpipeError | undefined;
  const running = new Set<Promise<void>>();

  const isReady = (task: DagTask) =>
    status.get(task.id) === 'pending' && runsHere(task) && task.dependsOn.every((d) => status.get(d) === 'succeeded' || status.get(d) === 'skipped');

  const addGrowth = (growth: Growth) => {
    const added = extendDag(dag, growth);
    order = dag.topologicalOrder();
    for (const task of added) {
      const done = growth.completed?.has(task.id) === true;
      if (done) results.set(task.id, growth.completed!.get(task.id));
      status.set(task.id, done ? 'skipped' : 'pending');
    }
    emit(tasksAdded(added, growth));
    for (const task of added) if (status.get(task.id) === 'skipped') emit({ type: 'task-skipped', id: task.id, at: Date.now() });
  };

  const start = (task: DagTask) => {
    const slots = Math.min(task.slots ?? 1, concurrency);
    usedSlots += slots;
    status.set(task.id, 'running');
    emit({ type: 'task-start', id: task.id, at: Date.now(), attempt: 1 });
    const runWithRetry = async (): Promise<unknown> => {
      const maxAttempts = Math.max(1, task.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
      for (let attempt = 1; ; attempt++) {
        try {
          return await task.run(results, controller.signal);
        } catch (error) {
          const failure = toVidpipeError(error);
          if (attempt >= maxAttempts || controller.signal.aborted || !isRetryable(failure)) throw failure;
          emit({ type: 'task-start', id: task.id, at: Date.now(), attempt: attempt + 1, retryAfter: failure });
        }
      }
    };
    const promise = (async () => {
      try {
        const result = await runWithRetry();
        if (controller.signal.aborted && firstError) throw new VidpipeError('INTERRUPTED', 'cancelled');
        const growth = await options.grow?.(task, result, controller.signal);
        results.set(task.id, result);
        if (growth) addGrowth(growth);
        status.set(task.id, 'succeeded');
        emit({ type: 'task-succeeded', id: task.id, at: Date.now(), result });
      } catch (error) {
        const failure = toVidpipeError(error);
        const cancelled = controller.signal.aborted && (failure.code === 'INTERRUPTED' || firstError !== undefined);
        if (cancelled) {
          status.set(task.id, 'cancelled');
          emit({ type: 'task-cancelled', id: task.id, at: Date.now() });
        } else {
          status.set(task.id, 'failed');
          firstError ??= failure;
          emit({ type: 'task-failed', id: task.id, at: Date.now(), error: failure });
          controller.abort(failure);
        }
      } finally {
        usedSlots -= slots;
      }
    })();
    running.add(promise);
    void promise.finally(() => running.delete(promise));
  };

  try {
    for (;;) {
      if (!controller.signal.aborted) {
        const ready = order.filter(isReady).sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0));
        for (const task of ready) {
          const slots = Math.min(task.slots ?? 1, concurrency);
          if (usedSlots + slots > concurrency) break;
          start(task);
        }
      }
      if (running.size === 0) break;
      await Promise.race(running);
    }
  } finally {
    options.signal?.removeEventListener('abort', abortFromOutside);
  }

  const stopped = firstError !== undefined || controller.signal.aborted;
  const waiting: string[] = [];
  for (const task of order) {
    if (status.get(task.id) !== 'pending') continue;
    if (stopped) {
      status.set(task.id, 'cancelled');
      emit({ type: 'task-cancelled', id: task.id, at: Date.now() });
    } else {
      waiting.push(task.id);
    }
  }
  if (firstError) throw firstError;
  if (controller.signal.aborted) throw new VidpipeError('INTERRUPTED', 'interrupted');
  return { results, waiting };
}
