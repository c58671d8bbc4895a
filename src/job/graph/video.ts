/**
 * The video's nodes: the chunk encodes (every rendition of a chunk in one ffmpeg), each
 * rendition assembled from them; then, once the pictures have their renditions, the checks of
 * the ladder (check-quality with `--ladder auto`, check-rise always) and each rendition's
 * package, empty for a rung that did not rise.
 */
import { encodeChunk } from '../../core/stages/encode-video.js';
import { assembleRendition } from '../../core/stages/assemble.js';
import { checkRiseStage } from '../../ladder/rise.js';
import { checkQualityStage } from '../../ladder/quality-check.js';
import { node, type NodeRef, type NodeResultsView } from '../nodes.js';
import { addPackage, type MainGraph } from './builder.js';

export interface VideoEncodes {
  chunks: NodeRef<'encode-video'>[];
  assembled: NodeRef<'assemble'>[];
}

export interface VideoPackages {
  /** `--ladder auto` only. */
  checkedQuality?: NodeRef<'check-quality'>;
  /** Any video. */
  checkedRise?: NodeRef<'check-rise'>;
  packages: NodeRef<'package'>[];
  /** The file to package: the one check-rise measured (a quality correction's, or the assembled one). */
  encodedFile(results: NodeResultsView, renditionId: string): string;
  /** Whether a rendition rose above the one below it (a dropped one is not packaged). */
  kept(results: NodeResultsView, renditionId: string): boolean;
}

/** The chunk encodes (after the plan, or after the analysis that chose the ladder) and the assembles. */
export function videoEncodeNodes(graph: MainGraph): VideoEncodes {
  const { add, source, plan, env } = graph;
  const { video } = plan;
  const beforeEncodes = env.options.settings.rungs === 'auto' ? node.analyseLadder : node.plan;
  const chunks = (video?.chunks ?? []).map((chunk) =>
    add(node.encodeVideo(chunk.index), {
      label: `Encode chunk ${chunk.index + 1}/${video!.chunks.length} (${video!.renditions.length} renditions)`,
      dependsOn: [beforeEncodes],
      rank: chunk.index,
      run: (_r, ctx) => encodeChunk({ source: source.path, video: video!, chunk }, ctx),
    }),
  );
  const assembled = (video?.renditions ?? []).map((rendition) =>
    add(node.assemble(rendition.id), {
      label: `Assemble ${rendition.id}`,
      dependsOn: chunks,
      run: (results, ctx) =>
        assembleRendition(
          {
            renditionId: rendition.id,
            chunks: chunks.map((ref) => {
              const chunk = results.get(ref);
              const psnr = chunk.psnr?.[rendition.id];
              return { path: chunk.files[rendition.id]!, frames: chunk.frames, decodeErrors: chunk.decodeErrors, firstDecodeError: chunk.firstDecodeError, ...(psnr !== undefined ? { psnr } : {}) };
            }),
            video: video!,
          },
          ctx,
        ),
    }),
  );
  return { chunks, assembled };
}

/** The ladder's checks after the assembles, and every rendition's package after them. */
export function videoPackageNodes(graph: MainGraph, { assembled }: VideoEncodes): VideoPackages {
  const { add, source, plan, env } = graph;
  const { video } = plan;
  // --ladder auto: the constant-quality rungs keep the target (a miss is encoded again) before
  // the rates are compared. A node of its own, so that only these jobs read the source here.
  const analysis = video && env.options.settings.rungs === 'auto' ? node.analyseLadder : undefined;
  const checkedQuality = analysis
    ? add(node.checkQuality, {
        label: 'Check the quality target of the constant-quality rungs',
        dependsOn: [...assembled, analysis],
        run: (results, ctx) => {
          const { metric, target, probes } = results.get(analysis);
          const renditions = video!.renditions.map((rendition) => {
            const { path, chunkPsnr } = results.get(node.assemble(rendition.id));
            return { rendition, path, ...(chunkPsnr ? { chunkPsnr } : {}) };
          });
          return checkQualityStage({ source: source.path, video: video!, renditions, metric, target, probes }, ctx);
        },
      })
    : undefined;
  const checkedRise = video
    ? add(node.checkRise, {
        label: 'Check the ladder rises with resolution',
        dependsOn: [...assembled, ...(checkedQuality ? [checkedQuality] : [])],
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
  const encodedFile = (results: NodeResultsView, id: string) =>
    (checkedRise && results.get(checkedRise).measured.find((m) => m.id === id)?.path) || results.get(node.assemble(id)).path;

  // Every video rendition has its package node, after check-rise; one that did not rise is not
  // packaged (no files) and the manifests leave it out. (The graph does not grow here: a queue
  // flow reads only the results its own tasks make, and the packages read the assembles'.)
  const kept = (results: NodeResultsView, id: string) => !checkedRise || results.get(checkedRise).kept.includes(id);
  const packages = (video?.renditions ?? []).map((rendition) =>
    addPackage(graph, rendition.id, (results) => encodedFile(results, rendition.id), [node.assemble(rendition.id), checkedRise!], 'video', video!.fragmentSeconds, (results) => !kept(results, rendition.id)),
  );
  return { ...(checkedQuality ? { checkedQuality } : {}), ...(checkedRise ? { checkedRise } : {}), packages, encodedFile, kept };
}
