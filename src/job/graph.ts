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
 * they do not have yet (runDag's `grow`). What differs between machines is in the environment:
 * folders, the ffmpeg runner, and the work of the nodes that only run where the job started
 * (probe, metadata). Each node reads its inputs through NodeResultsView, typed by nodes.ts.
 */
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { DagTask } from '../core/dag.js';
import type { JobPlan } from '../core/plan.js';
import type { StageContext } from '../core/stage.js';
import { probeFile } from '../ffmpeg/probe.js';
import { copySource, inPlace, type InspectedSource, type SourceFile } from '../ffmpeg/integrity.js';
import { assertEncoders, detectCapabilities } from '../ffmpeg/capabilities.js';
import { pickAv1Encoder } from '../ffmpeg/args/encoders.js';
import { planJob } from '../core/plan.js';
import { encodeChunk } from '../core/stages/encode-video.js';
import { encodeAudio } from '../core/stages/encode-audio.js';
import { analyseLoudness, gainFor } from '../core/stages/loudness.js';
import { assembleRendition } from '../core/stages/assemble.js';
import { packageTrack, type PackagedTrack } from '../core/stages/package.js';
import { packageTs } from '../core/stages/package-ts.js';
import { writeManifests } from '../core/stages/manifests.js';
import { createPoster } from '../core/stages/poster.js';
import { createStoryboard } from '../core/stages/storyboard.js';
import { extractCover } from '../core/stages/cover.js';
import { extractSubtitles } from '../core/stages/subtitles.js';
import { measurePackageQuality } from '../metrics/stage.js';
import { analyseTitleStage, decodedFrameBytes } from '../ladder/analyse.js';
import { checkRiseStage } from '../ladder/rise.js';
import { checkQualityStage } from '../ladder/quality-check.js';
import type { JobSettings } from '../settings/job-settings.js';
import type { GraphState, JobOptions, JobSite } from './job-options.js';
import { NODE_KINDS, NodeResultsView, node, type NodeKind, type NodeRef, type NodeResults } from './nodes.js';
import { publishJob, type PublishEnvironment } from './publish.js';

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

interface NodeDefinition<K extends NodeKind> {
  label: string;
  dependsOn: readonly NodeRef[];
  /** Order among ready nodes of the same kind (chunks in timeline order). */
  rank?: number;
  run: (results: NodeResultsView, ctx: StageContext) => Promise<NodeResults[K]>;
}

function define<K extends NodeKind>(ref: NodeRef<K>, definition: NodeDefinition<K>, env: JobEnvironment): DagTask {
  return {
    id: ref.id,
    kind: ref.kind,
    label: definition.label,
    dependsOn: definition.dependsOn.map((dependency) => dependency.id),
    priority: NODE_KINDS[ref.kind].priority - (definition.rank ?? 0) / 1000,
    run: (results, signal) => definition.run(new NodeResultsView(results), env.contextFor(ref.id, signal)),
  };
}

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
          return analyseTitleStage(
            {
              source: source.path,
              video: candidates,
              ...(source.probe.video ? { frameBytes: decodedFrameBytes(source.probe.video) } : {}),
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
  const plan = planJob(source.probe, settings, { av1Encoder: pickAv1Encoder(capabilities.encoders) });
  assertEncoders(capabilities, plan.kind === 'video' ? settings.codecs : [], plan.audio.length > 0);
  return plan;
}

/** A video rendition's package when check-rise dropped it: no files (so no paths for resume to hash). */
const DROPPED_PACKAGE: PackagedTrack = { outputDir: '', initPath: '', segmentPaths: [], dropped: true };

/** Everything the plan asks for, after the plan node. */
function mainNodes(source: SourceFile, plan: JobPlan, site: JobSite, env: JobEnvironment): DagTask[] {
  const tasks: DagTask[] = [];
  const add = <K extends NodeKind>(ref: NodeRef<K>, definition: NodeDefinition<K>) => {
    tasks.push(define(ref, definition, env));
    return ref;
  };
  const { video } = plan;
  const packageNodes: NodeRef<'package'>[] = [];
  /** Cuts one encoded track into CMAF segments under <package>/<folder>/<id>/. */
  const addPackage = (
    trackId: string,
    encoded: (results: NodeResultsView) => string,
    dependsOn: NodeRef[],
    folder: 'video' | 'audio',
    fragmentSeconds: number,
    dropped: (results: NodeResultsView) => boolean = () => false,
  ) =>
    packageNodes.push(
      add(node.package(trackId), {
        label: `Package ${trackId}`,
        dependsOn,
        run: async (results, ctx) =>
          dropped(results) ? { ...DROPPED_PACKAGE } : packageTrack(
            { input: encoded(results), outputDir: join(site.packageDir, folder, trackId), segmentSeconds: plan.segmentDurationSeconds, fragmentSeconds, durationSeconds: plan.durationSeconds },
            ctx,
          ),
      }),
    );

  const beforeEncodes = env.options.settings.rungs === 'auto' ? node.analyseLadder : node.plan;
  const chunks = (video?.chunks ?? []).map((chunk) =>
    add(node.encodeVideo(chunk.index), {
      label: `Encode chunk ${chunk.index + 1}/${video!.chunks.length} (${video!.renditions.length} renditions)`,
      dependsOn: [beforeEncodes],
      rank: chunk.index,
      run: (_r, ctx) => encodeChunk({ source: source.path, video: video!, chunk }, ctx),
    }),
  );
  const assembledNodes = (video?.renditions ?? []).map((rendition) =>
    add(node.assemble(rendition.id), {
      label: `Assemble ${rendition.id}`,
      dependsOn: chunks,
      run: (results, ctx) =>
        assembleRendition(
          {
            renditionId: rendition.id,
            chunks: chunks.map((ref) => {
              const chunk = results.get(ref);
              return { path: chunk.files[rendition.id]!, frames: chunk.frames, decodeErrors: chunk.decodeErrors, firstDecodeError: chunk.firstDecodeError };
            }),
            video: video!,
          },
          ctx,
        ),
    }),
  );
  const loudness = plan.measureLoudness
    ? add(node.loudness, {
        label: plan.loudnessTarget === undefined ? 'Measure loudness' : `Measure loudness (target ${plan.loudnessTarget} LUFS)`,
        dependsOn: [node.plan],
        run: (_r, ctx) =>
          analyseLoudness({ source: source.path, renditions: plan.audio, target: plan.loudnessTarget, durationSeconds: plan.durationSeconds, maxDecodeErrors: video ? plan.maxAudioDecodeErrors : 0 }, ctx),
      })
    : undefined;
  for (const rendition of plan.audio) {
    const encoded = add(node.encodeAudio(rendition.id), {
      label: `Encode audio ${rendition.id}`,
      dependsOn: [loudness ?? node.plan],
      run: (results, ctx) =>
        encodeAudio(
          {
            source: source.path,
            rendition,
            fitToSeconds: video ? plan.durationSeconds : undefined,
            durationSeconds: plan.durationSeconds,
            gain: gainFor(loudness ? results.get(loudness) : undefined, rendition),
            measureOutput: loudness !== undefined,
            target: plan.loudnessTarget,
            maxDecodeErrors: plan.maxAudioDecodeErrors,
          },
          ctx,
        ),
    });
    addPackage(rendition.id, (results) => results.get(encoded).path, [encoded], 'audio', plan.audioFragmentSeconds);
  }

  const pictures: NodeRef[] = [];
  const thumbnails = plan.thumbnails;
  let storyboard: NodeRef<'storyboard'> | undefined;
  if (thumbnails?.kind === 'poster-storyboard') {
    const small = node.assemble(thumbnails.fromRendition);
    const smallCopy = async (results: NodeResultsView, ctx: StageContext) => {
      const path = results.get(small).path;
      return { source: path, probe: await probeFile(ctx.ffmpeg.binaries.ffprobe, path, ctx.signal) };
    };
    const frameFrom = thumbnails.posterFrameFrom === undefined ? undefined : node.assemble(thumbnails.posterFrameFrom);
    pictures.push(
      add(node.poster, {
        label: 'Poster',
        dependsOn: [small, ...(frameFrom ? [frameFrom] : [])],
        run: async (results, ctx) =>
          createPoster(
            { source: source.path, probe: source.probe, outDir: site.packageDir, analysis: await smallCopy(results, ctx), frameSource: frameFrom && results.get(frameFrom).path },
            ctx,
          ),
      }),
    );
    storyboard = add(node.storyboard, {
      label: 'Storyboard',
      dependsOn: [small],
      run: async (results, ctx) => {
        const copy = await smallCopy(results, ctx);
        // The rendition's key frames are on the GOP grid from 0: a storyboard on it decodes only those.
        const keyFrameSeconds = (video!.gopFrames * video!.frameRate.den) / video!.frameRate.num;
        return createStoryboard({ source: copy.source, probe: copy.probe, outDir: site.packageDir, keyFrameSeconds }, ctx);
      },
    });
    pictures.push(storyboard);
  } else if (thumbnails?.kind === 'cover') {
    pictures.push(add(node.cover, { label: 'Cover art', dependsOn: [node.plan], run: (_r, ctx) => extractCover({ source: source.path, probe: source.probe, outDir: site.packageDir }, ctx) }));
  }

  const subtitles = plan.subtitles && plan.subtitles.length > 0
    ? add(node.subtitles, { label: `Subtitles (${plan.subtitles.length} tracks)`, dependsOn: [node.plan], run: (_r, ctx) => extractSubtitles({ source: source.path, tracks: plan.subtitles! }, ctx) })
    : undefined;

  // --ladder auto: the constant-quality rungs keep the target (a miss is encoded again) before
  // the rates are compared. A node of its own, so that only these jobs read the source here.
  const analysis = video && env.options.settings.rungs === 'auto' ? node.analyseLadder : undefined;
  const checkedQuality = analysis
    ? add(node.checkQuality, {
        label: 'Check the quality target of the constant-quality rungs',
        dependsOn: [...assembledNodes, analysis],
        run: (results, ctx) => {
          const { metric, target, probes } = results.get(analysis);
          const renditions = video!.renditions.map((rendition) => ({ rendition, path: results.get(node.assemble(rendition.id)).path }));
          return checkQualityStage({ source: source.path, video: video!, renditions, metric, target, probes }, ctx);
        },
      })
    : undefined;
  const checkedRise = video
    ? add(node.checkRise, {
        label: 'Check the ladder rises with resolution',
        dependsOn: [...assembledNodes, ...(checkedQuality ? [checkedQuality] : [])],
        run: (results, ctx) => {
          const checked = checkedQuality ? results.get(checkedQuality).files : {};
          return checkRiseStage(
            {
              renditions: video.renditions.map((rendition) => ({ rendition, path: checked[rendition.id] ?? results.get(node.assemble(rendition.id)).path })),
              video,
              segmentDurationSeconds: plan.segmentDurationSeconds,
            },
            ctx,
          );
        },
      })
    : undefined;
  /** The file to package: the one check-rise measured (a quality correction's, or the assembled one). */
  const encodedFile = (results: NodeResultsView, id: string) =>
    (checkedRise && results.get(checkedRise).measured.find((m) => m.id === id)?.path) || results.get(node.assemble(id)).path;

  // Every video rendition has its package node, after check-rise; one that did not rise is not
  // packaged (no files) and the manifests leave it out. (The graph does not grow here: a queue
  // flow reads only the results its own tasks make, and the packages read the assembles'.)
  const kept = (results: NodeResultsView, id: string) => !checkedRise || results.get(checkedRise).kept.includes(id);
  for (const rendition of video?.renditions ?? []) {
    const assembled = node.assemble(rendition.id);
    addPackage(rendition.id, (results) => encodedFile(results, rendition.id), [assembled, checkedRise!], 'video', video!.fragmentSeconds, (results) => !kept(results, rendition.id));
  }

  const tsTracks = (plan.ts?.renditions ?? []).map((renditionId) => {
    const audio = plan.ts?.audio === undefined ? undefined : node.encodeAudio(plan.ts.audio);
    return {
      rendition: video!.renditions.find((r) => r.id === renditionId)!,
      ref: add(node.packageTs(renditionId), {
        label: `Package ${renditionId} (MPEG-TS)`,
        dependsOn: [node.assemble(renditionId), ...(audio ? [audio] : []), ...(checkedRise ? [checkedRise] : [])],
        run: async (results, ctx) =>
          !kept(results, renditionId) ? { outputDir: '', segments: [], dropped: true } : packageTs(
            {
              video: encodedFile(results, renditionId),
              audio: audio ? results.get(audio).path : undefined,
              outputDir: join(site.packageDir, 'ts', renditionId),
              segmentSeconds: plan.segmentDurationSeconds,
              durationSeconds: plan.durationSeconds,
            },
            ctx,
          ),
      }),
    };
  });

  const manifests = add(node.manifests, {
    label: 'Write HLS and DASH manifests',
    dependsOn: [...packageNodes, ...(storyboard ? [storyboard] : []), ...(subtitles ? [subtitles] : []), ...tsTracks.map((t) => t.ref)],
    run: (results, ctx) =>
      writeManifests(
        {
          packageDir: site.packageDir,
          segmentDurationSeconds: plan.segmentDurationSeconds,
          durationSeconds: plan.durationSeconds,
          frameRate: video?.frameRate,
          // A dropped rung's package node wrote nothing (it did not rise above the rung below).
          videos: (video?.renditions ?? []).map((rendition) => ({ rendition, track: results.get(node.package(rendition.id)) })).filter(({ track }) => !track.dropped),
          audios: plan.audio.map((rendition) => ({ rendition, track: results.get(node.package(rendition.id)) })),
          storyboardVttUri: storyboard ? 'storyboard/storyboard.vtt' : undefined,
          storyboard: storyboard ? results.get(storyboard) : undefined,
          subtitles: subtitles ? results.get(subtitles).tracks : undefined,
          ts: tsTracks.map(({ rendition, ref }) => ({ rendition, track: results.get(ref) })).filter(({ track }) => !track.dropped),
          hlsSegments: plan.hlsSegments,
        },
        ctx,
      ),
  });
  const metrics = plan.metrics && video
    ? add(node.metrics, {
        label: 'Quality metrics (PSNR, SSIM)',
        dependsOn: [manifests],
        run: (results, ctx) => measurePackageQuality({ source: source.path, plan, model: results.get(manifests).model, packageDir: site.packageDir }, ctx),
      })
    : undefined;
  // The package's report (vidpipe.json) tells how the ladder was chosen: publish reads those results on any machine.
  const ladderNodes = [...(checkedRise ? [checkedRise] : []), ...(checkedQuality ? [checkedQuality] : []), ...(analysis ? [analysis] : [])];
  const publish = add(node.publish, {
    label: 'Publish package',
    dependsOn: [manifests, ...pictures, ...(metrics ? [metrics] : []), ...ladderNodes],
    run: (results, ctx) => publishJob({ options: env.options, source, plan, packageDir: site.packageDir, results }, env.publishing, ctx.signal),
  });
  add(node.metadata, { label: 'Record metadata', dependsOn: [publish], run: (results) => env.recordMetadata(results) });
  return tasks;
}

/**
 * How many chunk encodes of a plan run at once on a machine running `concurrency` tasks: the
 * threads of each encoder are this machine's cores shared among them (see encoders.ts).
 */
export function parallelEncodes(plan: JobPlan | undefined, concurrency: number): number {
  return Math.max(1, Math.min(concurrency || availableParallelism(), plan?.video?.chunks.length ?? 1));
}
