/**
 * The one builder of a job's graph, for a local run and for queue workers alike. The graph
 * grows as the job learns what it is: at first it is the probe; once the input is probed, the
 * Matroska copy (when chunks cannot seek in the input) and the plan; once the plan is known and
 * the job has its work folder, everything the plan asks for:
 *
 *   probe → [prepare-source] → plan → [analyse-ladder] → encode-video-<i> ─┬─ assemble-<r> ─ [check-quality] ─ check-rise ─ package-<r> ─┐
 *                                     loudness → encode-audio-<a> ─ package-<a> ─────────────────────────────────────────────────────────┼─ manifests ─ [metrics] ─ publish ─ metadata
 *                                     poster, storyboard (from a small rendition), cover, subtitles ─────────────────────────────────────┘
 *
 * With `--ladder auto` the analysis (src/ladder/analyse.ts) chooses the renditions, so the encodes
 * are added once it has run, and check-quality measures its constant-quality rungs against the
 * source (re-encoding a miss, src/ladder/quality-check.ts). check-rise says which assembled
 * renditions rise with resolution: the package nodes of the others write nothing, and the
 * manifests leave them out.
 *
 * buildJobGraph(state, environment) returns every node that state allows; runners add the ones
 * they do not have yet (runDag's `grow`). After the plan, each area has its builder in graph/
 * (video.ts, audio.ts, pictures.ts, ts.ts, finish.ts) returning the nodes the later ones read;
 * what a node that grows the graph teaches the state is in its row of NODE_KINDS. What differs between machines is in the environment:
 * folders, the ffmpeg runner, and the work of the nodes that only run where the job started
 * (probe, metadata). Each node reads its inputs through NodeResultsView, typed by nodes.ts.
 */
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { DagTask } from '../core/dag.js';
import type { JobPlan } from '../core/plan.js';
import type { StageContext } from '../core/stage.js';
import { copySource, inPlace, type SourceFile } from '../ffmpeg/source-file.js';
import type { FfmpegBinaries } from '../ffmpeg/binaries.js';
import { FfmpegRunner } from '../ffmpeg/runner.js';
import { assertEncoders, detectCapabilities } from '../ffmpeg/capabilities.js';
import { pickAv1Encoder } from '../ffmpeg/args/encoders.js';
import { planJob, probeAudioTracks, sourceKeyFrames } from '../core/plan.js';
import { analyseTitleStage, decodedFrameBytes } from '../ladder/analyse.js';
import type { JobSettings } from '../settings/job-settings.js';
import type { GraphState, JobSite } from './job-options.js';
import { node } from './nodes.js';
import { define, mainGraph, type JobEnvironment } from './graph/builder.js';
import { audioNodes } from './graph/audio.js';
import { finishNodes, subtitleNodes } from './graph/finish.js';
import { pictureNodes } from './graph/pictures.js';
import { tsNodes } from './graph/ts.js';
import { videoEncodeNodes, videoPackageNodes } from './graph/video.js';

export type { JobEnvironment } from './graph/builder.js';

/** The graph of everything `state` allows, and whether it is complete. */
export function buildJobGraph(state: GraphState, env: JobEnvironment): { tasks: DagTask[]; complete: boolean } {
  const { settings } = env.options;
  const tasks = [define(node.probe, { label: 'Probe input', dependsOn: [], run: (_r, ctx) => env.probe(ctx.signal) }, env)];
  const { inspected } = state;
  if (!inspected) return { tasks, complete: false };

  const sourceNode = inspected.copyReason ? node.prepareSource : node.probe;
  if (inspected.copyReason) {
    tasks.push(
      define(node.prepareSource, {
        label: 'Copy the input into Matroska',
        dependsOn: [node.probe],
        run: (_r, ctx) => copySource(inspected, { ffmpeg: ctx.ffmpeg, output: join(ctx.workDir, 'source', 'source.mkv'), audioOnly: settings.audioOnly }),
      }, env),
    );
  }
  tasks.push(
    define(node.plan, {
      label: 'Plan ladder and chunks',
      dependsOn: [sourceNode],
      run: async (results, ctx) => planFor(results.find(node.prepareSource) ?? inPlace(inspected), settings, ctx),
    }, env),
  );
  const { source, plan, site } = state;
  if (!source || !plan || !site) return { tasks, complete: false };
  if (settings.rungs === 'auto' && plan.video) {
    tasks.push(
      define(node.analyseLadder, {
        label: 'Analyse the title for its ladder (probe encodes)',
        dependsOn: [node.plan],
        run: (results, ctx) => {
          // The plan node's own result: the table's renditions are the candidates.
          const candidates = results.get(node.plan).video!;
          const keyFrames = source.probe.video && sourceKeyFrames(source.probe.video, candidates.frameRate.num / candidates.frameRate.den);
          return analyseTitleStage(
            {
              source: source.path,
              video: candidates,
              ...(source.probe.video ? { frameBytes: decodedFrameBytes(source.probe.video) } : {}),
              ...(keyFrames ? { keyFrames } : {}),
              candidates: candidates.renditions,
              settings: { qualityTarget: settings.qualityTarget, maxBitrateKbps: settings.maxBitrateKbps },
              parallel: settings.concurrency,
            },
            ctx,
          );
        },
      }, env),
    );
    if (!state.ladder) return { tasks, complete: false };
  }
  tasks.push(...mainNodes(source, plan, site, env));
  return { tasks, complete: true };
}

/** The plan of a probed source, after checking that this ffmpeg has the encoders it needs. */
async function planFor(source: SourceFile, settings: JobSettings, ctx: StageContext): Promise<JobPlan> {
  const capabilities = await detectCapabilities(ctx.ffmpeg.binaries);
  const audioTracks = await probeAudioTracks(settings.audioTracks, ctx.ffmpeg.binaries.ffprobe, ctx.signal);
  const plan = planJob(source.probe, settings, { av1Encoder: pickAv1Encoder(capabilities.encoders) }, audioTracks);
  assertEncoders(capabilities, plan.kind === 'video' ? settings.codecs : [], plan.audio.length > 0);
  return plan;
}

/**
 * Everything the plan asks for, after the plan node, area by area. The order the nodes are added
 * in is the order ready nodes of one priority start in, and the order of the progress view.
 */
function mainNodes(source: SourceFile, plan: JobPlan, site: JobSite, env: JobEnvironment): DagTask[] {
  const graph = mainGraph(source, plan, site, env);
  const encodes = videoEncodeNodes(graph);
  const audio = audioNodes(graph);
  const pictures = pictureNodes(graph);
  const subtitles = subtitleNodes(graph);
  const video = videoPackageNodes(graph, encodes);
  const ts = tsNodes(graph, video);
  finishNodes(graph, { packages: [...audio.packages, ...video.packages], pictures, ...(subtitles ? { subtitles } : {}), video, ts });
  return [...graph.tasks];
}

/**
 * How many chunk encodes of a plan run at once on a machine running `concurrency` tasks: the
 * threads of each encoder are this machine's cores shared among them (see encoders.ts).
 */
export function parallelEncodes(plan: JobPlan | undefined, concurrency: number): number {
  return Math.max(1, Math.min(concurrency || availableParallelism(), plan?.video?.chunks.length ?? 1));
}

/** What a machine's contexts for a job's nodes are made of. */
export interface MachineContexts {
  binaries: FfmpegBinaries;
  settings: JobSettings;
  /** Tasks this machine runs at once (a worker's --concurrency; a local run's settings). */
  concurrency: number;
  /** The plan once known: how many chunk encodes share the cores. */
  plan: () => JobPlan | undefined;
  /** The job's folder for intermediate files on this machine. */
  workDir: () => string;
  /** The job's chunk encodes not finished yet (see FfmpegJobOptions). */
  unfinishedChunkEncodes?: () => number;
  onProgress: (id: string, fraction: number, etaSeconds?: number) => void;
}

/**
 * The one way a job's nodes get their context, here or on a worker: the job's ffmpeg (binaries,
 * stall timeout, this machine's cores shared by its chunk encodes) bound to the node's signal and
 * progress, and the job's folder.
 */
export function stageContexts(machine: MachineContexts): JobEnvironment['contextFor'] {
  return (id, signal) => {
    const report = (fraction: number, etaSeconds?: number) => machine.onProgress(id, fraction, etaSeconds);
    const ffmpeg = new FfmpegRunner(
      {
        binaries: machine.binaries,
        stallTimeoutMs: machine.settings.stallTimeoutSeconds * 1000,
        cores: availableParallelism(),
        parallelEncodes: parallelEncodes(machine.plan(), machine.concurrency),
        ...(machine.unfinishedChunkEncodes ? { unfinishedChunkEncodes: machine.unfinishedChunkEncodes } : {}),
      },
      signal,
      report,
    );
    return { ffmpeg, signal, onProgress: report, workDir: machine.workDir() };
  };
}
