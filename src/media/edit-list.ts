import type { Segment, TrackBase } from '../manifest/model.js';

/**
 * Segment times on the presentation timeline rather than the decode timeline. An AAC encoder
 * starts with 1024 priming samples (Opus: its pre-skip), which the init segment's edit list
 * hides: presentation = decode time − editMediaTime. The packaged samples add up to the track
 * plus that delay, so a playlist summing raw sample durations would run one audio frame long
 * and audio would outlast the video. The first segment loses the delay; later ones start that
 * much earlier, so the timeline stays gapless and ends exactly where the source does.
 */
export function toPresentationTimeline(segments: Segment[], editMediaTime: number): Segment[] {
  if (editMediaTime <= 0 || segments.length === 0 || segments[0]!.duration <= editMediaTime) return segments;
  return segments.map((segment, index) =>
    index === 0
      ? { ...segment, duration: segment.duration - editMediaTime }
      : { ...segment, startTime: Math.max(0, segment.startTime - editMediaTime) },
  );
}

/** The longest track's end on the presentation timeline, seconds. */
export function presentationSeconds(tracks: TrackBase[]): number {
  return Math.max(...tracks.map((track) => track.segments.reduce((sum, segment) => sum + segment.duration, 0) / track.timescale));
}
