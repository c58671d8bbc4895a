/**
 * What finishes a package: the subtitles (WebVTT, beside the tracks), the manifests over every
 * package node, the quality metrics of the written package (`--metrics`), publishing, and the
 * job's record where it started.
 */
import { writeManifests } from '../../core/stages/manifests.js';
import { extractSubtitles } from '../../core/stages/subtitles.js';
import { measurePackageQuality } from '../../metrics/stage.js';
import { node, type NodeRef } from '../nodes.js';
import { publishJob } from '../publish.js';
import type { MainGraph } from './builder.js';
import type { PictureNodes } from './pictures.js';
import type { TsTrack } from './ts.js';
import type { VideoPackages } from './video.js';

export function subtitleNodes(graph: MainGraph): NodeRef<'subtitles'> | undefined {
  const { add, source, plan } = graph;
  return plan.subtitles && plan.subtitles.length > 0
    ? add(node.subtitles, { label: `Subtitles (${plan.subtitles.length} tracks)`, dependsOn: [node.plan], run: (_r, ctx) => extractSubtitles({ source: source.path, tracks: plan.subtitles! }, ctx) })
    : undefined;
}

/** What the manifests and publishing wait for, from the other areas. */
export interface PackageParts {
  /** Every package node, audio and video. */
  packages: NodeRef<'package'>[];
  pictures: PictureNodes;
  subtitles?: NodeRef<'subtitles'>;
  video: VideoPackages;
  ts: TsTrack[];
}

export function finishNodes(graph: MainGraph, parts: PackageParts): void {
  const { add, source, plan, site, env } = graph;
  const { video } = plan;
  const { storyboard, pictures } = parts.pictures;
  const { subtitles } = parts;
  const manifests = add(node.manifests, {
    label: 'Write HLS and DASH manifests',
    dependsOn: [...parts.packages, ...(storyboard ? [storyboard] : []), ...(subtitles ? [subtitles] : []), ...parts.ts.map((t) => t.ref)],
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
          ts: parts.ts.map(({ rendition, ref }) => ({ rendition, track: results.get(ref) })).filter(({ track }) => !track.dropped),
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
  const { checkedRise, checkedQuality } = parts.video;
  const analysis = video && env.options.settings.rungs === 'auto' ? node.analyseLadder : undefined;
  const ladderNodes = [...(checkedRise ? [checkedRise] : []), ...(checkedQuality ? [checkedQuality] : []), ...(analysis ? [analysis] : [])];
  const publish = add(node.publish, {
    label: 'Publish package',
    dependsOn: [manifests, ...pictures, ...(metrics ? [metrics] : []), ...ladderNodes],
    run: (results, ctx) => publishJob({ options: env.options, source, plan, packageDir: site.packageDir, results }, env.publishing, ctx.signal),
  });
  add(node.metadata, { label: 'Record metadata', dependsOn: [publish], run: (results) => env.recordMetadata(results) });
}
