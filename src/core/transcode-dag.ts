import { join } from 'node:path';
import { Dag } from './dag.js';
import type { JobPlan } from './plan.js';
import type { StageContext } from './stage.js';
import type { Preset } from './ladder.js';
import type { Av1Encoder } from '../ffmpeg/args/video.js';
import type { MediaProbe } from '../ffmpeg/probe.js';
import { encodeChunk, type EncodedChunk } from './stages/encode-video.js';
import { encodeAudio, type EncodedAudio } from './stages/encode-audio.js';
import { assembleRendition, type AssembledRendition } from './stages/assemble.js';
import { packageTrack, type PackagedTrack } from './stages/package.js';
import { writeManifests, type ManifestsOutput } from './stages/manifests.js';
import { createPoster } from './stages/poster.js';
import { createStoryboard } from './stages/storyboard.js';
import { extractCover } from './stages/cover.js';

/** The per-task context factory: the runner gives each node its own progress callback. */
export type ContextFor = (taskId: string, signal: AbortSignal) => StageContext;

export interface TranscodeDagInput {
  source: string;
  probe: MediaProbe;
  plan: JobPlan;
  preset: Preset;
  av1Encoder: Av1Encoder;
  packageDir: string;
  thumbnails: boolean;
  /** Publishes the finished package; returns what the metadata step records. */
  publish: (signal: AbortSignal) => Promise<unknown>;
  /** Writes the final metadata (one transaction). */
  recordMetadata: (results: ReadonlyMap<string, unknown>) => Promise<unknown>;
}

/** Node ids, named after what they produce. */
export const nodeId = {
  encodeChunk: (i: number) => `encode-video-${i}`,
  encodeAudio: (id: string) => `encode-audio-${id}`,
  assemble: (id: string) => `assemble-${id}`,
  package: (id: string) => `package-${id}`,
};

/**
 * Builds the job's graph: encode chunk[i] (all video renditions) and encode audio →
 * assemble each rendition → package each track → manifests; poster and storyboard from
 * the source in parallel → publish → metadata. Nothing flows backwards.
 */
export function buildTranscodeDag(input: TranscodeDagInput, contextFor: ContextFor): Dag {
  const dag = new Dag();
  const { plan } = input;
  const video = plan.video;
  const packageNodes: string[] = [];
  const results = (done: ReadonlyMap<string, unknown>, id: string) => done.get(id);

  if (video) {
    const chunkIds = video.chunks.map((chunk) => {
      const id = nodeId.encodeChunk(chunk.index);
      dag.add({
        id,
        kind: 'encode-video',
        label: `Encode chunk ${chunk.index + 1}/${video.chunks.length} (${video.renditions.length} renditions)`,
        dependsOn: [],
        priority: 100 - chunk.index / 1000,
        run: (_ctx, signal) =>
          encodeChunk({ source: input.source, video, chunk, preset: input.preset, av1Encoder: input.av1Encoder }, contextFor(id, signal)),
      });
      return id;
    });
    for (const rendition of video.renditions) {
      const assembleId = nodeId.assemble(rendition.id);
      dag.add({
        id: assembleId,
        kind: 'assemble',
        label: `Assemble ${rendition.id}`,
        dependsOn: chunkIds,
        priority: 50,
        run: (ctx, signal) =>
          assembleRendition(
            {
              renditionId: rendition.id,
              chunks: chunkIds.map((cid) => {
                const chunk = results(ctx, cid) as EncodedChunk;
                return { path: chunk.files[rendition.id]!, frames: chunk.frames };
              }),
            },
            contextFor(assembleId, signal),
          ),
      });
      const packageId = nodeId.package(rendition.id);
      packageNodes.push(packageId);
      dag.add({
        id: packageId,
        kind: 'package',
        label: `Package ${rendition.id}`,
        dependsOn: [assembleId],
        priority: 40,
        run: (ctx, signal) =>
          packageTrack(
            {
              input: (results(ctx, assembleId) as AssembledRendition).path,
              outputDir: join(input.packageDir, 'video', rendition.id),
              segmentSeconds: plan.segmentDurationSeconds,
              fragmentSeconds: (video.gopFrames * video.frameRate.den) / video.frameRate.num,
              durationSeconds: plan.durationSeconds,
            },
            contextFor(packageId, signal),
          ),
      });
    }
  }

  for (const rendition of plan.audio) {
    const encodeId = nodeId.encodeAudio(rendition.id);
    dag.add({
      id: encodeId,
      kind: 'encode-audio',
      label: `Encode audio ${rendition.id}`,
      dependsOn: [],
      priority: 90,
      run: (_ctx, signal) =>
        encodeAudio(
          {
            source: input.source,
            rendition,
            fitToSeconds: video ? plan.durationSeconds : undefined,
            durationSeconds: plan.durationSeconds,
          },
          contextFor(encodeId, signal),
        ),
    });
    const packageId = nodeId.package(rendition.id);
    packageNodes.push(packageId);
    dag.add({
      id: packageId,
      kind: 'package',
      label: `Package ${rendition.id}`,
      dependsOn: [encodeId],
      priority: 40,
      run: (ctx, signal) =>
        packageTrack(
          {
            input: (results(ctx, encodeId) as EncodedAudio).path,
            outputDir: join(input.packageDir, 'audio', rendition.id),
            segmentSeconds: plan.segmentDurationSeconds,
            fragmentSeconds: plan.segmentDurationSeconds,
            durationSeconds: plan.durationSeconds,
          },
          contextFor(packageId, signal),
        ),
    });
  }

  const imageNodes: string[] = [];
  if (input.thumbnails && video) {
    imageNodes.push('poster', 'storyboard');
    dag.add({
      id: 'poster',
      kind: 'poster',
      label: 'Poster',
      dependsOn: [],
      priority: 10,
      run: (_ctx, signal) => createPoster({ source: input.source, probe: input.probe, outDir: input.packageDir }, contextFor('poster', signal)),
    });
    dag.add({
      id: 'storyboard',
      kind: 'storyboard',
      label: 'Storyboard',
      dependsOn: [],
      priority: 5,
      run: (_ctx, signal) => createStoryboard({ source: input.source, probe: input.probe, outDir: input.packageDir }, contextFor('storyboard', signal)),
    });
  } else if (input.thumbnails) {
    imageNodes.push('cover');
    dag.add({
      id: 'cover',
      kind: 'cover',
      label: 'Cover art',
      dependsOn: [],
      priority: 10,
      run: (_ctx, signal) => extractCover({ source: input.source, probe: input.probe, outDir: input.packageDir }, contextFor('cover', signal)),
    });
  }

  dag.add({
    id: 'manifests',
    kind: 'manifests',
    label: 'Write HLS and DASH manifests',
    dependsOn: [...packageNodes, ...imageNodes.filter((n) => n === 'storyboard')],
    priority: 30,
    run: (ctx, signal) =>
      writeManifests(
        {
          packageDir: input.packageDir,
          segmentDurationSeconds: plan.segmentDurationSeconds,
          durationSeconds: plan.durationSeconds,
          frameRate: video?.frameRate,
          videos: (video?.renditions ?? []).map((rendition) => ({ rendition, track: results(ctx, nodeId.package(rendition.id)) as PackagedTrack })),
          audios: plan.audio.map((rendition) => ({ rendition, track: results(ctx, nodeId.package(rendition.id)) as PackagedTrack })),
          storyboardVttUri: ctx.has('storyboard') ? 'storyboard/storyboard.vtt' : undefined,
        },
        contextFor('manifests', signal),
      ) satisfies Promise<ManifestsOutput>,
  });
  dag.add({
    id: 'publish',
    kind: 'publish',
    label: 'Publish package',
    dependsOn: ['manifests', ...imageNodes],
    priority: 20,
    run: (_ctx, signal) => input.publish(signal),
  });
  dag.add({
    id: 'metadata',
    kind: 'metadata',
    label: 'Record metadata',
    dependsOn: ['publish'],
    priority: 20,
    run: (ctx) => input.recordMetadata(ctx),
  });
  return dag;
}
