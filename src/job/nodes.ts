/**
 * The node kinds of a job's graph, declared once: what each one's result is (NodeResults), how
 * it runs (NODE_KINDS: where, whether it reads the source, whether its files are kept for a
 * resume, its scheduling priority, its row in the progress view, and what a node that grows the
 * graph teaches its state) and how its nodes are named (node). Nothing else spells a node id or
 * kind: the graph builder (graph.ts), resume, the queue and the reporters read them from here,
 * and results are read back typed through NodeResultsView.
 *
 * Adding a stage: its function in src/core/stages/ (or beside what it works on), its result type
 * and its kind here, its node in the builder of its area (graph/*.ts): docs/architecture.md.
 */
import { VidpipeError } from '../errors.js';
import { inPlace, type InspectedSource, type SourceFile } from '../ffmpeg/source-file.js';
import { withRenditions, type JobPlan } from '../core/plan.js';
import type { EncodedChunk } from '../core/stages/encode-video.js';
import type { EncodedAudio } from '../core/stages/encode-audio.js';
import type { LoudnessAnalysis } from '../core/stages/loudness.js';
import type { AssembledRendition } from '../core/stages/assemble.js';
import type { PackagedTrack } from '../core/stages/package.js';
import type { PackagedTsTrack } from '../core/stages/package-ts.js';
import type { PosterResult } from '../core/stages/poster.js';
import type { StoryboardResult } from '../core/stages/storyboard.js';
import type { CoverResult } from '../core/stages/cover.js';
import type { SubtitlesOutput } from '../core/stages/subtitles.js';
import type { DownloadResult } from '../core/stages/download.js';
import type { ManifestsOutput } from '../core/stages/manifests.js';
import type { QualityMetrics } from '../core/result.js';
import type { PublishedFile } from '../storage/storage.js';
import type { TitleAnalysis } from '../ladder/analyse.js';
import type { QualityCheck } from '../ladder/quality-check.js';
import type { RiseCheck } from '../ladder/rise.js';
import type { ChosenPackage } from '../storage/publish.js';
import type { GraphState } from './job-options.js';

/** What the publish node returns (plain JSON: it may come from a queue worker): the package written, its files and their SHA-256 by key. */
export interface PublishOutput extends ChosenPackage {
  files: PublishedFile[];
  hashes: Record<string, string>;
}

/** Each node kind's result. */
export interface NodeResults {
  /** The input fetched, identified and probed; whether it must be copied before chunks can seek in it. */
  probe: InspectedSource;
  /** The Matroska copy of an input chunks cannot seek in (MPEG-TS, no index, a restarting clock). */
  'prepare-source': SourceFile;
  plan: JobPlan;
  /** `--ladder auto`: the probes of the title and the ladder chosen from them (the encodes' renditions). */
  'analyse-ladder': TitleAnalysis;
  'encode-video': EncodedChunk;
  loudness: LoudnessAnalysis;
  'encode-audio': EncodedAudio;
  assemble: AssembledRendition;
  /** `--ladder auto`: each constant-quality rung measured against the target, re-encoded when it missed, or reported as missed. */
  'check-quality': QualityCheck;
  /** Every ladder rises with resolution: each rung's measured rates, and the rungs packaged. */
  'check-rise': RiseCheck;
  package: PackagedTrack;
  'package-ts': PackagedTsTrack;
  poster: PosterResult;
  storyboard: StoryboardResult;
  cover: CoverResult;
  subtitles: SubtitlesOutput;
  /** `--download`: download.mp4 in the package, remuxed from the top H.264 rung kept and the default audio. */
  download: DownloadResult;
  manifests: ManifestsOutput;
  metrics: Record<string, QualityMetrics>;
  publish: PublishOutput;
  /** The job's record was written (one transaction). */
  metadata: true;
}

export type NodeKind = keyof NodeResults;

/** The rows of the live progress view, in order (several kinds may share one). */
export const PROGRESS_ROWS = [
  'Probe', 'Plan', 'Encode video', 'Encode audio', 'Assemble renditions', 'Package CMAF segments',
  'Thumbnails', 'Subtitles', 'Manifests', 'Quality metrics', 'Publish', 'Metadata',
] as const;
export type ProgressRow = (typeof PROGRESS_ROWS)[number];

export interface KindSpec {
  /** Its row in the progress view. */
  row: ProgressRow;
  /** Its share of the job's overall progress (encodes take most of the time). */
  weight: number;
  /** Finished outputs are recorded with their files' SHA-256 and reused by a resumed run. */
  resumable: boolean;
  /** The file it reads besides its dependencies' outputs: a queue worker downloads it first. */
  reads: 'input' | 'source' | 'nothing';
  /** 'submitter': only in the process that runs the job (it owns the SQLite file and the input). */
  runsOn: 'submitter' | 'anywhere';
  /** Among ready nodes, higher first. */
  priority: number;
  /** Its bars in the report's task timeline (src/report/html.ts). */
  colour: string;
}

/**
 * What a node that grows the graph (its `grows` in NODE_KINDS) teaches the graph builder: its
 * result goes into the builder's state (GraphState), and a machine that has only that state (a
 * queue worker, given the spec's state) sees the result again for the nodes that depend on it.
 * Such nodes are single (their id is their kind). The one mapping between the state and results:
 * a local run and the queue's submitter learn, a worker recalls (learnFrom, recalledResults).
 */
export interface GraphLesson<K extends NodeKind> {
  learn(state: GraphState, result: NodeResults[K]): void;
  recall(state: Omit<GraphState, 'site'>): NodeResults[K] | undefined;
}

const probeLesson: GraphLesson<'probe'> = {
  learn: (state, inspected) => {
    state.inspected = inspected;
    if (!inspected.copyReason) state.source = inPlace(inspected);
  },
  recall: (state) => state.inspected,
};
const sourceCopyLesson: GraphLesson<'prepare-source'> = {
  learn: (state, copy) => void (state.source = copy),
  recall: (state) => (state.inspected?.copyReason ? state.source : undefined),
};
const planLesson: GraphLesson<'plan'> = {
  learn: (state, plan) => void (state.plan = plan),
  recall: (state) => state.plan,
};
/** The analysis chose the renditions: the plan's are replaced by them. */
const ladderLesson: GraphLesson<'analyse-ladder'> = {
  learn: (state, ladder) => {
    state.ladder = ladder;
    state.plan = withRenditions(state.plan!, ladder.choice.rungs.map((rung) => rung.rendition));
  },
  recall: (state) => state.ladder,
};

export const NODE_KINDS: { readonly [K in NodeKind]: KindSpec & { grows?: GraphLesson<K> } } = {
  probe: { row: 'Probe', weight: 0.1, resumable: false, reads: 'input', runsOn: 'submitter', priority: 0, colour: '#6b7280', grows: probeLesson },
  'prepare-source': { row: 'Probe', weight: 0.5, resumable: false, reads: 'input', runsOn: 'anywhere', priority: 0, colour: '#6b7280', grows: sourceCopyLesson },
  plan: { row: 'Plan', weight: 0.1, resumable: false, reads: 'nothing', runsOn: 'submitter', priority: 0, colour: '#6b7280', grows: planLesson },
  // Probe encodes of a few samples: a node of its own, parallel inside (several ffmpeg processes).
  'analyse-ladder': { row: 'Plan', weight: 1, resumable: false, reads: 'source', runsOn: 'anywhere', priority: 100, colour: '#9333ea', grows: ladderLesson },
  'encode-video': { row: 'Encode video', weight: 8, resumable: true, reads: 'source', runsOn: 'anywhere', priority: 100, colour: '#2f6fdb' },
  loudness: { row: 'Encode audio', weight: 0.1, resumable: false, reads: 'source', runsOn: 'anywhere', priority: 95, colour: '#7c4dcc' },
  'encode-audio': { row: 'Encode audio', weight: 1, resumable: true, reads: 'source', runsOn: 'anywhere', priority: 90, colour: '#7c4dcc' },
  assemble: { row: 'Assemble renditions', weight: 0.5, resumable: true, reads: 'nothing', runsOn: 'anywhere', priority: 50, colour: '#3aa0c8' },
  // Measures the constant-quality rungs against the source and re-encodes a miss: on the tail's critical path.
  'check-quality': { row: 'Assemble renditions', weight: 1, resumable: false, reads: 'source', runsOn: 'anywhere', priority: 55, colour: '#c2410c' },
  'check-rise': { row: 'Assemble renditions', weight: 0.1, resumable: false, reads: 'nothing', runsOn: 'anywhere', priority: 50, colour: '#3aa0c8' },
  package: { row: 'Package CMAF segments', weight: 1, resumable: true, reads: 'nothing', runsOn: 'anywhere', priority: 40, colour: '#1f9d6b' },
  'package-ts': { row: 'Package CMAF segments', weight: 1, resumable: true, reads: 'nothing', runsOn: 'anywhere', priority: 40, colour: '#1f9d6b' },
  poster: { row: 'Thumbnails', weight: 0.3, resumable: true, reads: 'source', runsOn: 'anywhere', priority: 45, colour: '#d9822b' },
  storyboard: { row: 'Thumbnails', weight: 0.5, resumable: true, reads: 'nothing', runsOn: 'anywhere', priority: 45, colour: '#e0a050' },
  cover: { row: 'Thumbnails', weight: 0.1, resumable: true, reads: 'source', runsOn: 'anywhere', priority: 10, colour: '#d9822b' },
  subtitles: { row: 'Subtitles', weight: 0.1, resumable: false, reads: 'source', runsOn: 'anywhere', priority: 10, colour: '#6b7280' },
  download: { row: 'Package CMAF segments', weight: 0.3, resumable: false, reads: 'nothing', runsOn: 'anywhere', priority: 35, colour: '#1f9d6b' },
  manifests: { row: 'Manifests', weight: 0.1, resumable: false, reads: 'nothing', runsOn: 'anywhere', priority: 30, colour: '#c0a020' },
  metrics: { row: 'Quality metrics', weight: 0.1, resumable: false, reads: 'source', runsOn: 'anywhere', priority: 15, colour: '#c2410c' },
  publish: { row: 'Publish', weight: 0.1, resumable: false, reads: 'nothing', runsOn: 'anywhere', priority: 20, colour: '#6b7280' },
  metadata: { row: 'Metadata', weight: 0.1, resumable: false, reads: 'nothing', runsOn: 'submitter', priority: 20, colour: '#374151' },
};

/** One node of a job's graph: its id, and the kind that says what its result is. */
export interface NodeRef<K extends NodeKind = NodeKind> {
  readonly id: string;
  readonly kind: K;
}

const ref = <K extends NodeKind>(kind: K, id: string = kind): NodeRef<K> => ({ id, kind });

/** Every node id of a job, named after what it produces. */
export const node = {
  probe: ref('probe'),
  prepareSource: ref('prepare-source'),
  plan: ref('plan'),
  analyseLadder: ref('analyse-ladder'),
  encodeVideo: (chunkIndex: number) => ref('encode-video', `encode-video-${chunkIndex}`),
  loudness: ref('loudness'),
  encodeAudio: (renditionId: string) => ref('encode-audio', `encode-audio-${renditionId}`),
  assemble: (renditionId: string) => ref('assemble', `assemble-${renditionId}`),
  checkQuality: ref('check-quality'),
  checkRise: ref('check-rise'),
  package: (trackId: string) => ref('package', `package-${trackId}`),
  packageTs: (renditionId: string) => ref('package-ts', `package-ts-${renditionId}`),
  poster: ref('poster'),
  storyboard: ref('storyboard'),
  cover: ref('cover'),
  subtitles: ref('subtitles'),
  download: ref('download'),
  manifests: ref('manifests'),
  metrics: ref('metrics'),
  publish: ref('publish'),
  metadata: ref('metadata'),
};

/** What a node that just succeeded taught the graph builder (nothing, unless its kind grows the graph). */
export function learnFrom(state: GraphState, kind: string, result: unknown): void {
  if (!isNodeKind(kind)) return;
  const lesson = NODE_KINDS[kind].grows as GraphLesson<NodeKind> | undefined;
  lesson?.learn(state, result as NodeResults[NodeKind]);
}

/** The results of the nodes that grew the graph, by node id, as a state remembers them (what a queue worker is given). */
export function recalledResults(state: Omit<GraphState, 'site'>): Map<string, unknown> {
  const recalled = new Map<string, unknown>();
  for (const [kind, spec] of Object.entries(NODE_KINDS) as [NodeKind, { grows?: GraphLesson<NodeKind> }][]) {
    const result = spec.grows?.recall(state);
    if (result !== undefined) recalled.set(kind, result);
  }
  return recalled;
}

export function isNodeKind(kind: string): kind is NodeKind {
  return Object.hasOwn(NODE_KINDS, kind);
}

/** The table's entry of a task's kind (a graph only holds kinds of this table). */
export function kindSpec(kind: string): KindSpec {
  if (!isNodeKind(kind)) throw new VidpipeError('INTERNAL', `unknown node kind ${kind}`);
  return NODE_KINDS[kind];
}

/**
 * The results of a run (the runner's map of node id → result), read back with their types. A
 * node's result has its kind's type: the graph builder gives every node a run returning
 * NodeResults[kind], and results that travelled as JSON (resume, the queue) were written by
 * such a run.
 */
export class NodeResultsView {
  constructor(private readonly results: ReadonlyMap<string, unknown>) {}

  has(ref: NodeRef): boolean {
    return this.results.has(ref.id) && this.results.get(ref.id) !== undefined;
  }

  find<K extends NodeKind>(ref: NodeRef<K>): NodeResults[K] | undefined {
    return this.results.get(ref.id) as NodeResults[K] | undefined;
  }

  get<K extends NodeKind>(ref: NodeRef<K>): NodeResults[K] {
    const result = this.find(ref);
    if (result === undefined) throw new VidpipeError('INTERNAL', `no result of ${ref.id} yet`);
    return result;
  }
}
