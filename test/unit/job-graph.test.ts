/**
 * The job's graph, as the one builder (src/job/graph.ts) makes it from a plan and the job's
 * options: which nodes, of which kind, waiting for which. The same builder serves a local run
 * and queue workers, so these shapes are the shapes everywhere.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Dag, type DagTask } from '../../src/core/dag.js';
import { planJob, withRenditions } from '../../src/core/plan.js';
import { parseProbe, type MediaProbe } from '../../src/ffmpeg/probe.js';
import type { InspectedSource } from '../../src/ffmpeg/source-file.js';
import { FfmpegRunner } from '../../src/ffmpeg/runner.js';
import { buildJobGraph, type JobEnvironment } from '../../src/job/graph.js';
import type { GraphState, JobOptions } from '../../src/job/job-options.js';
import { NODE_KINDS, isNodeKind } from '../../src/job/nodes.js';
import { DEFAULT_SETTINGS, type JobSettings } from '../../src/settings/job-settings.js';

const h264Video = { index: 0, codec_type: 'video', codec_name: 'h264', width: 640, height: 360, avg_frame_rate: '30', r_frame_rate: '30', duration: '12', start_time: '0' };
const aac = (index: number) => ({ index, codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000', disposition: { default: index === 1 ? 1 : 0 } });
const flac = { index: 0, codec_type: 'audio', codec_name: 'flac', channels: 2, sample_rate: '44100' };

function probeOf(streams: object[], format = 'mov,mp4'): MediaProbe {
  return parseProbe('/in/source', 1000, { streams: streams as never, format: { format_name: format, duration: '12', start_time: '0' } });
}

const never = async (): Promise<never> => assert.fail('no node runs while the graph is built');
const env = (settings: JobSettings): JobEnvironment => {
  const options: JobOptions = { jobId: 'jtest', input: 'in.mp4', out: '/out', settings, package: { name: 'in', given: false, video: { id: 'v1', sha256: 'ab' } } };
  return {
    options,
    contextFor: (_id, signal) => ({
      ffmpeg: new FfmpegRunner({ binaries: { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' }, stallTimeoutMs: 0, cores: 2, parallelEncodes: 1 }, signal),
      signal,
      onProgress: () => undefined,
      workDir: '/work',
    }),
    probe: never,
    publishing: {},
    recordMetadata: never,
  };
};

/** The whole graph of a job whose probe, copy (if any) and plan have run (and what `grown` adds to its state). */
function graphOf(streams: object[], overrides: Partial<JobSettings> = {}, format?: string, grown: (state: GraphState) => void = () => undefined): { tasks: DagTask[]; complete: boolean } {
  const settings = { ...DEFAULT_SETTINGS, concurrency: 2, chunkSeconds: 6, ...overrides };
  const probe = probeOf(streams, format);
  const inspected: InspectedSource = { path: '/in/source', probe, notes: [], ...(format === 'mpegts' ? { copyReason: 'MPEG-TS: chunks seek by key frame only in MP4 and Matroska' } : {}) };
  const source = { path: inspected.copyReason ? '/work/source/source.mkv' : inspected.path, probe, notes: [] };
  const state: GraphState = { inspected, source, plan: planJob(probe, settings, { av1Encoder: 'libsvtav1' }), site: { workDir: '/work', packageDir: '/work/package' } };
  grown(state);
  return buildJobGraph(state, env(settings));
}


/** id → [kind, dependencies] of a graph, after checking it is one acyclic graph of known kinds. */
function shape(graph: { tasks: DagTask[] }): Record<string, [string, string[]]> {
  const dag = new Dag();
  for (const task of graph.tasks) dag.add(task);
  dag.topologicalOrder();
  for (const task of graph.tasks) assert.ok(isNodeKind(task.kind), `${task.id}: kind ${task.kind} is in the table`);
  return Object.fromEntries(graph.tasks.map((t) => [t.id, [t.kind, [...t.dependsOn].sort()]]));
}

describe('the job graph', () => {
  it('grows with what the job knows: the probe, then the plan, then everything the plan asks for', () => {
    const settings = { ...DEFAULT_SETTINGS };
    assert.deepEqual(shape(buildJobGraph({}, env(settings))), { probe: ['probe', []] });
    const probe = probeOf([h264Video, aac(1)]);
    const probed = buildJobGraph({ inspected: { path: '/in/source', probe, notes: [] } }, env(settings));
    assert.equal(probed.complete, false);
    assert.deepEqual(shape(probed), { probe: ['probe', []], plan: ['plan', ['probe']] });
    const copied = buildJobGraph({ inspected: { path: '/in/source', probe, notes: [], copyReason: 'MPEG-TS' } }, env(settings));
    assert.deepEqual(shape(copied), { probe: ['probe', []], 'prepare-source': ['prepare-source', ['probe']], plan: ['plan', ['prepare-source']] });
  });

  it('video: one chunk encode per chunk feeding every rendition, then assemble, package, manifests, pictures, publish, metadata', () => {
    const graph = graphOf([h264Video, aac(1)], { rungs: [{ size: 360, kbps: 730 }, { size: 234, kbps: 145 }] });
    assert.equal(graph.complete, true);
    const chunks = ['encode-video-0', 'encode-video-1'];
    assert.deepEqual(shape(graph), {
      probe: ['probe', []],
      plan: ['plan', ['probe']],
      'encode-video-0': ['encode-video', ['plan']],
      'encode-video-1': ['encode-video', ['plan']],
      'assemble-h264-360p': ['assemble', chunks],
      'package-h264-360p': ['package', ['assemble-h264-360p', 'check-rise']],
      'assemble-h264-234p': ['assemble', chunks],
      'check-rise': ['check-rise', ['assemble-h264-234p', 'assemble-h264-360p']],
      'package-h264-234p': ['package', ['assemble-h264-234p', 'check-rise']],
      'encode-audio-aac-128k': ['encode-audio', ['plan']],
      'package-aac-128k': ['package', ['encode-audio-aac-128k']],
      // Chosen on the smallest rendition, decoded from the one at the poster's size (the source is 360p).
      poster: ['poster', ['assemble-h264-234p', 'assemble-h264-360p']],
      storyboard: ['storyboard', ['assemble-h264-234p']],
      manifests: ['manifests', ['package-aac-128k', 'package-h264-234p', 'package-h264-360p', 'storyboard']],
      publish: ['publish', ['check-rise', 'manifests', 'poster', 'storyboard']],
      metadata: ['metadata', ['publish']],
    });
    // Chunks first, in timeline order: they are the critical path.
    const priority = new Map(graph.tasks.map((t) => [t.id, t.priority ?? 0]));
    assert.ok(priority.get('encode-video-0')! > priority.get('encode-video-1')! && priority.get('encode-video-1')! > priority.get('encode-audio-aac-128k')!);
  });

  it('audio only: the loudness pass before every AAC encode, cover art, no video nodes', () => {
    const graph = shape(graphOf([flac]));
    assert.deepEqual(Object.keys(graph).filter((id) => graph[id]![0] === 'encode-audio'), ['encode-audio-aac-64k', 'encode-audio-aac-128k', 'encode-audio-aac-256k']);
    for (const id of ['encode-audio-aac-64k', 'encode-audio-aac-128k', 'encode-audio-aac-256k']) assert.deepEqual(graph[id]![1], ['loudness']);
    assert.deepEqual(graph.loudness, ['loudness', ['plan']]);
    assert.deepEqual(graph.cover, ['cover', ['plan']]);
    assert.deepEqual(graph.publish![1], ['cover', 'manifests']);
    assert.ok(!Object.values(graph).some(([kind]) => ['encode-video', 'assemble', 'poster', 'storyboard'].includes(kind)));
  });

  it('several codecs: the chunk encodes are shared, each codec has its renditions, thumbnails come from the smallest H.264 one', () => {
    const graph = shape(graphOf([h264Video, aac(1)], { codecs: ['h264', 'hevc'], rungs: [{ size: 360, kbps: 730 }, { size: 234, kbps: 145 }] }));
    assert.deepEqual(Object.keys(graph).filter((id) => graph[id]![0] === 'assemble').sort(), ['assemble-h264-234p', 'assemble-h264-360p', 'assemble-hevc-234p', 'assemble-hevc-360p']);
    for (const id of ['assemble-hevc-234p', 'assemble-h264-360p']) assert.deepEqual(graph[id]![1], ['encode-video-0', 'encode-video-1']);
    assert.deepEqual(graph.poster![1], ['assemble-h264-234p', 'assemble-h264-360p']);
    assert.equal(Object.keys(graph).filter((id) => graph[id]![0] === 'encode-video').length, 2);
  });

  it('an MPEG-TS input: its Matroska copy is a node before the plan, and TS variants mux H.264 with the default AAC', () => {
    const graph = shape(graphOf([h264Video, aac(1), aac(2)], { hlsSegments: 'both', rungs: [{ size: 360, kbps: 730 }] }, 'mpegts'));
    assert.deepEqual(graph['prepare-source'], ['prepare-source', ['probe']]);
    assert.deepEqual(graph.plan, ['plan', ['prepare-source']]);
    assert.deepEqual(graph['package-ts-h264-360p'], ['package-ts', ['assemble-h264-360p', 'check-rise', 'encode-audio-aac-128k-1']]);
    assert.ok(graph.manifests![1].includes('package-ts-h264-360p'));
  });

  it('--metrics: the metrics node reads the written package, and publishing waits for it', () => {
    const graph = shape(graphOf([h264Video, aac(1)], { metrics: true, thumbnails: false }));
    assert.deepEqual(graph.metrics, ['metrics', ['manifests']]);
    assert.deepEqual(graph.publish, ['publish', ['check-rise', 'manifests', 'metrics']]);
    assert.ok(!('poster' in graph) && !('storyboard' in graph));
    assert.ok(!('metrics' in shape(graphOf([flac], { metrics: true }))), 'no pictures to measure in an audio job');
  });

  it('packages a video rung only after the rise check: every rendition\'s package and TS variant waits for it', () => {
    const graph = shape(graphOf([h264Video, aac(1)], { rungs: [{ size: 360, kbps: 730 }, { size: 234, kbps: 145 }], hlsSegments: 'both' }));
    assert.deepEqual(graph['check-rise'], ['check-rise', ['assemble-h264-234p', 'assemble-h264-360p']]);
    for (const id of ['h264-360p', 'h264-234p']) {
      assert.deepEqual(graph[`package-${id}`]![1], [`assemble-${id}`, 'check-rise']);
      assert.ok(graph[`package-ts-${id}`]![1].includes('check-rise'), id);
    }
    assert.deepEqual(graph['package-aac-128k']![1], ['encode-audio-aac-128k'], 'audio does not wait for it');
    // A fixed ladder makes no quality promise: no quality check, and the rise check reads no source (a queue worker fetches none for it).
    assert.ok(!('check-quality' in graph));
    assert.equal(NODE_KINDS['check-rise'].reads, 'nothing');
    assert.equal(NODE_KINDS['check-quality'].reads, 'source');
  });

  it('--ladder auto: the analysis node before the encodes, which are added once it has chosen the renditions', () => {
    const before = graphOf([h264Video, aac(1)], { rungs: 'auto' }, undefined, () => undefined);
    assert.equal(before.complete, false);
    assert.deepEqual(shape(before), { probe: ['probe', []], plan: ['plan', ['probe']], 'analyse-ladder': ['analyse-ladder', ['plan']] });
    const after = shape(graphOf([h264Video, aac(1)], { rungs: 'auto' }, undefined, (state) => {
      const top = state.plan!.video!.renditions[0]!;
      state.ladder = { choice: { rungs: [{ rendition: { ...top, crf: 24 } }] } } as unknown as GraphState['ladder'];
      state.plan = withRenditions(state.plan!, [{ ...top, crf: 24 }]);
    }));
    assert.deepEqual(after['encode-video-0'], ['encode-video', ['analyse-ladder']]);
    assert.ok(after.publish![1].includes('analyse-ladder'), 'the package report reads the analysis');
    // The quality check between the assembles and the rise check; the package report reads it too.
    assert.deepEqual(after['check-quality'], ['check-quality', ['analyse-ladder', 'assemble-h264-360p']]);
    assert.deepEqual(after['check-rise'], ['check-rise', ['assemble-h264-360p', 'check-quality']]);
    assert.ok(after.publish![1].includes('check-quality'));
    assert.deepEqual(Object.keys(after).filter((id) => after[id]![0] === 'assemble'), ['assemble-h264-360p']);
    assert.deepEqual(after.poster![1], ['assemble-h264-360p'], 'thumbnails follow the chosen renditions');
    assert.deepEqual(shape(graphOf([flac], { rungs: 'auto' })).plan, ['plan', ['probe']]);
    assert.ok(!('analyse-ladder' in shape(graphOf([flac], { rungs: 'auto' }))), 'no ladder to choose for audio');
  });

  it('declares every kind it uses once, with where it runs and what it reads', () => {
    const kinds = new Set([...graphOf([h264Video, aac(1)], { metrics: true, hlsSegments: 'both' }, 'mpegts').tasks, ...graphOf([flac]).tasks].map((t) => t.kind));
    for (const kind of kinds) assert.ok(isNodeKind(kind) && NODE_KINDS[kind], kind);
    assert.deepEqual(Object.entries(NODE_KINDS).filter(([, spec]) => spec.runsOn === 'submitter').map(([kind]) => kind), ['probe', 'plan', 'metadata']);
  });
});
