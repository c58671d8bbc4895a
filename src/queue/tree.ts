import type { DagNodeSummary } from '../core/dag.js';
import { VidpipeError } from '../errors.js';

/**
 * One BullMQ job of a flow: one or more DAG nodes run together by one worker. A flow is a tree
 * (a job has one parent and waits only for its own children), while the transcode graph shares
 * nodes: every chunk encode feeds the assembly of every rendition. Such nodes get one parent by
 * merging the nodes that share them into one tree node (with two renditions, `assemble-*` and
 * `package-*` of the video run as one job over all chunk encodes); everything else keeps its own job.
 */
export interface TreeNode {
  /** The node's own id for a single DAG node; `<first node>+<n>` for a merged group. */
  id: string;
  /** DAG nodes this job runs, in topological order. */
  nodes: string[];
  children: TreeNode[];
}

/**
 * Builds the flow tree of a graph. `local` nodes (metadata: it writes the submitting machine's
 * SQLite) are left out; they must be sinks. Edges implied by longer paths are dropped first (the
 * storyboard feeds the manifests, so publish waiting for it directly adds nothing).
 */
export function buildFlowTree(tasks: DagNodeSummary[], local: ReadonlySet<string>): TreeNode {
  const remote = tasks.filter((t) => !local.has(t.id));
  const ids = new Set(remote.map((t) => t.id));
  const order = new Map(tasks.map((t, i) => [t.id, i]));
  const deps = new Map(remote.map((t) => [t.id, t.dependsOn.filter((d) => ids.has(d))]));
  for (const t of tasks) {
    if (local.has(t.id) && remote.some((r) => r.dependsOn.includes(t.id))) {
      throw new VidpipeError('INTERNAL', `local task ${t.id} must not feed a queued task`);
    }
  }

  // Union-find over DAG nodes: a group becomes one job.
  const parent = new Map<string, string>([...ids].map((id) => [id, id]));
  const find = (id: string): string => {
    let root = id;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(id, root);
    return root;
  };
  const union = (a: string, b: string) => {
    const [ra, rb] = [find(a), find(b)];
    if (ra === rb) return;
    const [keep, drop] = order.get(ra)! <= order.get(rb)! ? [ra, rb] : [rb, ra];
    parent.set(drop, keep);
  };

  let groupDeps = new Map<string, Set<string>>();
  for (;;) {
    groupDeps = new Map();
    for (const id of ids) groupDeps.set(find(id), groupDeps.get(find(id)) ?? new Set());
    for (const [id, ds] of deps) for (const d of ds) if (find(d) !== find(id)) groupDeps.get(find(id))!.add(find(d));
    const reduced = transitiveReduction(groupDeps);
    const dependents = new Map<string, string[]>();
    for (const [g, ds] of reduced) for (const d of ds) dependents.set(d, [...(dependents.get(d) ?? []), g]);
    const shared = [...dependents.values()].find((users) => users.length > 1);
    if (!shared) {
      groupDeps = reduced;
      break;
    }
    for (const user of shared.slice(1)) union(shared[0]!, user);
  }

  const members = new Map<string, string[]>();
  for (const t of remote) members.set(find(t.id), [...(members.get(find(t.id)) ?? []), t.id]);
  const roots = [...groupDeps.keys()].filter((g) => ![...groupDeps.values()].some((ds) => ds.has(g)));
  if (roots.length !== 1) throw new VidpipeError('INTERNAL', `the task graph has ${roots.length} sinks; a flow needs exactly one`);
  const build = (g: string): TreeNode => {
    const nodes = members.get(g)!;
    return { id: nodes.length === 1 ? nodes[0]! : `${nodes[0]}+${nodes.length - 1}`, nodes, children: [...groupDeps.get(g)!].map(build) };
  };
  return build(roots[0]!);
}

/** Drops an edge a→c when c is also reachable from another dependency of a. */
function transitiveReduction(graph: Map<string, Set<string>>): Map<string, Set<string>> {
  const reach = new Map<string, Set<string>>();
  const reachable = (from: string): Set<string> => {
    const known = reach.get(from);
    if (known) return known;
    const seen = new Set<string>();
    for (const d of graph.get(from) ?? []) {
      seen.add(d);
      for (const r of reachable(d)) seen.add(r);
    }
    reach.set(from, seen);
    return seen;
  };
  const reduced = new Map<string, Set<string>>();
  for (const [g, ds] of graph) {
    reduced.set(g, new Set([...ds].filter((d) => ![...ds].some((other) => other !== d && reachable(other).has(d)))));
  }
  return reduced;
}

export function flattenTree(root: TreeNode): TreeNode[] {
  return [root, ...root.children.flatMap(flattenTree)];
}
