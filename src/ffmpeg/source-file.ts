/**
 * The source file the stages read, made before anything is planned: the probe stage
 * (`inspectSource`: probe, read the packets once, apply the input policy of input-policy.ts) and
 * the prepare-source stage (`copySource`: the streams copied into an indexed Matroska file, for
 * an input chunks cannot seek in: MPEG-TS, browser-made WebM, joined files).
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VidpipeError, tailLines } from '../errors.js';
import { assertFreeSpace } from '../files/free-space.js';
import type { FfmpegBinaries } from './binaries.js';
import { buildRemuxArgs } from './args/remux.js';
import { applyTimeline, assertContinuousClock, assertNotTruncated, assertOneContinuousProgram, remuxReason, selectedIndexes } from './input-policy.js';
import { assertProcessable, probeFile, programLabel, type MediaProbe } from './probe.js';
import type { FfmpegRunner } from './runner.js';
import { readTimeline } from './timeline.js';

/** What the stages read: the input itself, or its Matroska copy; its probe carries the packets' own timing. */
export interface SourceFile {
  path: string;
  /** Probe of `path`, with each stream's start and duration as its packets have them. */
  probe: MediaProbe;
  /** What vidpipe decided about the input that the user should hear (program chosen, clock mended). */
  notes: string[];
  /** Why the input was copied into Matroska first (absent: read in place). */
  remuxReason?: string;
}

/** The input as probed and checked: readable in place, or needing the copy first (`copyReason`). */
export interface InspectedSource {
  /** The input (a local file). */
  path: string;
  /** Read in place: with the packets' timing applied. To be copied: the input's own probe. */
  probe: MediaProbe;
  notes: string[];
  /** Why chunks cannot seek in it as it is: it must be copied into Matroska (copySource) first. */
  copyReason?: string;
}

/**
 * Probes `path`, reads its packets and refuses what would give a wrong package. Costs one demux
 * pass. An input chunks cannot seek in (MPEG-TS, no index, a clock that restarts) comes back with
 * `copyReason`: copySource makes the file the stages read.
 */
export async function inspectSource(binaries: FfmpegBinaries, path: string, options: { audioOnly: boolean; signal?: AbortSignal }): Promise<InspectedSource> {
  const { signal } = options;
  const original = await probeFile(binaries.ffprobe, path, signal, { durationOptional: true });
  const audioOnly = options.audioOnly || !original.video;
  const timeline = await readTimeline(binaries.ffprobe, path, original.sizeBytes, signal);
  const notes: string[] = [];
  if (original.program) {
    const count = (original.raw as { programs?: unknown[] }).programs?.length ?? 0;
    notes.push(`${programLabel(original.program)} of the ${count} programs is packaged (the one with the main video)`);
  }
  assertOneContinuousProgram(original, timeline);
  assertNotTruncated(original, timeline);
  const measured = { ...original, durationMeasured: !(Number((original.raw as { format?: { duration?: string } }).format?.duration) > 0) };
  const reason = remuxReason(measured, timeline, audioOnly);
  if (reason) return { path, probe: original, notes, copyReason: reason };
  assertContinuousClock(original, timeline, audioOnly);
  const probe = applyTimeline(measured, timeline, audioOnly);
  assertProcessable(probe);
  return { path, probe, notes };
}

/** The file the stages read when the input needs no copy. */
export function inPlace(inspected: InspectedSource): SourceFile {
  return { path: inspected.path, probe: inspected.probe, notes: inspected.notes };
}

/**
 * Copies the streams the job uses into Matroska at `output` (room checked first), then probes and
 * checks the copy like an input. Costs the copy (a sequential write of the used streams) and a
 * demux pass over it.
 */
export async function copySource(inspected: InspectedSource, options: { ffmpeg: FfmpegRunner; output: string; audioOnly: boolean }): Promise<SourceFile> {
  const { ffmpeg, output } = options;
  const original = inspected.probe;
  const audioOnly = options.audioOnly || !original.video;
  await mkdir(dirname(output), { recursive: true });
  await assertFreeSpace([{ path: dirname(output), bytes: Math.ceil(original.sizeBytes * 1.05), what: 'a remuxed copy of the input (--work-dir)' }]);
  const textSubtitles = original.subtitleStreams.filter((s) => ['subrip', 'srt', 'ass', 'ssa', 'webvtt', 'text'].includes(s.codec)).map((s) => s.index);
  try {
    await ffmpeg.run(buildRemuxArgs(original.path, [...selectedIndexes(original, audioOnly), ...textSubtitles], output), { label: 'remux input' });
  } catch (error) {
    await rm(output, { force: true });
    if (error instanceof VidpipeError && error.code === 'FFMPEG_FAILED') {
      throw new VidpipeError('INPUT_INVALID', `${original.path} cannot be copied into an indexed container: ${tailLines(error.stderrTail, 1) || 'ffmpeg failed'}`, { stderrTail: error.stderrTail });
    }
    throw error;
  }
  const { signal } = ffmpeg;
  const copied = await probeFile(ffmpeg.binaries.ffprobe, output, signal, { durationOptional: true });
  const copyTimeline = await readTimeline(ffmpeg.binaries.ffprobe, output, copied.sizeBytes, signal);
  assertContinuousClock(copied, copyTimeline, audioOnly);
  // Messages and the metadata record keep describing the user's file.
  const probe = applyTimeline({ ...copied, raw: original.raw, ...(original.program ? { program: original.program } : {}) }, copyTimeline, audioOnly);
  assertProcessable(probe);
  return { path: output, probe, remuxReason: inspected.copyReason, notes: [...inspected.notes, `read through a Matroska copy of its streams: ${inspected.copyReason}`] };
}
