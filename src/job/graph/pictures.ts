/**
 * The pictures of a package: a video's poster and storyboard, made from a small assembled
 * rendition (the poster's frame decoded from the one at its size), or an audio file's cover art.
 */
import type { StageContext } from '../../core/stage.js';
import { createPoster } from '../../core/stages/poster.js';
import { createStoryboard } from '../../core/stages/storyboard.js';
import { extractCover } from '../../core/stages/cover.js';
import { probeFile } from '../../ffmpeg/probe.js';
import { node, type NodeRef, type NodeResultsView } from '../nodes.js';
import type { MainGraph } from './builder.js';

export interface PictureNodes {
  /** Every picture node: publishing waits for them. */
  pictures: NodeRef[];
  /** The manifests point at its thumbnails track. */
  storyboard?: NodeRef<'storyboard'>;
}

export function pictureNodes(graph: MainGraph): PictureNodes {
  const { add, source, plan, site } = graph;
  const { video, thumbnails } = plan;
  if (thumbnails?.kind === 'poster-storyboard') {
    const small = node.assemble(thumbnails.fromRendition);
    // The rendition's key frames are on the GOP grid from 0: the storyboard decodes only those, and the poster's candidates are taken there.
    const keyFrameSeconds = (video!.gopFrames * video!.frameRate.den) / video!.frameRate.num;
    const smallCopy = async (results: NodeResultsView, ctx: StageContext) => {
      const path = results.get(small).path;
      return { source: path, probe: await probeFile(ctx.ffmpeg.binaries.ffprobe, path, ctx.signal), keyFrameSeconds };
    };
    const frameFrom = thumbnails.posterFrameFrom === undefined ? undefined : node.assemble(thumbnails.posterFrameFrom);
    const poster = add(node.poster, {
      label: 'Poster',
      dependsOn: [small, ...(frameFrom ? [frameFrom] : [])],
      run: async (results, ctx) =>
        createPoster(
          { source: source.path, probe: source.probe, outDir: site.packageDir, analysis: await smallCopy(results, ctx), frameSource: frameFrom && results.get(frameFrom).path },
          ctx,
        ),
    });
    const storyboard = add(node.storyboard, {
      label: 'Storyboard',
      dependsOn: [small],
      run: async (results, ctx) => {
        const copy = await smallCopy(results, ctx);
        return createStoryboard({ source: copy.source, probe: copy.probe, outDir: site.packageDir, keyFrameSeconds }, ctx);
      },
    });
    return { pictures: [poster, storyboard], storyboard };
  }
  if (thumbnails?.kind === 'cover') {
    return { pictures: [add(node.cover, { label: 'Cover art', dependsOn: [node.plan], run: (_r, ctx) => extractCover({ source: source.path, probe: source.probe, outDir: site.packageDir }, ctx) })] };
  }
  return { pictures: [] };
}
