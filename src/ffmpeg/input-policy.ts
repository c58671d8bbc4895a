/**
 * What vidpipe accepts of a source, decided from its probe and its packets (timeline.ts): the data
 * is all there, its streams and clock are one continuous video, and chunks can seek in it by key
 * frame, or else it is copied into Matroska first (`remuxReason`). Each problem that would
 * otherwise publish a wrong package is refused here, with exit 2. The probe and prepare-source
 * stages that apply it are in source-file.ts.
 */
import { VidpipeError, tailLines } from '../errors.js';
import { programLabel, type MediaProbe, type VideoStreamInfo } from './probe.js';
import type { InputTimeline, StreamTimeline } from './timeline.js';

/** Demuxer messages that mean the file's data stops before its index says it does. */
const TRUNCATION = /partial file|truncat|unexpected end|end of file|moov atom not found|invalid data found/i;

/** Containers whose index marks key frames, read in place when they state a duration. */
const INDEXED_CONTAINERS = /^(mov,mp4,m4a,3gp,3g2,mj2|matroska,webm)$/;

/** Multi-program containers whose clock may restart (broadcast splices, files joined with `cat`). */
const PROGRAM_CONTAINERS = /^(mpegts|mpegtsraw|mpeg|mpegvideo)$/;

/**
 * A jump forward in the video's clock longer than this is a broken timeline rather than a pause:
 * the package would hold a still picture for all of it.
 */
export const MAX_GAP_SECONDS = 60;

/** Less data than the container promises by more than this (and 5 %) is a cut-off file. */
const TRUNCATION_SLACK_SECONDS = 1;

function streamName(probe: MediaProbe, index: number): string {
  const raw = (probe.raw as { streams?: { index: number; id?: string; codec_type?: string }[] }).streams?.find((s) => s.index === index);
  const program = (probe.raw as { programs?: { program_num?: number; streams?: { index: number }[] }[] }).programs?.find((p) => p.streams?.some((s) => s.index === index));
  return `${raw?.codec_type ?? 'stream'} stream ${index}${raw?.id ? ` (PID ${raw.id})` : ''}${program?.program_num !== undefined ? ` of program ${program.program_num}` : ''}`;
}

/** The streams a job reads: the main video (unless audio only) and every audio stream. */
export function selectedIndexes(probe: MediaProbe, audioOnly: boolean): number[] {
  return [...(probe.video && !audioOnly ? [probe.video.index] : []), ...probe.audioStreams.map((a) => a.index)];
}

/**
 * An MPEG-TS that switches to other streams part way through (two recordings joined, a PMT that
 * changes its PIDs, an audio PID that changes at a splice): two video streams, or two audio
 * streams, whose data lie mostly in different parts of the file mean one package would leave
 * part of it out, or play two halves as two tracks. Programs broadcast together interleave.
 */
export function assertOneContinuousProgram(probe: MediaProbe, timeline: InputTimeline): void {
  if (!PROGRAM_CONTAINERS.test(probe.container)) return;
  const typeOf = (index: number) => (probe.raw as { streams?: { index: number; codec_type?: string }[] }).streams?.find((s) => s.index === index)?.codec_type;
  const spans = (probe.allMediaStreamIndexes ?? [])
    .map((index) => ({ index, type: typeOf(index), t: timeline.streams.get(index) }))
    .filter((s): s is { index: number; type: string; t: StreamTimeline } => !!s.t && !!s.type && s.t.firstByte >= 0 && s.t.endSeconds - s.t.startSeconds >= 1);
  const percent = (byte: number) => `${Math.round((100 * byte) / Math.max(1, probe.sizeBytes))} %`;
  for (const [i, a] of spans.entries()) {
    for (const b of spans.slice(i + 1)) {
      if (a.type !== b.type) continue;
      const overlap = Math.min(a.t.lastByte, b.t.lastByte) - Math.max(a.t.firstByte, b.t.firstByte);
      if (overlap >= 0.5 * Math.min(a.t.lastByte - a.t.firstByte, b.t.lastByte - b.t.firstByte)) continue;
      throw new VidpipeError(
        'INPUT_INVALID',
        `${probe.path} changes streams part way through: ${streamName(probe, a.index)} covers ${percent(a.t.firstByte)}–${percent(a.t.lastByte)} of the file and ${streamName(probe, b.index)} ${percent(b.t.firstByte)}–${percent(b.t.lastByte)}; one package would leave part of it out`,
        { hint: `split it where the streams change (e.g. ffmpeg -i ${probe.path} -map 0:${b.index} -map 0:a -c copy part.ts) and transcode each part` },
      );
    }
  }
}

/** Where the container promises data (its index or header) that its packets do not hold. */
export function assertNotTruncated(probe: MediaProbe, timeline: InputTimeline): void {
  const ends = (probe.allMediaStreamIndexes ?? selectedIndexes(probe, false)).map((i) => timeline.streams.get(i)).filter((s): s is StreamTimeline => !!s && s.packets > 0).map((s) => s.endSeconds);
  const measuredEnd = Math.max(0, ...ends);
  // A duration is either the end of the presentation (MP4 and Matroska: an MP4 whose clock starts
  // at 10 s "lasts" 14 s for 4 s of media, and ffprobe 4 reads its streams the same way) or the
  // span from the start (other containers, ffprobe 5 streams). The smaller reading never cries
  // wolf; each stream's own index is checked as well as the container's.
  const declaredEnd = (start: number, duration: number) => Math.min(duration, start + duration);
  const formatDuration = Number((probe.raw as { format?: { duration?: string } }).format?.duration);
  const declaredEnds = [
    ...(Number.isFinite(formatDuration) ? [declaredEnd(probe.startSeconds, formatDuration)] : []),
    ...[...probe.videoStreams, ...probe.audioStreams]
      .filter((s) => s.durationSeconds !== undefined && timeline.streams.get(s.index)?.packets)
      .map((s) => declaredEnd(s.startSeconds, s.durationSeconds!)),
  ];
  const end = Math.max(0, ...declaredEnds);
  const span = end - probe.startSeconds;
  const missing = end - measuredEnd;
  // A broadcast capture's stray bytes make the TS demuxer complain without anything missing.
  const complains = TRUNCATION.test(timeline.stderr) && !PROGRAM_CONTAINERS.test(probe.container);
  if (complains || (span > 0 && missing > Math.max(TRUNCATION_SLACK_SECONDS, span * 0.05))) {
    throw new VidpipeError(
      'INPUT_INVALID',
      `${probe.path} is truncated: its data ends at ${(measuredEnd - probe.startSeconds).toFixed(2)} s of a declared ${span.toFixed(2)} s`,
      { stderrTail: tailLines(timeline.stderr) },
    );
  }
}

/** Why the input must be copied into Matroska before chunks can seek in it, if it must. */
export function remuxReason(probe: MediaProbe, timeline: InputTimeline, audioOnly: boolean): string | undefined {
  const restarted = selectedIndexes(probe, audioOnly).map((i) => timeline.streams.get(i)).find((s) => s && s.restartCount > 0);
  if (restarted) {
    if (!PROGRAM_CONTAINERS.test(probe.container)) return undefined; // refused by assertContinuousClock
    return `its clock restarts ${restarted.restartCount} time${restarted.restartCount > 1 ? 's' : ''} (parts joined end to end); vidpipe made it continuous`;
  }
  if (audioOnly || !probe.video) return undefined;
  if (!INDEXED_CONTAINERS.test(probe.container)) return `${probe.containerLongName ?? probe.container}: chunks seek by key frame only in MP4 and Matroska`;
  if (probe.durationMeasured) return 'it states no duration and no index (a live or browser recording)';
  return undefined;
}

/** The clock of every stream the package uses runs forward, without holes no player would sit through. */
export function assertContinuousClock(probe: MediaProbe, timeline: InputTimeline, audioOnly: boolean): void {
  for (const index of selectedIndexes(probe, audioOnly)) {
    const stream = timeline.streams.get(index);
    if (!stream) continue;
    const jump = stream.restarts[0];
    if (jump) {
      throw new VidpipeError(
        'INPUT_INVALID',
        `${probe.path}: the timestamps of ${streamName(probe, index)} go back from ${jump.fromSeconds.toFixed(3)} s to ${jump.toSeconds.toFixed(3)} s${jump.byte >= 0 ? ` at byte ${jump.byte}` : ''} (${stream.restartCount} time${stream.restartCount > 1 ? 's' : ''}): its timeline is broken`,
        { hint: 'if it is several files joined together, transcode the parts one by one' },
      );
    }
    // A codec ffmpeg does not know has no parser to time its packets: the plan refuses it by name.
    const codec = [...probe.videoStreams, ...probe.audioStreams].find((s) => s.index === index)?.codec;
    if (stream.untimedPackets > stream.packets / 2 && codec !== 'unknown' && codec !== 'none') {
      throw new VidpipeError('INPUT_INVALID', `${probe.path}: ${stream.untimedPackets} of ${stream.packets} packets of ${streamName(probe, index)} carry no timestamp`);
    }
  }
  const video = !audioOnly && probe.video ? timeline.streams.get(probe.video.index) : undefined;
  const gap = video?.largestGap;
  if (gap && gap.toSeconds - gap.fromSeconds > MAX_GAP_SECONDS) {
    throw new VidpipeError(
      'INPUT_INVALID',
      `${probe.path}: the video's timestamps jump ${(gap.toSeconds - gap.fromSeconds).toFixed(1)} s forward at ${(gap.fromSeconds - probe.startSeconds).toFixed(2)} s; the package would show one still picture for all of it (more than ${MAX_GAP_SECONDS} s)`,
    );
  }
}

/**
 * Puts the packets' own timing into the probe: each used stream starts and ends where its data
 * does, and the presentation lasts from the container's start (the zero every stage counts from)
 * to the end of the last stream. Streams without a single packet are dropped.
 */
export function applyTimeline(probe: MediaProbe, timeline: InputTimeline, audioOnly: boolean): MediaProbe {
  const hasData = (index: number) => (timeline.streams.get(index)?.packets ?? 0) > 0;
  const timed = <T extends { index: number; startSeconds: number; durationSeconds?: number }>(stream: T): T => {
    const t = timeline.streams.get(stream.index)!;
    // Packets nobody could time (a codec ffmpeg does not know) leave the container's figures.
    if (t.untimedPackets === t.packets) return stream;
    return { ...stream, startSeconds: t.startSeconds, durationSeconds: t.endSeconds - t.startSeconds };
  };
  // Chunk encodes start decoding at a key frame just before their first frame (schedule.ts).
  const withKeyFrames = (video: VideoStreamInfo): VideoStreamInfo => {
    const keyTimes = timeline.streams.get(video.index)?.keyTimes;
    return keyTimes ? { ...video, keyFrameSeconds: keyTimes.map((t) => t - probe.startSeconds).sort((a, b) => a - b) } : video;
  };
  if (probe.video && !audioOnly && !hasData(probe.video.index)) {
    throw new VidpipeError('INPUT_INVALID', `${probe.path}: its video stream holds no frames`);
  }
  const videoStreams = probe.videoStreams.map((v) => (hasData(v.index) ? withKeyFrames(timed(v)) : v));
  const video = probe.video ? videoStreams.find((v) => v.index === probe.video!.index) : undefined;
  const audioStreams = probe.audioStreams.filter((a) => hasData(a.index)).map(timed);
  if ((audioOnly || !probe.video) && audioStreams.length === 0 && probe.audioStreams.length > 0) {
    throw new VidpipeError('INPUT_INVALID', `${probe.path} has zero duration: its audio holds no samples`);
  }
  const ends = [...(video && !audioOnly ? [video] : []), ...audioStreams].map((s) => s.startSeconds + (s.durationSeconds ?? 0));
  const durationSeconds = ends.length > 0 ? Math.max(...ends) - probe.startSeconds : probe.durationSeconds;
  return { ...probe, video, videoStreams, audioStreams, durationSeconds };
}
