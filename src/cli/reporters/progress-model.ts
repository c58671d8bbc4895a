import type { DagNodeSummary } from '../../core/dag.js';
import type { JobEvent } from '../../core/events.js';
import { NODE_KINDS, PROGRESS_ROWS, kindSpec, type NodeKind } from '../../job/nodes.js';

/** Rows of the live view: one per stage (NODE_KINDS' `row`), so the list stays short however many chunks there are. */
export const STAGE_ROWS: { title: string; kinds: NodeKind[] }[] = PROGRESS_ROWS.map((title) => ({
  title,
  kinds: (Object.keys(NODE_KINDS) as NodeKind[]).filter((kind) => NODE_KINDS[kind].row === title),
}));

export type NodeState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

interface NodeProgress {
  kind: string;
  state: NodeState;
  fraction: number;
  etaSeconds?: number;
}

/**
 * Folds job events into per-row progress. Shared by the live task list and the plain
 * line reporter, which differ only in how they draw it.
 */
export class JobProgress {
  readonly nodes = new Map<string, NodeProgress>();
  planned = false;
  readonly startedAt = Date.now();

  apply(event: JobEvent): void {
    switch (event.type) {
      case 'job-start':
        this.addNodes(event.tasks);
        break;
      case 'tasks-added':
        this.addNodes(event.tasks);
        if (event.complete) this.planned = true;
        break;
      case 'task-start':
        this.set(event.id, { state: 'running' });
        break;
      case 'task-progress':
        this.set(event.id, { fraction: event.fraction, etaSeconds: event.etaSeconds });
        break;
      case 'task-succeeded':
      case 'task-skipped':
        this.set(event.id, { state: 'done', fraction: 1, etaSeconds: 0 });
        break;
      case 'task-failed':
        this.set(event.id, { state: 'failed' });
        break;
      case 'task-cancelled':
        this.set(event.id, { state: 'cancelled' });
        break;
      default:
        break;
    }
  }

  private addNodes(tasks: DagNodeSummary[]): void {
    for (const task of tasks) {
      if (!this.nodes.has(task.id)) this.nodes.set(task.id, { kind: task.kind, state: 'pending', fraction: 0 });
    }
  }

  private set(id: string, patch: Partial<NodeProgress>): void {
    const node = this.nodes.get(id);
    if (node) Object.assign(node, patch);
  }

  row(kinds: readonly string[]): { total: number; done: number; running: number; failed: number; cancelled: number; fraction: number; etaSeconds?: number } {
    const nodes = [...this.nodes.values()].filter((n) => kinds.includes(n.kind));
    const done = nodes.filter((n) => n.state === 'done').length;
    const running = nodes.filter((n) => n.state === 'running');
    const fraction = nodes.length ? nodes.reduce((sum, n) => sum + (n.state === 'done' ? 1 : n.fraction), 0) / nodes.length : 0;
    const etas = running.map((n) => n.etaSeconds).filter((e): e is number => e !== undefined && Number.isFinite(e));
    return {
      total: nodes.length,
      done,
      running: running.length,
      failed: nodes.filter((n) => n.state === 'failed').length,
      cancelled: nodes.filter((n) => n.state === 'cancelled').length,
      fraction,
      // Pending nodes of a row wait for running ones: a rough ETA scales the running ones' by the share left.
      etaSeconds: etas.length && fraction > 0 ? Math.max(...etas) * Math.max(1, (nodes.length - done) / Math.max(1, running.length)) : undefined,
    };
  }

  /** Whole-job completion, weighting encodes heaviest since they take most of the time (NODE_KINDS' `weight`). */
  overall(): number {
    let total = 0;
    let done = 0;
    for (const node of this.nodes.values()) {
      const { weight } = kindSpec(node.kind);
      total += weight;
      done += weight * (node.state === 'done' ? 1 : node.fraction);
    }
    return total ? done / total : 0;
  }
}

/** A wall-clock time or an ETA as "1m05s" ("42s" under a minute); '?' when unknown. */
export function formatMinutesSeconds(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
