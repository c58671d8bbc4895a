/**
 * What finishes a package: the subtitles (WebVTT, beside the tracks), download.mp4
 * (`--download`), the manifests over every package node, the quality metrics of the written package (`--metrics`), publishing, and the
 * job's record where it started.
 */
import { writeManifests } from '../../core/stages/manifests.js';
import { extractSubtitles } from '../../core/stages/subtitles.js';
import { writeDownload } from '../../core/stages/download.js';
import { measurePackageQuality } from '../../metrics/stage.js';
import { VidpipeError } from '../../errors.js';
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

/**
 * download.mp4: the largest H.264 rendition the rise check kept (the file it measured, as
 * packaged), remuxed with the default AAC rendition.
 */
function downloadNode(graph: MainGraph, video: VideoPackages): NodeRef<'download'> | undefined {
  const { add, plan, site } = graph;
  const { download } = plan;
  if (!download || download.renditions.length === 0) return undefined;
  const { checkedRise, encodedFile, kept } = video;
  const audio = download.audio === undefined ? undefined : node.encodeAudio(download.audio);
  return add(node.download, {
    label: 'Write download.mp4',
    dependsOn: [...download.renditions.map((id) => node.assemble(id)), ...(audio ? [audio] : []), ...(checkedRise ? [checkedRise] : [])],
    run: (results, ctx) => {
      // The rise check keeps the largest rung of every codec (it drops one that does not rise above the one below).
      const top = download.renditions.find((id) => kept(results, id));
      if (!top) throw new VidpipeError('INTERNAL', 'download.mp4: the rise check kept no H.264 rendition');
      return writeDownload(
        {
          video: { renditionId: top, path: encodedFile(results, top) },
          ...(audio ? { audio: { renditionId: download.audio!, path: results.get(audio).path } } : {}),
          packageDir: site.packageDir,
          durationSeconds: plan.durationSeconds,
        },
        ctx,
      );
    },
  });
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
  const download = downloadNode(graph, parts.video);
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
    dependsOn: [manifests, ...pictures, ...(metrics ? [metrics] : []), ...(download ? [download] : []), ...ladderNodes],
    run: (results, ctx) => publishJob({ options: env.options, source, plan, packageDir: site.packageDir, results }, env.publishing, ctx.signal),
  });
  add(node.metadata, { label: 'Record metadata', dependsOn: [publish], run: (results) => env.recordMetadata(results) });
}
