import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VidpipeError } from '../../errors.js';
import type { StageContext } from '../stage.js';
import type { MediaProbe, VideoStreamInfo } from '../../ffmpeg/probe.js';
import {
  CANDIDATE_INDEX_KEY,
  buildPosterArgs,
  buildPosterCandidateArgs,
  displaySizeAtWidth,
} from '../../ffmpeg/args/images.js';

export interface PosterInput {
  source: string;
  probe: MediaProbe;
  outDir: string;
  /** Width of poster-small.jpg; never wider than the full poster. Default 320. */
  smallWidth?: number;
  /**
   * A small copy of the same timeline to choose the frame from (vidpipe passes its lowest
   * rendition: 2 s GOPs and few pixels make the candidate seeks cheap, where seeking a large
   * long-GOP source 15 times can cost more decoding than the whole video). Only the chosen
   * frame is then decoded from the source. `keyFrameSeconds`: the copy has a key frame at every
   * multiple of it (a rendition's GOP); the candidates are then taken there, so that each seek
   * decodes one frame instead of half a GOP on average (15 seeks into the 360p rendition of a
   * 20 s 1080p job: 1.07 s of CPU, the most expensive picture work of the job).
   */
  analysis?: { source: string; probe: MediaProbe; keyFrameSeconds?: number };
  /**
   * An encoded copy at the poster's size (upright, square pixels, no padding; video stream 0) to
   * decode the chosen frame from instead of the source: seeking it decodes at most one short GOP.
   */
  frameSource?: string;
}

export interface PosterResult {
  /** poster.jpg at display size (rotation and sample aspect ratio applied). */
  full: string;
  small: string;
  /** Where in the source the chosen frame is, in seconds from the start of the file. */
  timeSeconds: number;
  width: number;
  height: number;
}

/** Enough samples to dodge intros, fades and scene cuts; few enough that one run stays quick. */
const MAX_CANDIDATES = 15;
/** Candidates come from this part of the video: openings and credits are rarely representative. */
const FIRST_CANDIDATE = 0.1;
const LAST_CANDIDATE = 0.9;
/** Analysis width: statistics of a 160-pixel frame rank frames the same as full size, much faster. */
const ANALYSIS_WIDTH = 160;
/**
 * Frames outside this mean luma are black or white (fades, flashes). Limited-range black is
 * 16 and white 235, so these leave room for genuinely dark or bright scenes.
 */
const MIN_MEAN_LUMA = 30;
const MAX_MEAN_LUMA = 225;
/** Minimum spread between the 10th and 90th luma percentiles: below it the frame is one flat tone. */
const MIN_LUMA_SPREAD = 12;

/** What the candidate run measured for one frame. */
export interface CandidateStats {
  /** Index into the candidate times. */
  index: number;
  meanLuma: number;
  lowLuma: number;
  highLuma: number;
  /** Normalised entropy of the luma plane, 0..1: how much detail the frame has. */
  entropy: number;
}

/**
 * Writes poster.jpg and poster-small.jpg for a video: a representative frame (never a black,
 * faded or flat one) at the size it is displayed, upright and with square pixels.
 */
export async function createPoster(input: PosterInput, ctx: StageContext): Promise<PosterResult> {
  const video = input.probe.video;
  if (!video) {
    throw new VidpipeError('INPUT_INVALID', `${input.source} has no video stream to take a poster from`);
  }
  await mkdir(input.outDir, { recursive: true });

  const analysis = input.analysis?.probe.video
    ? { source: input.analysis.source, probe: input.analysis.probe, video: input.analysis.probe.video, keyFrameSeconds: input.analysis.keyFrameSeconds }
    : { source: input.source, probe: input.probe, video, keyFrameSeconds: undefined };
  const times = candidateTimes(analysis.probe, analysis.video, analysis.keyFrameSeconds);
  // A single-frame (or nearly so) input has nothing to choose between: its first frame is the poster.
  const timeSeconds = times.length > 1 ? await pickRepresentativeTime(analysis.source, analysis.video, times, ctx) : (times[0] ?? 0);
  ctx.onProgress(0.5);

  const fullSize = displaySizeAtWidth(video);
  const smallSize = displaySizeAtWidth(video, Math.min(input.smallWidth ?? 320, fullSize.width));
  const full = join(input.outDir, 'poster.jpg');
  const small = join(input.outDir, 'poster-small.jpg');
  // Posters from an earlier run must not pass the check below for ones this run failed to write.
  await Promise.all([full, small].map((path) => rm(path, { force: true })));
  await ctx.ffmpeg.run(
    buildPosterArgs({
      input: input.frameSource ?? input.source,
      streamIndex: input.frameSource ? 0 : video.index,
      timeSeconds,
      full: { path: full, size: fullSize },
      small: { path: small, size: smallSize },
    }),
    { label: 'poster' },
  );
  // ffmpeg exits successfully without writing anything when it decodes no frame at the seek point.
  for (const path of [full, small]) {
    const written = await stat(path).catch(() => undefined);
    if (!written?.size) {
      throw new VidpipeError('FFMPEG_FAILED', `poster: ffmpeg decoded no frame at ${timeSeconds.toFixed(3)} s of ${input.source}`);
    }
  }
  ctx.onProgress(1);
  return { full, small, timeSeconds, width: fullSize.width, height: fullSize.height };
}

/**
 * Evenly spread sample times over 10–90 % of the video, at most one per frame. An input of a
 * single frame gets just time 0: seeking anywhere after its only timestamp decodes nothing.
 * With `keyFrameSeconds` (the input has a key frame at every multiple of it), the key frames in
 * that range instead, evenly thinned to at most MAX_CANDIDATES; the spread times when none lies there.
 */
export function candidateTimes(probe: MediaProbe, video: VideoStreamInfo, keyFrameSeconds?: number): number[] {
  const duration = video.durationSeconds ?? probe.durationSeconds;
  const rate = video.avgFrameRate ?? video.realFrameRate;
  const frames = video.frameCount ?? (rate ? Math.floor((duration * rate.num) / rate.den) : MAX_CANDIDATES);
  if (frames <= 1 || !(duration > 0)) return [0];
  const first = duration * FIRST_CANDIDATE;
  const last = duration * LAST_CANDIDATE;
  if (keyFrameSeconds && keyFrameSeconds > 0) {
    // Key frame k is at k × keyFrameSeconds; printed to the millisecond (GOPs of 2 s or 2.002 s are exact there).
    const firstKey = Math.ceil(first / keyFrameSeconds);
    const keys = Math.floor(last / keyFrameSeconds) - firstKey + 1;
    if (keys > 0) {
      const count = Math.min(MAX_CANDIDATES, keys);
      const picked = Array.from({ length: count }, (_, i) => firstKey + (count > 1 ? Math.round((i * (keys - 1)) / (count - 1)) : 0));
      return picked.map((k) => Number((k * keyFrameSeconds).toFixed(3)));
    }
  }
  const count = Math.min(MAX_CANDIDATES, frames);
  const step = count > 1 ? (last - first) / (count - 1) : 0;
  return Array.from({ length: count }, (_, i) => first + i * step);
}

/** Measures every candidate in one ffmpeg run and returns the time of the best one. */
async function pickRepresentativeTime(source: string, video: VideoStreamInfo, times: number[], ctx: StageContext): Promise<number> {
  const dir = await mkdtemp(join(ctx.workDir, 'poster-'));
  try {
    const metadataFile = join(dir, 'candidates.txt');
    await ctx.ffmpeg.run(
      buildPosterCandidateArgs({
        input: source,
        streamIndex: video.index,
        times,
        size: displaySizeAtWidth(video, Math.min(ANALYSIS_WIDTH, video.displayWidth)),
        metadataFile,
      }),
      { label: 'poster candidates' },
    );
    // The metadata filter creates the file when the graph starts, so it exists even if no frame was decoded.
    const text = await readFile(metadataFile, 'utf8');
    const best = chooseCandidate(parseCandidateStats(text));
    // No candidate decoded (the video stream ends long before the container): fall back to the first frame.
    return best === undefined ? 0 : (times[best.index] ?? 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Parses what `metadata=mode=print` wrote: a `frame:N pts:… pts_time:…` line per frame,
 * followed by `key=value` lines.
 */
export function parseCandidateStats(text: string): CandidateStats[] {
  const blocks: Map<string, string>[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('frame:')) {
      blocks.push(new Map());
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) blocks.at(-1)?.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const stats: CandidateStats[] = [];
  for (const block of blocks) {
    const values = [
      block.get(CANDIDATE_INDEX_KEY),
      block.get('lavfi.signalstats.YAVG'),
      block.get('lavfi.signalstats.YLOW'),
      block.get('lavfi.signalstats.YHIGH'),
      block.get('lavfi.entropy.normalized_entropy.normal.Y'),
    ].map(Number);
    if (values.some((value) => !Number.isFinite(value))) continue;
    const [index, meanLuma, lowLuma, highLuma, entropy] = values as [number, number, number, number, number];
    stats.push({ index, meanLuma, lowLuma, highLuma, entropy });
  }
  return stats;
}

/**
 * The most detailed frame among those that are neither near-black, near-white nor flat. When
 * every frame fails those tests (a dark film, a slideshow of title cards) the most detailed
 * frame overall still beats none. Ties go to the earlier frame.
 */
export function chooseCandidate(stats: CandidateStats[]): CandidateStats | undefined {
  const usable = stats.filter(
    (s) => s.meanLuma >= MIN_MEAN_LUMA && s.meanLuma <= MAX_MEAN_LUMA && s.highLuma - s.lowLuma >= MIN_LUMA_SPREAD,
  );
  const pool = usable.length > 0 ? usable : stats;
  let best: CandidateStats | undefined;
  for (const candidate of pool) {
    if (!best || candidate.entropy > best.entropy) best = candidate;
  }
  return best;
}
