/**
 * What the graph's builders share: the environment a job's nodes run in, a node's definition,
 * and the graph of everything after the plan that the builders of each area (video.ts,
 * audio.ts, pictures.ts, ts.ts, finish.ts) add their nodes to, each returning the references
 * the later ones depend on.
 */
import { join } from 'node:path';
import type { DagTask } from '../../core/dag.js';
import type { JobPlan } from '../../core/plan.js';
import type { StageContext } from '../../core/stage.js';
import { packageTrack, type PackagedTrack } from '../../core/stages/package.js';
import { packageProtection, type PackageProtection } from '../../core/stages/protect.js';
import { loadProtectionKeys } from '../../protection/keys.js';
import type { InspectedSource, SourceFile } from '../../ffmpeg/source-file.js';
import type { JobOptions, JobSite } from '../job-options.js';
import { NODE_KINDS, NodeResultsView, node, type NodeKind, type NodeRef, type NodeResults } from '../nodes.js';
import type { PublishEnvironment } from '../publish.js';

/** What differs between the machines that run a job's nodes. */
export interface JobEnvironment {
  options: JobOptions;
  /** A node's context: the job's ffmpeg bound to its signal and progress, its folder for intermediate files. */
  contextFor(id: string, signal: AbortSignal): StageContext;
  /** The probe node's work: fetch, identify and inspect the input (where the job started). */
  probe(signal: AbortSignal): Promise<InspectedSource>;
  publishing: PublishEnvironment;
  /** The metadata node's work: the job's record in SQLite (where the job started). */
  recordMetadata(results: NodeResultsView): Promise<true>;
}

export interface NodeDefinition<K extends NodeKind> {
  label: string;
  dependsOn: readonly NodeRef[];
  /** Order among ready nodes of the same kind (chunks in timeline order). */
  rank?: number;
  run: (results: NodeResultsView, ctx: StageContext) => Promise<NodeResults[K]>;
}

/** A node as the runners take it: its kind's priority from the table, its context from the environment. */
export function define<K extends NodeKind>(ref: NodeRef<K>, definition: NodeDefinition<K>, env: JobEnvironment): DagTask {
  return {
    id: ref.id,
    kind: ref.kind,
    label: definition.label,
    dependsOn: definition.dependsOn.map((dependency) => dependency.id),
    priority: NODE_KINDS[ref.kind].priority - (definition.rank ?? 0) / 1000,
    run: (results, signal) => definition.run(new NodeResultsView(results), env.contextFor(ref.id, signal)),
  };
}

/** The graph after the plan: what every area's builder reads, and where it adds its nodes (in the order they are added). */
export interface MainGraph {
  /** What the stages read: the input in place, or its Matroska copy. */
  source: SourceFile;
  plan: JobPlan;
  site: JobSite;
  env: JobEnvironment;
  add<K extends NodeKind>(ref: NodeRef<K>, definition: NodeDefinition<K>): NodeRef<K>;
  readonly tasks: readonly DagTask[];
  /**
   * The encryption step the package nodes run on what they wrote (the clear one for a clear job).
   * Its keys are read from the job's key source on this machine, once (a worker reads its own:
   * keys never travel with the graph).
   */
  protection(): Promise<PackageProtection>;
}

export function mainGraph(source: SourceFile, plan: JobPlan, site: JobSite, env: JobEnvironment): MainGraph {
  const tasks: DagTask[] = [];
  let protection: Promise<PackageProtection> | undefined;
  return {
    source,
    plan,
    site,
    env,
    tasks,
    protection: () => (protection ??= loadProtectionKeys(env.options.settings).then(packageProtection)),
    add: (ref, definition) => {
      tasks.push(define(ref, definition, env));
      return ref;
    },
  };
}

/** A video rendition's package when check-rise dropped it: no files (so no paths for resume to hash). */
const DROPPED_PACKAGE: PackagedTrack = { outputDir: '', initPath: '', segmentPaths: [], dropped: true };

/** The node that cuts one encoded track (audio or video) into CMAF segments under <package>/<folder>/<id>/. */
export function addPackage(
  graph: MainGraph,
  trackId: string,
  encoded: (results: NodeResultsView) => string,
  dependsOn: NodeRef[],
  folder: 'video' | 'audio',
  fragmentSeconds: number,
  dropped: (results: NodeResultsView) => boolean = () => false,
): NodeRef<'package'> {
  const { plan, site } = graph;
  return graph.add(node.package(trackId), {
    label: `Package ${trackId}`,
    dependsOn,
    run: async (results, ctx) => {
      if (dropped(results)) return { ...DROPPED_PACKAGE };
      const track = await packageTrack(
        {
          input: encoded(results),
          outputDir: join(site.packageDir, folder, trackId),
          segmentSeconds: plan.segmentDurationSeconds,
          fragmentSeconds,
          durationSeconds: plan.durationSeconds,
          language: folder === 'audio' ? plan.audio.find((r) => r.id === trackId)?.language : undefined,
        },
        ctx,
      );
      return (await graph.protection()).cmafTrack(track, folder, site.packageDir);
    },
  });
}
