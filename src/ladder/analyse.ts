import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rendition } from '../core/ladder.js';
import type { Chunk, VideoPlan } from '../core/plan.js';
import type { StageContext } from '../core/stage.js';
import { VidpipeError } from '../errors.js';
import { detectCapabilities, hasFilter } from '../ffmpeg/capabilities.js';
import type { FfmpegRunner } from '../ffmpeg/runner.js';
import type { VideoStreamInfo } from '../ffmpeg/probe.js';
import { buildChunkEncodeArgs } from '../ffmpeg/args/video.js';
import { pickAv1Encoder, videoEncoderFor, type Av1Encoder } from '../ffmpeg/args/encoders.js';
import { buildProbeQualityArgs, buildSampleDecodeArgs, decodedSampleChunk, type ProbeToMeasure } from '../ffmpeg/args/probe-quality.js';
import { matchEncoderPsnr, parseEncoderPsnr } from '../ffmpeg/encoder-psnr.js';
import { readVideoSamples } from '../media/mp4-file.js';
import { mseOfPsnr as mseOf, parsePsnrStats, parseSsimStats, parseVmafLog, psnrOfMse as psnrOf } from '../metrics/quality.js';
import type { Preset, VideoCodec } from '../settings/job-settings.js';
import { qualityTargetFor, type QualityMetric } from '../settings/quality-target.js';
import { chooseLadder, DEFAULT_CHOICE, tableLadder, type ChoiceOptions, type LadderChoice, type ProbeResult } from './choose.js';
import { curveFitted, firstCrf, modelledPoint, secondCrf, slopesOf, tableRatesNeeded, topSecondCrf } from './probe-rules.js';
import { planSamples, type SamplingOptions } from './sampling.js';

/**
 * The constant-quality settings each codec is probed at: the first is where the top size starts
 * (and smaller sizes when its curve says nothing better); the spacing to the second (10 CRF, about
 * 3x in rate for x264) scales how far topSecondCrf moves the top size's second probe and bounds
 * the smaller sizes' first CRF: from CRF ~16 to ~38 for x264, the range where ordinary content,
 * from grain to slides, meets a 40 dB target.
 * x265's scale sits a few steps above x264's for the same quality, SVT-AV1's 0–63 scale higher.
 */
export const PROBE_CRFS: Record<VideoCodec, readonly number[]> = { h264: [22, 32], hevc: [24, 34], av1: [30, 44] };

/**
 * Probe presets: fast enough that the analysis stays a fraction of the job (x264 veryfast is
 * ~3x medium's speed), and close enough to the final encode that the CRF that met the target
 * there meets it here too (the margin covers the difference). x265 veryfast, not ultrafast: at
 * the same CRF on testsrc2 360p, ultrafast measured 36.98 dB against medium's 41.17 (at the same
 * bytes), veryfast 40.62, for 1.5x ultrafast's time; an ultrafast probe had every HEVC rung
 * capped at the table's rate although medium met the target below it. SVT-AV1's fastest
 * preset is not measured against its slower ones here (docs/per-title.md, limits).
 */
export const PROBE_PRESET: Record<VideoCodec, Preset> = { h264: 'veryfast', hevc: 'veryfast', av1: 'ultrafast' };

/** Relative cost of one probe encode per pixel, to balance the processes (measured on 2 cores). */
const ENCODE_COST: Record<VideoCodec, number> = { h264: 1, hevc: 4, av1: 3 };

/** What the analysis needs to know of the video: the plan's frame grid and stream. */
export type AnalysedVideo = Pick<VideoPlan, 'streamIndex' | 'frameRate' | 'gopFrames' | 'totalFrames' | 'deinterlace' | 'hdr'>;

/** What the user chose (JobSettings' qualityTarget and maxBitrateKbps). */
export interface PerTitleSettings {
  qualityTarget?: number;
  maxBitrateKbps?: number;
}

export interface AnalysisOptions extends PerTitleSettings {
  /** VMAF when the ffmpeg has libvmaf, else PSNR. */
  metric: QualityMetric;
  av1Encoder: Av1Encoder;
  /** Folder for the probe files (removed afterwards). */
  workDir: string;
  /** Cores' worth of ffmpeg processes (default 2; one more runs to fill their gaps): the parallelism, since one process encodes from one thread. */
  parallel?: number;
  /**
   * Bytes of one decoded source frame (width × height × bytes per pixel). A sample whose raw
   * frames fit in RAW_SAMPLE_LIMIT is decoded once into a raw file that every probe reads;
   * a bigger one (4K and up) is decoded by each process from the source. Absent: from the source.
   */
  frameBytes?: number;
  sampling?: SamplingOptions;
  /** The source's key frames on the output grid (sourceKeyFrames): samples start on them. */
  keyFrames?: readonly number[];
  choice?: Partial<Omit<ChoiceOptions, 'metric' | 'target' | 'maxBitrateKbps'>>;
  onProgress?: (fraction: number) => void;
}

export interface TitleAnalysis {
  metric: QualityMetric;
  target: number;
  samples: Chunk[];
  /** Share of the title's frames the probes encoded. */
  sampledFraction: number;
  /** Every probe point, pooled over the samples. */
  probes: ProbeResult[];
  /** The fitted curves are the probes of each (codec, size) in rate order; chooseLadder fits them. */
  choice: LadderChoice;
  /** Wall time of the analysis, seconds. */
  seconds: number;
  /** Summed wall time of the probe-encode and of the measuring processes (they overlap). */
  processSeconds: { decode: number; encode: number; measure: number };
}

/** One probe encode: a candidate at a CRF, uncapped, written to its own file. */
export interface ProbeOutput {
  candidate: Rendition;
  crf: number;
  rendition: Rendition;
}

function probeOutputs(candidates: Rendition[], av1Encoder: Av1Encoder): ProbeOutput[] {
  const seen = new Set<string>();
  return candidates.flatMap((candidate) => {
    const key = `${candidate.codec}-${candidate.size}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return PROBE_CRFS[candidate.codec].map((crf) => ({
      candidate,
      crf,
      // Capped at twice the table's rate: enough to see where the content stands, and grain at a low
      // CRF (100+ Mb/s at 1080p, slow to encode) costs no more than the analysis of easy content.
      rendition: {
        ...candidate,
        id: `${candidate.id}-crf${crf}`,
        crf,
        maxrateKbps: candidate.bitrateKbps * 2,
        bufsizeKbps: candidate.bitrateKbps * 4,
        encoder: videoEncoderFor(candidate.codec, PROBE_PRESET[candidate.codec], av1Encoder),
      },
    }));
  });
}

/** The same probe at another CRF. */
function probeAt(output: ProbeOutput, crf: number): ProbeOutput {
  return { ...output, crf, rendition: { ...output.rendition, id: `${output.candidate.id}-crf${crf}`, crf } };
}

/**
 * Splits the probe outputs of one sample into `groups` processes of about equal cost (largest
 * first onto the least loaded), keeping each (codec, size)'s CRFs together.
 */
export function groupOutputs(outputs: ProbeOutput[], groups: number): ProbeOutput[][] {
  const units = new Map<string, ProbeOutput[]>();
  for (const o of outputs) {
    const key = `${o.rendition.codec}-${o.rendition.size}`;
    units.set(key, [...(units.get(key) ?? []), o]);
  }
  const cost = (unit: ProbeOutput[]) => unit.length * unit[0]!.rendition.width * unit[0]!.rendition.height * ENCODE_COST[unit[0]!.rendition.codec];
  const bins = Array.from({ length: Math.max(1, Math.min(groups, units.size)) }, () => ({ load: 0, outputs: [] as ProbeOutput[] }));
  for (const unit of [...units.values()].sort((a, b) => cost(b) - cost(a))) {
    const bin = bins.reduce((min, b) => (b.load < min.load ? b : min));
    bin.load += cost(unit);
    bin.outputs.push(...unit);
  }
  return bins.map((b) => b.outputs).filter((o) => o.length > 0);
}

/** At most `limit` holders at once, served in order: the ffmpeg processes of the analysis. */
function slots(limit: number): <T>(work: () => Promise<T>) => Promise<T> {
  let free = limit;
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

/** Largest raw decode of one sample kept on disk (two samples are in flight): 1080p 8-bit, 2 s at 60 fps, is 370 MB. */
export const RAW_SAMPLE_LIMIT = 768 * 1024 * 1024;

/**
 * SSIM and the resolution loss are measured on every second frame (buildProbeQualityArgs'
 * frameStride): half their scaling and comparing. PSNR, which the ladder is chosen on, compares
 * every frame: thinning coded frames picks frame types unevenly (it moved PSNR by up to 0.55 dB
 * on a 3 s source).
 */
export const MEASURE_FRAME_STRIDE = 2;

/**
 * The resolution loss (the source scaled down and up to the display size, no coding in it) on
 * every sixth frame: it moves slowly with the picture, and its 1080p upscale and comparison per
 * size were the biggest part of measuring small probes (slides).
 */
export const RESOLUTION_FRAME_STRIDE = 6;

/** Where a sample's frames are read from: the source with the chunk's seek and frame steps, or its raw decode. */
type SampleInput = { source: string; streamIndex: number; chunk: Chunk; deinterlace: boolean };

/** Per-sample measure of one probe, kept as sums so samples pool by frame. */
interface SampleMeasure {
  key: string;
  codec: VideoCodec;
  size: number;
  width: number;
  height: number;
  crf: number;
  bytes: number;
  seconds: number;
  frames: number;
  mseSum: number;
  ssimSum: number | null;
  displayMseSum: number;
  vmafSum: number | null;
}


function pooled(measures: SampleMeasure[]): ProbeResult[] {
  const byKey = new Map<string, SampleMeasure[]>();
  for (const m of measures) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m]);
  return [...byKey.values()].map((list) => {
    const sum = (f: (m: SampleMeasure) => number) => list.reduce((a, m) => a + f(m), 0);
    const frames = sum((m) => m.frames);
    const first = list[0]!;
    return {
      codec: first.codec,
      size: first.size,
      width: first.width,
      height: first.height,
      crf: first.crf,
      kbps: Math.round((sum((m) => m.bytes) * 8) / sum((m) => m.seconds) / 100) / 10,
      psnr: Math.round(psnrOf(sum((m) => m.mseSum) / frames) * 1000) / 1000,
      ...(list.every((m) => m.ssimSum !== null) ? { ssim: Math.round((sum((m) => m.ssimSum!) / frames) * 1e5) / 1e5 } : {}),
      displayPsnr: Math.round(psnrOf(sum((m) => m.displayMseSum) / frames) * 1000) / 1000,
      vmaf: list.every((m) => m.vmafSum !== null) ? Math.round((sum((m) => m.vmafSum!) / frames) * 1000) / 1000 : null,
    };
  });
}

/**
 * The per-title analysis of one title: probe encodes of a few samples, each measured for rate and
 * quality, then the ladder chosen from them. Probes run in rounds (probe-rules.ts), so that no
 * probe is encoded that decides nothing:
 * 1. each codec's top size at its lowest CRF, then at the other. When its curve stays far under
 *    the aim at the table's rate (grain), that codec's ladder is the table's rates and it is
 *    probed no further (the lowest CRF's probe alone can show it: then the other is not encoded);
 * 2. each smaller size once, at the CRF where the top's curve meets the aim;
 * 3. a second CRF only for the sizes whose first point missed the aim by more than the tolerance;
 *    a size that met it gets its curve's second point modelled from the top's slopes.
 *
 * Work runs as `parallel` + 1 ffmpeg processes at once. Each sample is decoded once into raw
 * frames kept for every round (when they fit; otherwise each process decodes it from the
 * source); then each (sample, group of probes) is one process feeding all its probe encodes from
 * one read of those frames (single-threaded x264: the processes are the parallelism), followed by
 * one that measures each probe at its own size and at the display size.
 */
export async function analyseTitle(
  source: string,
  video: AnalysedVideo,
  candidates: Rendition[],
  options: AnalysisOptions,
  ffmpeg: FfmpegRunner,
): Promise<TitleAnalysis> {
  const started = Date.now();
  if (candidates.length === 0) throw new VidpipeError('INTERNAL', 'per-title analysis: no candidate renditions');
  const target = qualityTargetFor(options.metric, options.qualityTarget);
  const choiceOptions: ChoiceOptions = {
    ...DEFAULT_CHOICE,
    ...options.choice,
    metric: options.metric,
    target,
    ...(options.maxBitrateKbps ? { maxBitrateKbps: options.maxBitrateKbps } : {}),
  };
  const aim = target + choiceOptions.margin;
  const fps = video.frameRate.num / video.frameRate.den;
  const samples = planSamples(video.totalFrames, video.gopFrames, fps, options.sampling, options.keyFrames);
  const parallel = Math.max(1, options.parallel ?? 2);
  const top = [...candidates].sort((a, b) => b.width * b.height - a.width * a.height)[0]!;
  const display = { width: top.width, height: top.height };
  const dir = join(options.workDir, 'per-title');
  await mkdir(dir, { recursive: true });

  const timing = { decode: 0, encode: 0, measure: 0 };
  // One process more than the parallelism: each probe process leaves part of its core idle
  // (start-up, reading the sample, the measuring filters waiting on one another), and one more
  // fills those gaps (2 cores, 20 s 1080p slides: 18.3 s with 2, 16.2 s with 3, 17.2 s with 4).
  const inSlot = slots(parallel + 1);
  const timed = async <T>(phase: keyof typeof timing, work: () => Promise<T>): Promise<T> => {
    const begun = Date.now();
    try {
      return await work();
    } finally {
      timing[phase] += (Date.now() - begun) / 1000;
    }
  };
  const sampledFrames = samples.reduce((a, s) => a + s.endFrame - s.startFrame, 0);
  // Every sample's raw frames stay on disk for all rounds: as much as two samples of the limit.
  const rawFits = options.frameBytes !== undefined && options.frameBytes * sampledFrames <= 2 * RAW_SAMPLE_LIMIT;
  // Progress: the rounds' share of the work is not known in advance; each round gets a slice.
  let progressBase = 0;
  const report = (fraction: number) => options.onProgress?.(Math.min(1, fraction));

  /** The loss from the resolution alone (mean squared error at the display size), by sample and size. */
  const resolutionMse = new Map<string, number>();

  /** One (sample, group) run: encode the group's probes, then measure them, in one process slot. */
  const measureGroup = async (sample: Chunk, input: SampleInput, group: ProbeOutput[], name: string): Promise<SampleMeasure[]> => {
    const base = join(dir, name);
    const files = group.map((o) => ({ ...o, path: `${base}-${o.rendition.id}.mp4` }));
    const seconds = ((sample.endFrame - sample.startFrame) * video.frameRate.den) / video.frameRate.num;
    const label = `sample ${sample.index + 1}`;
    const { stderr } = await timed('encode', () =>
      ffmpeg.run(
        buildChunkEncodeArgs({
          ...input,
          frameRate: video.frameRate,
          gopFrames: video.gopFrames,
          hdr: video.hdr,
          // One thread per encoder: the processes are the parallelism (and x264 is deterministic so).
          outputs: files.map((f) => ({ rendition: f.rendition, path: f.path, threads: 1 })),
        }),
        { label: `per-title probe encode, ${label}` },
      ),
    );
    // The probes' coded bytes and frames from their MP4 index (stsz): no ffprobe run per probe.
    const coded = await Promise.all(
      files.map(async (f) => {
        const samples = await readVideoSamples(f.path);
        if (samples === undefined) throw new VidpipeError('FFMPEG_FAILED', `per-title probe ${f.path} has no video track`);
        return { ...samples, seconds: (samples.count * video.frameRate.den) / video.frameRate.num };
      }),
    );
    // PSNR as the target's metric: x264 reported each probe's (encoder-psnr.ts), so the measure
    // below only has the resolution loss left to do, or nothing.
    const reported = options.metric === 'psnr' ? matchEncoderPsnr(parseEncoderPsnr(stderr), coded) : undefined;
    const probes: ProbeToMeasure[] = files.map((f) => ({
      path: f.path,
      width: f.rendition.width,
      height: f.rendition.height,
      ...(f.rendition.picture ? { picture: f.rendition.picture } : {}),
      psnrLog: `${f.path}.psnr.log`,
      ssimLog: `${f.path}.ssim.log`,
      ...(options.metric === 'vmaf' ? { vmafLog: `${f.path}.vmaf.json` } : {}),
    }));
    // Each smaller size's loss from the resolution alone, once per size and sample (see
    // buildProbeQualityArgs): a size's second probe, in a later round, reuses its first's.
    const lossKey = (size: number) => `${sample.index}-${size}`;
    const below = [...new Map(files.filter((f) => f.candidate.width * f.candidate.height < display.width * display.height && !resolutionMse.has(lossKey(f.candidate.size))).map((f) => [f.candidate.size, f.candidate])).values()];
    const resolutionLoss = below.map((c) => ({ width: c.width, height: c.height, ...(c.picture ? { picture: c.picture } : {}), psnrLog: `${base}-${c.size}.resolution-psnr.log`, size: c.size }));
    const measured = reported ? [] : probes;
    if (measured.length > 0 || resolutionLoss.length > 0) {
      await timed('measure', () =>
        ffmpeg.run(
          buildProbeQualityArgs({ ...input, frameRate: video.frameRate, sample: input.chunk, display, probes: measured, resolutionLoss, frameStride: MEASURE_FRAME_STRIDE, resolutionStride: RESOLUTION_FRAME_STRIDE }),
          { label: `per-title probe quality, ${label}` },
        ),
      );
    }
    for (const r of resolutionLoss) resolutionMse.set(lossKey(r.size), mseOf(parsePsnrStats(await readFile(r.psnrLog, 'utf8')).psnr));
    const result: SampleMeasure[] = [];
    for (const [i, f] of files.entries()) {
      const p = probes[i]!;
      const { bytes } = coded[i]!;
      const psnr = reported ? { psnr: reported[i]!, frames: coded[i]!.count } : parsePsnrStats(await readFile(p.psnrLog, 'utf8'));
      const ssim = reported ? undefined : parseSsimStats(await readFile(p.ssimLog, 'utf8'));
      const vmaf = p.vmafLog && !reported ? parseVmafLog(await readFile(p.vmafLog, 'utf8')) : null;
      const mse = mseOf(psnr.psnr);
      result.push({
        key: `${f.candidate.codec}-${f.candidate.size}-${f.crf}`,
        codec: f.candidate.codec,
        size: f.candidate.size,
        width: f.candidate.width,
        height: f.candidate.height,
        crf: f.crf,
        bytes,
        seconds,
        frames: psnr.frames,
        mseSum: mse * psnr.frames,
        // SSIM is measured on every MEASURE_FRAME_STRIDE-th frame: its mean is over those frames.
        ssimSum: ssim ? ssim.ssim * psnr.frames : null,
        // Coding error and resolution loss taken as independent: their energies add.
        displayMseSum: (mse + (resolutionMse.get(lossKey(f.candidate.size)) ?? 0)) * psnr.frames,
        vmafSum: vmaf === null ? null : vmaf * psnr.frames,
      });
    }
    await Promise.all(files.map((f) => rm(f.path, { force: true })));
    return result;
  };

  /** Each sample decoded once (into raw frames when they fit), in parallel slots. */
  const inputs: SampleInput[] = await Promise.all(
    samples.map(async (sample) => {
      const fromSource: SampleInput = { source, streamIndex: video.streamIndex, chunk: sample, deinterlace: video.deinterlace };
      if (!rawFits) return fromSource;
      const raw = join(dir, `s${sample.index}.nut`);
      await inSlot(() =>
        timed('decode', () =>
          ffmpeg.run(buildSampleDecodeArgs({ ...fromSource, frameRate: video.frameRate, sample, path: raw }), { label: `per-title sample decode, sample ${sample.index + 1}` }),
        ),
      );
      // Already deinterlaced and on the grid: the probes read it as a chunk from frame 0.
      return { source: raw, streamIndex: 0, chunk: decodedSampleChunk(sample), deinterlace: false };
    }),
  );

  /** One round: the outputs over every sample, pooled; its share of the progress is `share`. */
  let round = 0;
  const probeRound = async (outputs: ProbeOutput[], share: number): Promise<ProbeResult[]> => {
    if (outputs.length === 0) return [];
    round++;
    // At least two tasks per process slot, so the last round of tasks does not leave a core idle.
    const groupsPerSample = Math.max(1, Math.ceil((2 * parallel) / samples.length));
    // One codec per process: each gets its own probe preset.
    const codecs = [...new Set(outputs.map((o) => o.rendition.codec))];
    const groups = codecs.flatMap((codec) => groupOutputs(outputs.filter((o) => o.rendition.codec === codec), groupsPerSample));
    const tasks = samples.flatMap((sample, s) => groups.map((group, g) => ({ sample, input: inputs[s]!, group, name: `s${sample.index}-r${round}-g${g}` })));
    let done = 0;
    const base = progressBase;
    const measures = await Promise.all(
      tasks.map((t) =>
        inSlot(async () => {
          const result = await measureGroup(t.sample, t.input, t.group, t.name);
          report(base + (share * ++done) / tasks.length);
          return result;
        }),
      ),
    );
    progressBase += share;
    return pooled(measures.flat());
  };

  try {
    const all = probeOutputs(candidates, options.av1Encoder);
    const codecs = [...new Set(candidates.map((c) => c.codec))];
    const topOf = (codec: VideoCodec) => candidates.filter((c) => c.codec === codec).sort((a, b) => b.width * b.height - a.width * a.height || b.bitrateKbps - a.bitrateKbps)[0]!;
    const isTop = (o: ProbeOutput) => o.candidate === topOf(o.candidate.codec);
    // 1. The top size of each codec at its lowest CRF, then (unless that probe already shows the
    //    content needs the table's rates: grain) at the other.
    const tableRates: Partial<Record<VideoCodec, string>> = {};
    const exitEarly = (probes: ProbeResult[]) => {
      for (const codec of codecs) {
        const why = tableRates[codec] ?? tableRatesNeeded(probes.filter((p) => p.codec === codec), Math.min(topOf(codec).bitrateKbps, options.maxBitrateKbps ?? Infinity), aim, options.metric);
        if (why) tableRates[codec] = why;
      }
    };
    const lowest = (o: ProbeOutput) => o.crf === PROBE_CRFS[o.candidate.codec][0];
    const probes = await probeRound(all.filter((o) => isTop(o) && lowest(o)), 0.25);
    exitEarly(probes);
    // The second where the first's quality says the aim lies (topSecondCrf).
    const secondTop = all
      .filter((o) => isTop(o) && lowest(o) && !tableRates[o.candidate.codec])
      .map((o) => probeAt(o, topSecondCrf(probes.find((p) => p.codec === o.candidate.codec)!, aim, options.metric, PROBE_CRFS[o.candidate.codec])));
    probes.push(...(await probeRound(secondTop, 0.25)));
    exitEarly(probes);
    const onward = all.filter((o) => !isTop(o) && !tableRates[o.candidate.codec]);
    // 2. Each smaller size once, where the top's curve meets the aim.
    const firstOutputs = [...new Map(onward.map((o) => [`${o.candidate.codec}-${o.candidate.size}`, o])).values()].map((o) => {
      const crf = firstCrf(probes.filter((p) => p.codec === o.candidate.codec), aim, options.metric, o.candidate.codec, PROBE_CRFS[o.candidate.codec]);
      return probeAt(o, crf);
    });
    const first = await probeRound(firstOutputs, 0.3);
    probes.push(...first);
    // 3. A second CRF where the first point missed the aim; otherwise a modelled second point.
    const slopes = (codec: VideoCodec) => slopesOf(probes.filter((p) => p.codec === codec && p.size === topOf(codec).size && !p.modelled));
    const missed = first.filter((p) => !slopes(p.codec) || !curveFitted(p, aim, options.metric, slopes(p.codec)));
    const secondOutputs = missed.map((p) => {
      const o = firstOutputs.find((x) => x.candidate.codec === p.codec && x.candidate.size === p.size)!;
      return probeAt(o, secondCrf(p, aim, options.metric, slopes(p.codec)));
    });
    probes.push(...(await probeRound(secondOutputs, 0.2)));
    for (const p of first) if (!missed.includes(p)) probes.push(modelledPoint(p, slopes(p.codec)!, aim, options.metric));

    const measuredCodecs = codecs.filter((codec) => !tableRates[codec]);
    const chosen = chooseLadder(candidates.filter((c) => measuredCodecs.includes(c.codec)), probes, choiceOptions);
    const choice: LadderChoice = {
      ...chosen,
      rungs: [...chosen.rungs, ...codecs.filter((codec) => tableRates[codec]).flatMap((codec) => tableLadder(candidates.filter((c) => c.codec === codec), probes, options.maxBitrateKbps))],
      ...(Object.keys(tableRates).length > 0 ? { tableRates } : {}),
    };
    return {
      metric: options.metric,
      target,
      samples,
      sampledFraction: Math.round((sampledFrames / video.totalFrames) * 1000) / 1000,
      probes,
      choice,
      seconds: (Date.now() - started) / 1000,
      processSeconds: { decode: Math.round(timing.decode * 10) / 10, encode: Math.round(timing.encode * 10) / 10, measure: Math.round(timing.measure * 10) / 10 },
    };
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Bytes of one decoded frame of a video stream as the decoder gives it: luma plus chroma planes
 * (4:2:0, 4:2:2 or 4:4:4 from the pixel format's name), 2 bytes a sample above 8 bits.
 */
export function decodedFrameBytes(video: Pick<VideoStreamInfo, 'width' | 'height' | 'bitDepth' | 'pixelFormat'>): number {
  const format = video.pixelFormat ?? '';
  const planes = /^(yuv|yuvj)420|^nv12|^p01|^nv21/.test(format) ? 1.5 : /^(yuv|yuvj)422|^nv16|^p21/.test(format) ? 2 : /^gray/.test(format) ? 1 : /a/.test(format) ? 4 : 3; // alpha formats: 4 planes; unknown: 4:4:4
  return Math.ceil(video.width * video.height * planes * (video.bitDepth > 8 ? 2 : 1));
}

/** The graph node's input: the plan's video and its candidate (fixed-table) renditions. */
export interface TitleAnalysisInput {
  source: string;
  video: AnalysedVideo;
  /** decodedFrameBytes of the source's video stream (whether its samples fit in a raw decode). */
  frameBytes?: number;
  candidates: Rendition[];
  settings: PerTitleSettings;
  /** ffmpeg processes at once (the job's concurrency). */
  parallel?: number;
  /** The source's key frames on the output grid (sourceKeyFrames), when known. */
  keyFrames?: readonly number[];
}

/**
 * The analysis as a stage `(input, context) → output`: the metric and AV1 encoder come from what
 * the ffmpeg in use has (VMAF only with libvmaf, which Debian's ffmpeg lacks).
 */
export async function analyseTitleStage(input: TitleAnalysisInput, ctx: StageContext): Promise<TitleAnalysis> {
  const capabilities = await detectCapabilities(ctx.ffmpeg.binaries);
  return analyseTitle(
    input.source,
    input.video,
    input.candidates,
    {
      ...input.settings,
      metric: (await hasFilter(ctx.ffmpeg.binaries, 'libvmaf')) ? 'vmaf' : 'psnr',
      av1Encoder: pickAv1Encoder(capabilities.encoders),
      workDir: ctx.workDir,
      ...(input.parallel ? { parallel: input.parallel } : {}),
      ...(input.frameBytes ? { frameBytes: input.frameBytes } : {}),
      ...(input.keyFrames ? { keyFrames: input.keyFrames } : {}),
      // Tests only: a negative margin makes the choice aim under the target, so the quality check must correct it.
      ...(process.env.VIDPIPE_TEST_LADDER_MARGIN ? { choice: { margin: Number(process.env.VIDPIPE_TEST_LADDER_MARGIN) } } : {}),
      onProgress: (fraction) => ctx.onProgress(fraction),
    },
    ctx.ffmpeg,
  );
}
