/**
 * The MPEG-TS variants (`--hls-segments ts|both`): each H.264 rendition the plan names muxed
 * with the default AAC rendition, after the rise check (nothing for a rung it dropped).
 */
import { join } from 'node:path';
import type { Rendition } from '../../core/ladder.js';
import { packageTs } from '../../core/stages/package-ts.js';
import { node, type NodeRef } from '../nodes.js';
import type { MainGraph } from './builder.js';
import type { VideoPackages } from './video.js';

export interface TsTrack {
  rendition: Rendition;
  ref: NodeRef<'package-ts'>;
}

export function tsNodes(graph: MainGraph, video: VideoPackages): TsTrack[] {
  const { add, plan, site } = graph;
  const { checkedRise, encodedFile, kept } = video;
  return (plan.ts?.renditions ?? []).map((renditionId) => {
    const audio = plan.ts?.audio === undefined ? undefined : node.encodeAudio(plan.ts.audio);
    return {
      rendition: plan.video!.renditions.find((r) => r.id === renditionId)!,
      ref: add(node.packageTs(renditionId), {
        label: `Package ${renditionId} (MPEG-TS)`,
        dependsOn: [node.assemble(renditionId), ...(audio ? [audio] : []), ...(checkedRise ? [checkedRise] : [])],
        run: async (results, ctx) => {
          if (!kept(results, renditionId)) return { outputDir: '', segments: [], dropped: true };
          const track = await packageTs(
            {
              video: encodedFile(results, renditionId),
              audio: audio ? results.get(audio).path : undefined,
              outputDir: join(site.packageDir, 'ts', renditionId),
              segmentSeconds: plan.segmentDurationSeconds,
              durationSeconds: plan.durationSeconds,
            },
            ctx,
          );
          return (await graph.protection()).tsTrack(track);
        },
      }),
    };
  });
}
