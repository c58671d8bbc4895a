/**
 * The result summary of a job (the `--json` contract of src/core/result.ts) from its plan and
 * its nodes' results: what the metadata node records, what the package's vidpipe.json says, and
 * what `vidpipe status --db` records for a job that finished on queue workers. Fields of the
 * contract are only ever added, never renamed or removed.
 */
import type { TrackBase } from '../manifest/model.js';
import type { SourceFile } from '../ffmpeg/source-file.js';
import { programLabel } from '../ffmpeg/probe.js';
import type { GainPlan, LoudnessMeasurement } from '../ffmpeg/args/audio.js';
import type { JobPlan } from '../core/plan.js';
import type { LoudnessReport, LoudnessValues, QualityMetrics, RenditionSummary, SourceSummary, TranscodeResult } from '../core/result.js';
import { gainFor, TRUE_PEAK_LIMIT_DBTP } from '../core/stages/loudness.js';
import type { ManifestsOutput } from '../core/stages/manifests.js';
import { DOWNLOAD_KEY } from '../core/stages/download.js';
import { packageUris, type ChosenPackage } from '../storage/publish.js';
import { parseLocation } from '../storage/index.js';
import { ladderReport } from '../ladder/report.js';
import { NodeResultsView, node } from './nodes.js';
import type { JobOptions } from './job-options.js';

const round2 = (value: number) => Math.round(value * 100) / 100;
export const round3 = (value: number) => Math.round(value * 1000) / 1000;

/** How the source was read, when that took a decision (a program chosen, a clock made continuous). */
export function sourceSummary(source: Pick<SourceFile, 'notes' | 'remuxReason' | 'probe'>): SourceSummary | undefined {
  if (source.notes.length === 0) return undefined;
  return { ...(source.probe.program ? { program: programLabel(source.probe.program) } : {}), ...(source.remuxReason ? { remuxed: source.remuxReason } : {}), notes: source.notes };
}

/** Corrupt frames the chunk and audio encodes reported (below the limits, or accepted with --allow-decode-errors). */
export function withDecodeErrors(summary: SourceSummary | undefined, plan: JobPlan, results: NodeResultsView): SourceSummary | undefined {
  const count = (plan.video?.chunks ?? []).reduce((sum, chunk) => sum + (results.find(node.encodeVideo(chunk.index))?.decodeErrors ?? 0), 0);
  // Renditions of one source stream each decode it, and see the same damage.
  const perStream = new Map<number, number>();
  for (const rendition of plan.audio) {
    const errors = results.find(node.encodeAudio(rendition.id))?.decodeErrors ?? 0;
    perStream.set(rendition.streamIndex, Math.max(errors, perStream.get(rendition.streamIndex) ?? 0));
  }
  const audioCount = [...perStream.values()].reduce((a, b) => a + b, 0);
  if (count === 0 && audioCount === 0) return summary;
  const plural = (n: number) => (n > 1 ? 's' : '');
  const notes = [
    ...(count > 0 ? [`the decoder concealed ${count} damaged frame${plural(count)}${plan.video?.maxDecodeErrors === undefined ? ' (--allow-decode-errors)' : ''}`] : []),
    ...(audioCount > 0 ? [`the audio decoder skipped ${audioCount} damaged frame${plural(audioCount)}, silent in the package${plan.maxAudioDecodeErrors === undefined ? ' (--allow-decode-errors)' : ''}`] : []),
  ];
  return { ...summary, ...(count > 0 ? { decodeErrors: count } : {}), ...(audioCount > 0 ? { audioDecodeErrors: audioCount } : {}), notes: [...(summary?.notes ?? []), ...notes] };
}

/** Wall-clock seconds per node kind, from each node's start and end. */
export function spanSeconds(spans: readonly { kind: string; start: number; end: number }[]): Record<string, number> {
  const byKind = new Map<string, { start: number; end: number }>();
  for (const e of spans) {
    const span = byKind.get(e.kind);
    byKind.set(e.kind, span ? { start: Math.min(span.start, e.start), end: Math.max(span.end, e.end) } : { start: e.start, end: e.end });
  }
  return Object.fromEntries([...byKind].map(([kind, s]) => [kind, round3((s.end - s.start) / 1000)]));
}

/** Where the package's files are, by what the nodes produced. */
export function packageOutputs(options: Pick<JobOptions, 'out' | 'jobId'>, chosen: ChosenPackage, results: NodeResultsView): TranscodeResult['outputs'] {
  const uris = packageUris(parseLocation(options.out), chosen.name, options.jobId);
  return {
    root: uris.releaseRoot,
    hls: uris.uriFor('master.m3u8'),
    // No MPD for whole-segment AES-128 (stages/manifests.ts).
    ...(results.find(node.manifests)?.mpd === undefined && results.has(node.manifests) ? {} : { dash: uris.uriFor('manifest.mpd') }),
    ...(results.has(node.poster) ? { poster: uris.uriFor('poster.jpg'), posterSmall: uris.uriFor('poster-small.jpg') } : {}),
    ...(results.has(node.storyboard) ? { storyboard: uris.uriFor('storyboard/storyboard.vtt') } : {}),
    ...(results.find(node.manifests)?.tsMaster === 'master-ts.m3u8' ? { hlsTs: uris.uriFor('master-ts.m3u8') } : {}),
    ...(results.has(node.download) ? { download: uris.uriFor(DOWNLOAD_KEY) } : {}),
    // Players look for a poster; an audio package's cover art is that picture.
    ...(results.has(node.cover) ? { poster: uris.uriFor('cover.jpg'), cover: uris.uriFor('cover.jpg') } : {}),
  };
}

/** The result's view of the package actually written. */
export function packageSummary(options: Pick<JobOptions, 'out' | 'jobId'>, chosen: ChosenPackage): NonNullable<TranscodeResult['package']> {
  const uris = packageUris(parseLocation(options.out), chosen.name, options.jobId);
  return { name: chosen.name, root: uris.root, ...(chosen.note ? { note: chosen.note } : {}) };
}

export function summariseRenditions(manifests: ManifestsOutput, plan: JobPlan, published: readonly { key: string; bytes: number }[], quality?: Record<string, QualityMetrics>): RenditionSummary[] {
  const bytesUnder = (prefix: string) => published.filter((f) => f.key.startsWith(prefix)).reduce((sum, f) => sum + f.bytes, 0);
  /** What every track has, measured from its files. */
  const measured = (track: TrackBase, targetKbps: number) => ({
    name: track.id,
    codecs: track.codecs,
    averageBitrate: Math.round(track.averageBitrate),
    peakBitrate: Math.round(track.peakBitrate),
    targetBitrate: targetKbps * 1000,
    sizeBytes: bytesUnder(track.playlistUri.replace(/[^/]+$/, '')),
    segments: track.segments.length,
    playlist: track.playlistUri,
  });
  const videos: RenditionSummary[] = manifests.model.videos.map((track) => ({
    ...measured(track, plan.video!.renditions.find((r) => r.id === track.id)!.bitrateKbps),
    kind: 'video',
    codec: track.codec,
    width: track.width,
    height: track.height,
    frameRate: round3(track.frameRate.num / track.frameRate.den),
    ...(quality?.[track.id] ? { quality: quality[track.id] } : {}),
  }));
  const audios: RenditionSummary[] = manifests.model.audios.map((track) => ({
    ...measured(track, plan.audio.find((r) => r.id === track.id)!.bitrateKbps),
    kind: 'audio',
    codec: track.codec,
    channels: track.channels,
    sampleRate: track.sampleRate,
    language: track.language,
  }));
  return [...videos, ...audios];
}

function values(m: LoudnessMeasurement): LoudnessValues {
  return { integrated: round2(m.integrated), range: round2(m.range), truePeak: round2(m.truePeak) };
}

function describeGain(gain: GainPlan | undefined): { method: LoudnessReport['method']; gainDb?: number } {
  return gain ? { method: gain.mode, gainDb: round2(gain.gainDb) } : { method: 'none' };
}

/** The loudness record of a finished job, from the loudness node and the audio encodes' results. */
export function loudnessReport(results: NodeResultsView, plan: JobPlan): LoudnessReport | undefined {
  const analysis = results.find(node.loudness);
  if (!analysis) return undefined;
  const main = plan.audio.find((r) => r.codec === 'aac' && r.isDefault) ?? plan.audio[0];
  const source = main && analysis.sources.find((s) => s.file === main.file && s.streamIndex === main.streamIndex && s.channels === main.channels);
  if (!main || !source) return undefined;
  const renditions: LoudnessReport['renditions'] = {};
  for (const rendition of plan.audio) {
    const encoded = results.find(node.encodeAudio(rendition.id));
    if (!encoded?.loudness) continue;
    renditions[rendition.id] = { ...values(encoded.loudness), ...describeGain(encoded.gain ?? gainFor(analysis, rendition)) };
  }
  const mainEncoded = results.find(node.encodeAudio(main.id));
  return {
    ...(analysis.target === undefined ? {} : { target: analysis.target }),
    truePeakLimit: TRUE_PEAK_LIMIT_DBTP,
    ...describeGain(mainEncoded?.gain ?? source.gain),
    input: values(source.measured),
    ...(mainEncoded?.loudness ? { output: values(mainEncoded.loudness) } : {}),
    renditions,
  };
}

/** What a job's result says before anything ran to the end (its id, its input, how it was read). */
export interface ResultBase {
  /** The video's id (from its content). */
  id: string;
  jobId: string;
  input: string;
  kind: JobPlan['kind'];
  source?: SourceSummary;
  resumed?: TranscodeResult['resumed'];
}

/**
 * The result of a job whose package was written: renditions and bytes from the files published
 * (or, before they are, the package folder's), outputs where the publish node put them.
 */
export function succeededResult(input: {
  base: ResultBase;
  options: Pick<JobOptions, 'out' | 'jobId'>;
  plan: JobPlan;
  results: NodeResultsView;
  chosen: ChosenPackage;
  files: readonly { key: string; bytes: number }[];
  timings: Record<string, number>;
}): TranscodeResult {
  const { base, plan, results } = input;
  const manifests = results.get(node.manifests);
  const loudness = loudnessReport(results, plan);
  const source = withDecodeErrors(base.source, plan, results);
  return {
    ...base,
    status: 'succeeded',
    durationSeconds: round3(manifests.model.durationSeconds),
    package: packageSummary(input.options, input.chosen),
    outputs: packageOutputs(input.options, input.chosen, results),
    renditions: summariseRenditions(manifests, plan, input.files, results.find(node.metrics)),
    ...(plan.video
      ? { ladder: ladderReport({ renditions: plan.video.renditions, analysis: results.find(node.analyseLadder), rise: results.find(node.checkRise), quality: results.find(node.checkQuality), metrics: results.find(node.metrics) }) }
      : {}),
    timings: input.timings,
    ...(loudness ? { loudness } : {}),
    ...(source ? { source } : {}),
    ...(manifests.protection ? { protection: manifests.protection } : {}),
  };
}
