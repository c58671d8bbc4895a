import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Dag } from './dag.js';
import type { JobPlan } from './plan.js';
import type { StageContext } from './stage.js';
import type { Preset } from './ladder.js';
import type { Av1Encoder } from '../ffmpeg/args/video.js';
import { probeFile, type MediaProbe } from '../ffmpeg/probe.js';
import { encodeChunk, type EncodedChunk } from './stages/encode-video.js';
import { encodeAudio, type EncodedAudio } from './stages/encode-audio.js';
import { analyseLoudness, gainFor, type LoudnessAnalysis } from './stages/loudness.js';
import { assembleRendition, type AssembledRendition } from './stages/assemble.js';
import { packageTrack, type PackagedTrack } from './stages/package.js';
import { writeManifests, type ManifestsOutput } from './stages/manifests.js';
import { createPoster } from './stages/poster.js';
import { createStoryboard, type StoryboardResult } from './stages/storyboard.js';
import { extractSubtitles, type SubtitlesOutput } from './stages/subtitles.js';
import { packageTs, type PackagedTsTrack } from './stages/package-ts.js';
import { extractCover } from './stages/cover.js';
import { measurePackageQuality } from '../metrics/stage.js';

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
  /** Tasks run at once (sizes the encoders' thread count). */
  concurrency?: number;
  /** Measure PSNR/SSIM of every video rendition against the source (`--metrics`). */
  metrics?: boolean;
  /** Publishes the finished package; returns what the metadata step records. */
  publish: (signal: AbortSignal, results: ReadonlyMap<string, unknown>) => Promise<unknown>;
  /** Writes the final metadata (one transaction). */
  recordMetadata: (results: ReadonlyMap<string, unknown>) => Promise<unknown>;
}

/** Node ids, named after what they produce. */
export const nodeId = {
  encodeChunk: (i: number) => `encode-video-${i}`,
  encodeAudio: (id: string) => `encode-audio-${id}`,
  assemble: (id: string) => `assemble-${id}`,
  package: (id: string) => `package-${id}`,
  packageTs: (id: string) => `package-ts-${id}`,
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
  /** Cuts one encoded track into CMAF segments under <package>/<folder>/<id>/. */
  const addPackageNode = (
    trackId: string,
    encodedBy: string,
    encodedPath: (done: ReadonlyMap<string, unknown>) => string,
    folder: 'video' | 'audio',
    fragmentSeconds: number,
  ) => {
    const packageId = nodeId.package(trackId);
    packageNodes.push(packageId);
    dag.add({
      id: packageId,
      kind: 'package',
      label: `Package ${trackId}`,
      dependsOn: [encodedBy],
      priority: 40,
      run: (done, signal) =>
        packageTrack(
          {
            input: encodedPath(done),
            outputDir: join(input.packageDir, folder, trackId),
            segmentSeconds: plan.segmentDurationSeconds,
            fragmentSeconds,
            durationSeconds: plan.durationSeconds,
          },
          contextFor(packageId, signal),
        ),
    });
  };

  if (video) {
    // As many chunk processes as cores run at once: give each encoder its share of the cores.
    const parallelChunks = Math.max(1, Math.min(input.concurrency ?? availableParallelism(), video.chunks.length));
    const encoderThreads = Math.max(1, Math.floor(availableParallelism() / parallelChunks));
    const chunkIds = video.chunks.map((chunk) => {
      const id = nodeId.encodeChunk(chunk.index);
      dag.add({
        id,
        kind: 'encode-video',
        label: `Encode chunk ${chunk.index + 1}/${video.chunks.length} (${video.renditions.length} renditions)`,
        dependsOn: [],
        priority: 100 - chunk.index / 1000,
        run: (_ctx, signal) =>
          encodeChunk({ source: input.source, video, chunk, preset: input.preset, av1Encoder: input.av1Encoder, encoderThreads }, contextFor(id, signal)),
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
                return { path: chunk.files[rendition.id]!, frames: chunk.frames, decodeErrors: chunk.decodeErrors, firstDecodeError: chunk.firstDecodeError };
              }),
              video,
            },
            contextFor(assembleId, signal),
          ),
      });
      addPackageNode(rendition.id, assembleId, (done) => (results(done, assembleId) as AssembledRendition).path, 'video', (video.gopFrames * video.frameRate.den) / video.frameRate.num);
    }
  }

  // Audio-only jobs always run it: it decodes every frame (rejecting corrupt files before any
  // encode) and records the loudness even with --loudness off. Video jobs only when normalising.
  const loudnessNode = plan.audio.length > 0 && (plan.kind === 'audio' || plan.loudnessTarget !== undefined) ? 'loudness' : undefined;
  if (loudnessNode) {
    dag.add({
      id: loudnessNode,
      kind: 'loudness',
      label: plan.loudnessTarget === undefined ? 'Measure loudness' : `Measure loudness (target ${plan.loudnessTarget} LUFS)`,
      dependsOn: [],
      priority: 95,
      run: (_ctx, signal) =>
        analyseLoudness(
          { source: input.source, renditions: plan.audio, target: plan.loudnessTarget, durationSeconds: plan.durationSeconds },
          contextFor(loudnessNode, signal),
        ),
    });
  }
  for (const rendition of plan.audio) {
    const encodeId = nodeId.encodeAudio(rendition.id);
    dag.add({
      id: encodeId,
      kind: 'encode-audio',
      label: `Encode audio ${rendition.id}`,
      dependsOn: loudnessNode ? [loudnessNode] : [],
      priority: 90,
      run: (ctx, signal) =>
        encodeAudio(
          {
            source: input.source,
            rendition,
            fitToSeconds: video ? plan.durationSeconds : undefined,
            durationSeconds: plan.durationSeconds,
            gain: gainFor(loudnessNode ? (results(ctx, loudnessNode) as LoudnessAnalysis) : undefined, rendition),
            measureOutput: loudnessNode !== undefined,
            target: plan.loudnessTarget,
          },
          contextFor(encodeId, signal),
        ),
    });
    addPackageNode(rendition.id, encodeId, (done) => (results(done, encodeId) as EncodedAudio).path, 'audio', plan.segmentDurationSeconds);
  }

  const imageNodes: string[] = [];
  if (input.thumbnails && video) {
    imageNodes.push('poster', 'storyboard');
    // Thumbnails are read from the smallest assembled rendition: same timeline, upright, square
    // pixels, 2 s GOPs, a fraction of the pixels. Decoding a 1080p long-GOP source for 160-pixel
    // thumbnails cost more CPU than a rendition's encode (measured in `npm run bench`).
    const smallest = [...video.renditions].sort((a, b) => a.width * a.height - b.width * b.height || Number(b.codec === 'h264') - Number(a.codec === 'h264'))[0]!;
    const smallAssembled = nodeId.assemble(smallest.id);
    const smallCopy = async (done: ReadonlyMap<string, unknown>, ctx: StageContext) => {
      const path = (results(done, smallAssembled) as AssembledRendition).path;
      return { source: path, probe: await probeFile(ctx.binaries.ffprobe, path, ctx.signal) };
    };
    dag.add({
      id: 'poster',
      kind: 'poster',
      label: 'Poster',
      dependsOn: [smallAssembled],
      priority: 45,
      run: async (done, signal) => {
        const ctx = contextFor('poster', signal);
        return createPoster({ source: input.source, probe: input.probe, outDir: input.packageDir, analysis: await smallCopy(done, ctx) }, ctx);
      },
    });
    dag.add({
      id: 'storyboard',
      kind: 'storyboard',
      label: 'Storyboard',
      dependsOn: [smallAssembled],
      priority: 45,
      run: async (done, signal) => {
        const ctx = contextFor('storyboard', signal);
        const small = await smallCopy(done, ctx);
        return createStoryboard({ source: small.source, probe: small.probe, outDir: input.packageDir }, ctx);
      },
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

  const subtitleNodes = plan.subtitles && plan.subtitles.length > 0 ? ['subtitles'] : [];
  for (const id of subtitleNodes) {
    dag.add({
      id,
      kind: 'subtitles',
      label: `Subtitles (${plan.subtitles!.length} tracks)`,
      dependsOn: [],
      priority: 10,
      run: (_ctx, signal) => extractSubtitles({ source: input.source, tracks: plan.subtitles! }, contextFor(id, signal)),
    });
  }
  // MPEG-TS variants: each H.264 rendition muxed with the default AAC rendition.
  const tsAudio = plan.audio.filter((r) => r.codec === 'aac').find((r) => r.isDefault) ?? plan.audio.find((r) => r.codec === 'aac');
  const tsRenditions = video && (plan.hlsSegments ?? 'fmp4') !== 'fmp4' ? video.renditions.filter((r) => r.codec === 'h264') : [];
  for (const rendition of tsRenditions) {
    const id = nodeId.packageTs(rendition.id);
    dag.add({
      id,
      kind: 'package',
      label: `Package ${rendition.id} (MPEG-TS)`,
      dependsOn: [nodeId.assemble(rendition.id), ...(tsAudio ? [nodeId.encodeAudio(tsAudio.id)] : [])],
      priority: 40,
      run: (ctx, signal) =>
        packageTs(
          {
            video: (results(ctx, nodeId.assemble(rendition.id)) as AssembledRendition).path,
            audio: tsAudio ? (results(ctx, nodeId.encodeAudio(tsAudio.id)) as EncodedAudio).path : undefined,
            outputDir: join(input.packageDir, 'ts', rendition.id),
            segmentSeconds: plan.segmentDurationSeconds,
            durationSeconds: plan.durationSeconds,
          },
          contextFor(id, signal),
        ),
    });
  }

  dag.add({
    id: 'manifests',
    kind: 'manifests',
    label: 'Write HLS and DASH manifests',
    dependsOn: [...packageNodes, ...imageNodes.filter((n) => n === 'storyboard'), ...subtitleNodes, ...tsRenditions.map((r) => nodeId.packageTs(r.id))],
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
          storyboard: ctx.has('storyboard') ? (results(ctx, 'storyboard') as StoryboardResult) : undefined,
          subtitles: ctx.has('subtitles') ? (results(ctx, 'subtitles') as SubtitlesOutput).tracks : undefined,
          ts: tsRenditions.map((rendition) => ({ rendition, track: results(ctx, nodeId.packageTs(rendition.id)) as PackagedTsTrack })),
          hlsSegments: plan.hlsSegments,
        },
        contextFor('manifests', signal),
      ) satisfies Promise<ManifestsOutput>,
  });
  const metricsNodes = input.metrics && video ? ['metrics'] : [];
  for (const id of metricsNodes) {
    dag.add({
      id,
      kind: 'metrics',
      label: 'Quality metrics (PSNR, SSIM)',
      dependsOn: ['manifests'],
      priority: 15,
      run: (ctx, signal) =>
        measurePackageQuality(
          { source: input.source, plan, model: (results(ctx, 'manifests') as ManifestsOutput).model, packageDir: input.packageDir },
          contextFor(id, signal),
        ),
    });
  }
  dag.add({
    id: 'publish',
    kind: 'publish',
    label: 'Publish package',
    dependsOn: ['manifests', ...imageNodes, ...metricsNodes],
    priority: 20,
    run: (ctx, signal) => input.publish(signal, ctx),
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
