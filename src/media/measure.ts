/**
 * Measures a packaged CMAF track from the files on disk: segment sizes and times, frame count,
 * key frame byte ranges and RFC 8216 bit rates. Manifests are written from these numbers, so
 * they describe what was produced rather than what the encoder was asked for.
 */
import { readFile } from 'node:fs/promises';
import { VidpipeError, isVidpipeError } from '../errors.js';
import type { KeyFrameRange, Segment } from '../manifest/model.js';
import { describeInit, reducedFraction, type InitDescription } from './codec-strings.js';
import {
  findBox,
  findBoxes,
  isSyncSampleFlags,
  malformed,
  parseMfhd,
  parseTfdt,
  parseTfhd,
  parseTrun,
  payloadStart,
  readBoxes,
  readTrackExtends,
  requireBox,
  type Box,
  type TrackExtends,
  type TrackFragmentHeader,
  type TrackRun,
} from './mp4-boxes.js';

// ---- fragment samples ---------------------------------------------------------------------

export interface FragmentSample {
  /** Track timescale units. */
  decodeTime: number;
  duration: number;
  compositionOffset: number;
  size: number;
  /** Byte offset of the sample's data in the buffer. */
  offset: number;
  isSync: boolean;
  /** The effective sample_flags (trun, first_sample_flags, tfhd or trex default). */
  flags: number;
}

export interface TrackFragment {
  trackId: number;
  sequenceNumber: number;
  /** Where the fragment starts: the sidx directly before its moof, else the moof. */
  offset: number;
  moofOffset: number;
  /** tfdt, when the fragment has one; sample decode times then start here. */
  baseMediaDecodeTime?: number;
  samples: FragmentSample[];
}

interface TrafContext {
  moof: Box;
  offset: number;
  sequenceNumber: number;
  /** Base data offset when tfhd sets neither base-data-offset nor default-base-is-moof. */
  implicitBase: number;
  trex?: TrackExtends;
  /** Where each track's decode time continues when a fragment has no tfdt. */
  nextDecodeTime: Map<number, number>;
}

function trexFor(trackId: number, trex: TrackExtends | readonly TrackExtends[] | undefined): TrackExtends | undefined {
  if (!trex) return undefined;
  const candidates = Array.isArray(trex) ? trex : [trex as TrackExtends];
  return candidates.find((entry) => entry.trackId === trackId);
}

/** ISO/IEC 14496-12 §8.8.7.1: where a track fragment's data offsets are counted from. */
function baseDataOffset(tfhd: TrackFragmentHeader, context: TrafContext): number {
  if (tfhd.baseDataOffset !== undefined) return tfhd.baseDataOffset;
  if (tfhd.defaultBaseIsMoof) return context.moof.start;
  return context.implicitBase;
}

function requireDefault(value: number | undefined, what: string, trackId: number): number {
  if (value === undefined) throw malformed(`track ${trackId} fragment gives no ${what} (no trun value, tfhd default or trex)`);
  return value;
}

/** A sample's duration, size and flags: its own trun value, else the tfhd default, else trex. */
function resolveSample(run: TrackRun, index: number, tfhd: TrackFragmentHeader, trex: TrackExtends | undefined) {
  const sample = run.samples[index]!;
  const duration = sample.duration ?? tfhd.defaultSampleDuration ?? trex?.defaultSampleDuration;
  const size = sample.size ?? tfhd.defaultSampleSize ?? trex?.defaultSampleSize;
  const firstFlags = index === 0 ? run.firstSampleFlags : undefined;
  // Without any flags source every sample counts as sync, as in a track with no stss.
  const flags = firstFlags ?? sample.flags ?? tfhd.defaultSampleFlags ?? trex?.defaultSampleFlags ?? 0;
  return {
    duration: requireDefault(duration, 'sample duration', tfhd.trackId),
    size: requireDefault(size, 'sample size', tfhd.trackId),
    flags,
    compositionOffset: sample.compositionOffset ?? 0,
  };
}

function readTrackFragment(buf: Buffer, traf: Box, tfhd: TrackFragmentHeader, context: TrafContext): { fragment: TrackFragment; dataEnd: number } {
  const { trackId } = tfhd;
  const tfdt = findBox(buf, 'tfdt', traf);
  const baseMediaDecodeTime = tfdt ? parseTfdt(buf, tfdt) : undefined;
  let decodeTime = baseMediaDecodeTime ?? context.nextDecodeTime.get(trackId) ?? 0;
  const base = baseDataOffset(tfhd, context);
  // A trun without data_offset continues where the previous run's data ended.
  let dataCursor = base;
  const samples: FragmentSample[] = [];
  for (const trunBox of findBoxes(buf, 'trun', traf)) {
    const run = parseTrun(buf, trunBox);
    if (run.dataOffset !== undefined) dataCursor = base + run.dataOffset;
    for (let index = 0; index < run.samples.length; index++) {
      const { duration, size, flags, compositionOffset } = resolveSample(run, index, tfhd, context.trex);
      samples.push({ decodeTime, duration, compositionOffset, size, offset: dataCursor, isSync: isSyncSampleFlags(flags), flags });
      decodeTime += duration;
      dataCursor += size;
    }
  }
  context.nextDecodeTime.set(trackId, decodeTime);
  const fragment: TrackFragment = {
    trackId,
    sequenceNumber: context.sequenceNumber,
    offset: context.offset,
    moofOffset: context.moof.start,
    baseMediaDecodeTime,
    samples,
  };
  return { fragment, dataEnd: dataCursor };
}

/** A sample whose bytes are not inside an mdat means a truncated file or wrong offsets. */
function assertSamplesInMdat(fragment: TrackFragment, mdats: Box[]): void {
  for (const sample of fragment.samples) {
    if (sample.size === 0) continue; // no bytes, so nowhere to be out of place
    const end = sample.offset + sample.size;
    const inside = mdats.some((mdat) => sample.offset >= payloadStart(mdat) && end <= mdat.end);
    if (!inside) {
      throw malformed(`track ${fragment.trackId} sample at bytes ${sample.offset}–${end} of fragment ${fragment.sequenceNumber} lies outside every mdat`);
    }
  }
}

/**
 * Every track fragment (one per traf) in a buffer of top-level fragment boxes (a CMAF segment,
 * or a whole fragmented file), with per-sample timing, position and sync flag. `trex` supplies
 * the defaults from the init segment's mvex (see readTrackExtends).
 */
export function readFragmentSamples(buffer: Buffer, trex?: TrackExtends | readonly TrackExtends[]): TrackFragment[] {
  const boxes = readBoxes(buffer);
  const mdats = boxes.filter((box) => box.type === 'mdat');
  const nextDecodeTime = new Map<number, number>();
  const fragments: TrackFragment[] = [];
  boxes.forEach((moof, index) => {
    if (moof.type !== 'moof') return;
    const previous = boxes[index - 1];
    const offset = previous?.type === 'sidx' ? previous.start : moof.start;
    const sequenceNumber = parseMfhd(buffer, requireBox(buffer, 'mfhd', moof));
    let implicitBase = moof.start;
    for (const traf of findBoxes(buffer, 'traf', moof)) {
      const tfhd = parseTfhd(buffer, requireBox(buffer, 'tfhd', traf));
      const context: TrafContext = { moof, offset, sequenceNumber, implicitBase, trex: trexFor(tfhd.trackId, trex), nextDecodeTime };
      const { fragment, dataEnd } = readTrackFragment(buffer, traf, tfhd, context);
      assertSamplesInMdat(fragment, mdats);
      fragments.push(fragment);
      implicitBase = dataEnd;
    }
  });
  return fragments;
}

// ---- bit rates ----------------------------------------------------------------------------

export interface SizedSpan {
  bytes: number;
  durationSeconds: number;
}

/** Slack on the [0.5·TD, 1.5·TD] window, so durations summed from timescale fractions land inside. */
const WINDOW_TOLERANCE_SECONDS = 1e-6;

/** Float noise from summed durations (8000.000000001) must not add a bit per second when rounding up. */
const RATE_ROUNDING_SLACK = 1e-6;

/** Bit rates are rounded up so a playlist declaring them never understates what was measured. */
function bitsPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? Math.ceil((bytes * 8) / seconds - RATE_ROUNDING_SLACK) : 0;
}

/**
 * RFC 8216 §4.1 peak segment bit rate: the largest rate over any contiguous run of segments
 * whose total duration is between 0.5 and 1.5 × the target duration. When no run fits (one short
 * segment, say), the largest single-segment rate stands in.
 */
export function peakSegmentBitrate(segs: readonly SizedSpan[], targetDurationSeconds: number): number {
  const low = 0.5 * targetDurationSeconds - WINDOW_TOLERANCE_SECONDS;
  const high = 1.5 * targetDurationSeconds + WINDOW_TOLERANCE_SECONDS;
  let peak: number | undefined;
  for (let first = 0; first < segs.length; first++) {
    let bytes = 0;
    let seconds = 0;
    for (let last = first; last < segs.length; last++) {
      bytes += segs[last]!.bytes;
      seconds += segs[last]!.durationSeconds;
      if (seconds > high) break;
      if (seconds >= low) peak = Math.max(peak ?? 0, bitsPerSecond(bytes, seconds));
    }
  }
  return peak ?? segs.reduce((max, seg) => Math.max(max, bitsPerSecond(seg.bytes, seg.durationSeconds)), 0);
}

/** RFC 8216 §4.1 average segment bit rate: all segment bits over the playlist duration. */
export function averageSegmentBitrate(segs: readonly SizedSpan[]): number {
  const bytes = segs.reduce((sum, seg) => sum + seg.bytes, 0);
  const seconds = segs.reduce((sum, seg) => sum + seg.durationSeconds, 0);
  return bitsPerSecond(bytes, seconds);
}

/** EXT-X-TARGETDURATION: the longest segment rounded to the nearest integer (protocol ≥ 6), at least 1. */
export function targetDuration(segDurationsSeconds: readonly number[]): number {
  return segDurationsSeconds.reduce((max, seconds) => Math.max(max, Math.round(seconds)), 1);
}

/**
 * Bit rates of an I-frame playlist over `keyFrames`: each range's bytes over the time to the
 * next key frame (the last one runs to the end of the track). The track is taken to start at
 * its first key frame, as CMAF video segments do, and to last `durationSeconds`.
 */
export function iFrameBitrates(
  keyFrames: readonly KeyFrameRange[],
  timescale: number,
  durationSeconds: number,
): { peak: number; average: number } {
  if (keyFrames.length === 0) return { peak: 0, average: 0 };
  const trackEnd = keyFrames[0]!.time / timescale + durationSeconds;
  const spans = keyFrames.map((keyFrame, index) => {
    const next = keyFrames[index + 1];
    const end = next ? next.time / timescale : trackEnd;
    const span = { bytes: keyFrame.length, durationSeconds: end - keyFrame.time / timescale };
    if (!(span.durationSeconds > 0)) {
      throw new VidpipeError('INTERNAL', `key frame at ${keyFrame.time} (${keyFrame.uri}) does not precede the next key frame or the track end`);
    }
    return span;
  });
  const td = targetDuration(spans.map((span) => span.durationSeconds));
  return { peak: peakSegmentBitrate(spans, td), average: averageSegmentBitrate(spans) };
}

// ---- tracks -------------------------------------------------------------------------------

export interface MeasureTrackInput {
  initPath: string;
  initUri: string;
  segments: { path: string; uri: string }[];
  /** Target duration the peak bit rate is measured against; defaults to this track's own. */
  targetDurationSeconds?: number;
}

export interface MeasuredTrack extends InitDescription {
  initUri: string;
  segments: Segment[];
  /** Video only: one range per sync sample. Empty for audio, where every frame is a sync sample. */
  keyFrames: KeyFrameRange[];
  frameCount: number;
  /**
   * Sum of all sample durations, seconds: what the segment durations add up to. It includes any
   * encoder delay the edit list hides (editMediaTime), e.g. 1024 priming samples of AAC.
   */
  durationSeconds: number;
  targetDurationSeconds: number;
  peakBitrate: number;
  averageBitrate: number;
  /** Video only: timescale over the most common sample duration, so a short last frame does not skew it. */
  frameRate?: { num: number; den: number };
  iFramePeakBitrate?: number;
  iFrameAverageBitrate?: number;
}

interface SegmentMeasurement {
  segment: Segment;
  keyFrames: KeyFrameRange[];
  sampleDurations: number[];
}

function keyFrameRanges(fragment: TrackFragment, uri: string): KeyFrameRange[] {
  return fragment.samples
    .filter((sample) => sample.isSync)
    .map((sample) => ({
      uri,
      offset: fragment.offset,
      length: sample.offset + sample.size - fragment.offset,
      time: sample.decodeTime,
    }));
}

function measureSegment(buffer: Buffer, uri: string, trex: TrackExtends[], trackId: number, isVideo: boolean): SegmentMeasurement {
  const fragments = readFragmentSamples(buffer, trex).filter((fragment) => fragment.trackId === trackId);
  const first = fragments[0];
  if (!first) throw malformed(`no fragment of track ${trackId}`);
  if (first.baseMediaDecodeTime === undefined) throw malformed('first fragment has no tfdt, so the segment has no start time');
  const sampleDurations = fragments.flatMap((fragment) => fragment.samples.map((sample) => sample.duration));
  return {
    segment: {
      uri,
      bytes: buffer.length,
      startTime: first.baseMediaDecodeTime,
      duration: sampleDurations.reduce((sum, duration) => sum + duration, 0),
    },
    keyFrames: isVideo ? fragments.flatMap((fragment) => keyFrameRanges(fragment, uri)) : [],
    sampleDurations,
  };
}

/** Adds the file to parse errors: "malformed MP4" alone does not say which of hundreds of segments. */
async function readAndParse<T>(path: string, parse: (buffer: Buffer) => T): Promise<T> {
  let buffer: Buffer;
  try {
    buffer = await readFile(path);
  } catch (error) {
    throw new VidpipeError('VALIDATION_FAILED', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return parse(buffer);
  } catch (error) {
    if (!isVidpipeError(error)) throw error;
    throw new VidpipeError(error.code, `${path}: ${error.message}`, { cause: error, hint: error.hint });
  }
}

function mostCommon(values: readonly number[]): number | undefined {
  const counts = new Map<number, number>();
  let best: number | undefined;
  for (const value of values) {
    const count = (counts.get(value) ?? 0) + 1;
    counts.set(value, count);
    if (best === undefined || count > counts.get(best)!) best = value;
  }
  return best;
}

export async function measureTrack(input: MeasureTrackInput): Promise<MeasuredTrack> {
  const { description, trex } = await readAndParse(input.initPath, (init) => ({
    description: describeInit(init),
    trex: readTrackExtends(init),
  }));
  const isVideo = description.handler === 'vide';
  const measured: SegmentMeasurement[] = [];
  // One file at a time: packages can hold thousands of segments, and memory stays at one segment.
  for (const { path, uri } of input.segments) {
    measured.push(await readAndParse(path, (buffer) => measureSegment(buffer, uri, trex, description.trackId, isVideo)));
  }
  const segments = measured.map((entry) => entry.segment);
  const keyFrames = measured.flatMap((entry) => entry.keyFrames);
  const sampleDurations = measured.flatMap((entry) => entry.sampleDurations);
  const { timescale } = description;
  const spans = segments.map((segment) => ({ bytes: segment.bytes, durationSeconds: segment.duration / timescale }));
  const durationSeconds = sampleDurations.reduce((sum, duration) => sum + duration, 0) / timescale;
  const targetDurationSeconds = input.targetDurationSeconds ?? targetDuration(spans.map((span) => span.durationSeconds));
  const track: MeasuredTrack = {
    ...description,
    initUri: input.initUri,
    segments,
    keyFrames,
    frameCount: sampleDurations.length,
    durationSeconds,
    targetDurationSeconds,
    peakBitrate: peakSegmentBitrate(spans, targetDurationSeconds),
    averageBitrate: averageSegmentBitrate(spans),
  };
  if (isVideo) {
    const frameDuration = mostCommon(sampleDurations);
    if (frameDuration) track.frameRate = reducedFraction(timescale, frameDuration);
    const iFrames = iFrameBitrates(keyFrames, timescale, durationSeconds);
    track.iFramePeakBitrate = iFrames.peak;
    track.iFrameAverageBitrate = iFrames.average;
  }
  return track;
}
