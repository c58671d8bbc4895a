import type { GainPlan, LoudnessMeasurement } from '../ffmpeg/args/audio.js';
import type { MediaProbe } from '../ffmpeg/probe.js';
import type { JobPlan } from './plan.js';
import type { LoudnessReport, LoudnessValues } from './result.js';
import { nodeId } from './transcode-dag.js';
import { gainFor, TRUE_PEAK_LIMIT_DBTP, type LoudnessAnalysis } from './stages/loudness.js';
import type { EncodedAudio } from './stages/encode-audio.js';

const round2 = (value: number) => Math.round(value * 100) / 100;

function values(m: LoudnessMeasurement): LoudnessValues {
  return { integrated: round2(m.integrated), range: round2(m.range), truePeak: round2(m.truePeak) };
}

function describeGain(gain: GainPlan | undefined): { method: LoudnessReport['method']; gainDb?: number } {
  return gain ? { method: gain.mode, gainDb: round2(gain.gainDb) } : { method: 'none' };
}

/** The loudness record of a finished job, from the loudness node and the audio encodes' results. */
export function loudnessReport(results: ReadonlyMap<string, unknown>, plan: JobPlan): LoudnessReport | undefined {
  const analysis = results.get('loudness') as LoudnessAnalysis | undefined;
  if (!analysis) return undefined;
  const main = plan.audio.find((r) => r.codec === 'aac' && r.isDefault) ?? plan.audio[0];
  const source = main && analysis.sources.find((s) => s.streamIndex === main.streamIndex && s.channels === main.channels);
  if (!main || !source) return undefined;
  const renditions: LoudnessReport['renditions'] = {};
  for (const rendition of plan.audio) {
    const encoded = results.get(nodeId.encodeAudio(rendition.id)) as EncodedAudio | undefined;
    if (!encoded?.loudness) continue;
    renditions[rendition.id] = { ...values(encoded.loudness), ...describeGain(encoded.gain ?? gainFor(analysis, rendition)) };
  }
  const mainEncoded = results.get(nodeId.encodeAudio(main.id)) as EncodedAudio | undefined;
  return {
    ...(analysis.target === undefined ? {} : { target: analysis.target }),
    truePeakLimit: TRUE_PEAK_LIMIT_DBTP,
    ...describeGain(mainEncoded?.gain ?? source.gain),
    input: values(source.measured),
    ...(mainEncoded?.loudness ? { output: values(mainEncoded.loudness) } : {}),
    renditions,
  };
}

/** Technical keys muxers write that say nothing about the recording. */
const TECHNICAL_TAGS = new Set(['encoder', 'encoded_by', 'vendor_id', 'handler_name', 'major_brand', 'minor_version', 'compatible_brands', 'creation_time', 'duration']);
/** ID3v2 frames ffmpeg passes through under their frame id, and Vorbis-comment spellings, to common names. */
const TAG_ALIASES: Record<string, string> = { tsrc: 'isrc', trck: 'track', tracknumber: 'track', tpos: 'disc', discnumber: 'disc', tdrc: 'date', year: 'date', tcon: 'genre', tbpm: 'bpm', tpub: 'publisher', tcop: 'copyright' };

/**
 * The recording's tags: the container's (ID3, MP4 ilst, FLAC/WAV/AIFF) plus, for Ogg and Opus
 * files whose Vorbis comments sit on the stream, the main audio stream's, with common names.
 */
export function audioTags(probe: MediaProbe): Record<string, string> {
  const raw = probe.raw as { streams?: { index: number; tags?: Record<string, string> }[] } | undefined;
  const main = probe.audioStreams.find((s) => s.isDefault) ?? probe.audioStreams[0];
  const streamTags = raw?.streams?.find((s) => s.index === main?.index)?.tags ?? {};
  const tags: Record<string, string> = {};
  for (const [key, value] of [...Object.entries(streamTags), ...Object.entries(probe.tags)]) {
    const lower = key.toLowerCase();
    if (TECHNICAL_TAGS.has(lower) || lower === 'language' || !value.trim()) continue;
    tags[TAG_ALIASES[lower] ?? lower] = value;
  }
  return tags;
}
