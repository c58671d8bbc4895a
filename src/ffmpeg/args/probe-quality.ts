import type { Rational } from '../probe.js';
import { safeInputPath } from './input-path.js';
import type { ChunkFrames } from './params.js';
import { escapeFilterValue } from './images.js';
import { chunkFrameSteps, chunkInputArgs } from './video.js';

/** A picture size as the encode makes it: coded size, and the scaled picture inside when padded. */
export interface CodedSize {
  width: number;
  height: number;
  picture?: { width: number; height: number };
}

/** One probe encode of a sample, and where its per-frame statistics go. */
export interface ProbeToMeasure extends CodedSize {
  path: string;
  psnrLog: string;
  ssimLog: string;
  /** VMAF of the probe upscaled to the display size; only when the ffmpeg has libvmaf. */
  vmafLog?: string;
}

/** A rung size below the display size, whose loss from the resolution alone is measured. */
export interface ResolutionLossToMeasure extends CodedSize {
  psnrLog: string;
}

export interface ProbeQualityInput {
  source: string;
  streamIndex: number;
  frameRate: Rational;
  deinterlace: boolean;
  /** The sample, exactly as the probes were cut from the source (same seek and frame steps). */
  sample: ChunkFrames;
  /** The size a viewer's player shows the ladder at: the top candidate's. */
  display: CodedSize;
  probes: ProbeToMeasure[];
  resolutionLoss: ResolutionLossToMeasure[];
  /**
   * SSIM and the resolution loss on every n-th frame only (default 1: all); PSNR, which the
   * choice is made on, and VMAF always compare every frame. Thinning a coded sequence picks
   * frame types unevenly (a key frame opens each sample, B-frame runs repeat), so it is left to
   * what only informs (SSIM) or has no coding in it at all (the source scaled down and up).
   */
  frameStride?: number;
  /**
   * The resolution loss on every n-th frame only (default: frameStride). It has no coding in it,
   * so no frame type to pick unevenly: it can be thinned further than SSIM.
   */
  resolutionStride?: number;
}

/** The sample's frames on the output grid, decoded once into a raw file the probes and their measures read. */
export interface SampleDecodeInput {
  source: string;
  streamIndex: number;
  frameRate: Rational;
  deinterlace: boolean;
  sample: ChunkFrames;
  path: string;
}

/**
 * One decode of a sample into raw frames (NUT, any pixel format), after exactly the frame steps
 * a chunk encode applies. A heavy source (a 100 Mb/s camera file decodes at ~15 fps on one core)
 * is then decoded once per sample, not once per probe process and again for the measures.
 */
export function buildSampleDecodeArgs(input: SampleDecodeInput): string[] {
  return [
    '-loglevel', 'error',
    ...chunkInputArgs(input.source, input.sample, input.frameRate),
    '-filter_complex', `[0:${input.streamIndex}]${chunkFrameSteps({ ...input, chunk: input.sample }).join(',')}[v]`,
    '-map', '[v]', '-c:v', 'rawvideo', '-an', '-sn', '-dn', '-map_metadata', '-1', '-f', 'nut', input.path,
  ];
}

/** The same frames as a chunk of a decoded sample: frame 0 to its end, no preroll, already on the grid. */
export function decodedSampleChunk(sample: ChunkFrames): ChunkFrames {
  return { index: sample.index, startFrame: 0, endFrame: sample.endFrame - sample.startFrame, prerollFrame: 0 };
}

/** The source scaled as the encode scaled it (bicubic, square pixels, padded when the rung is). */
function scaleLike(p: CodedSize): string {
  const picture = p.picture ?? p;
  const pad = p.picture ? `,pad=${p.width}:${p.height}:(ow-iw)/2:(oh-ih)/2` : '';
  return `scale=${picture.width}:${picture.height}:flags=bicubic,setsar=1${pad},format=yuv420p`;
}

const sizeKey = (p: CodedSize) => `${p.width}x${p.height}`;

/** `[in]split=n[a0][a1]…` (or a plain rename for one), returning the labels. */
function fanOut(graph: string[], input: string, filters: string, prefix: string, count: number): string[] {
  const labels = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const head = filters ? `[${input}]${filters}` : `[${input}]null`;
  graph.push(count === 1 ? `${head}[${labels[0]}]` : `${head},split=${count}${labels.map((l) => `[${l}]`).join('')}`);
  return labels;
}

/**
 * One ffmpeg run measuring every probe of one sample from a single decode of the source, each
 * reference size scaled once:
 * - each probe at its own size: PSNR and SSIM against the source scaled to it the way the encode
 *   scaled it (what the rung's encoder lost);
 * - each smaller size's resolution loss: the source scaled to it and back up to the display size
 *   with bicubic, as a player shows it, against the source at the display size (PSNR). The
 *   display-size quality of a probe is modelled from the two (its error energy added to the
 *   resolution's), which needs one upscale per size rather than one per probe;
 * - VMAF, when available, of each probe upscaled to the display size (how VMAF is defined).
 * Frames are paired by position: both sides start at 0 on the same frame grid.
 */
export function buildProbeQualityArgs(input: ProbeQualityInput): string[] {
  const { probes, display } = input;
  const sizes = new Map<string, CodedSize>();
  for (const p of [...probes, ...input.resolutionLoss]) sizes.set(sizeKey(p), p);
  const uses = (key: string) => 2 * probes.filter((p) => sizeKey(p) === key).length + input.resolutionLoss.filter((r) => sizeKey(r) === key).length;
  const displayUses = input.resolutionLoss.length + probes.filter((p) => p.vmafLog).length;
  const stride = Math.max(1, Math.floor(input.frameStride ?? 1));
  const resolutionStride = Math.max(1, Math.floor(input.resolutionStride ?? stride));
  const graph: string[] = [];
  // select keeps the frames' timestamps, so a thinned pair still meets frame by frame.
  const selectEvery = (n: number) => (n > 1 ? [`select=not(mod(n\\,${n}))`] : []);
  const every = selectEvery(stride);
  // Only the resolution loss to measure (the probes' PSNR came from their encoder): the source is
  // thinned once, before it is split and scaled to each size, rather than after each scale.
  const thinFirst = probes.length === 0;
  const everyResolution = thinFirst ? [] : selectEvery(resolutionStride);
  const thin = (label: string, out: string, filters: string[] = every) => {
    if (filters.length === 0) return label;
    graph.push(`[${label}]${filters.join(',')}[${out}]`);
    return out;
  };
  const head = [...chunkFrameSteps({ ...input, chunk: input.sample }), ...(thinFirst ? selectEvery(resolutionStride) : [])];
  const branches = fanOut(graph, `0:${input.streamIndex}`, head.join(','), 'src', sizes.size + (displayUses > 0 ? 1 : 0));
  const refs = new Map<string, string[]>();
  [...sizes.entries()].forEach(([key, size], i) => refs.set(key, fanOut(graph, branches[i]!, scaleLike(size), `ref${i}_`, uses(key))));
  const displayRefs = displayUses > 0 ? fanOut(graph, branches[sizes.size]!, scaleLike(display), 'dref', displayUses) : [];
  const take = (list: string[]) => list.shift()!;
  const outputs: string[] = [];
  probes.forEach((p, i) => {
    const own = refs.get(sizeKey(p))!;
    graph.push(
      `[${i + 1}:v:0]format=yuv420p,setsar=1,setpts=PTS-STARTPTS[p${i}a]`,
      `[p${i}a][${take(own)}]psnr=stats_file=${escapeFilterValue(p.psnrLog)}[p${i}b]`,
    );
    let forSsim = `p${i}b`;
    if (p.vmafLog) {
      forSsim = `p${i}s`;
      graph.push(
        `[p${i}b]split=2[p${i}s][p${i}v]`,
        `[p${i}v]${scaleLike(display)}[p${i}up]`,
        `[p${i}up][${take(displayRefs)}]libvmaf=log_fmt=json:log_path=${escapeFilterValue(p.vmafLog)}[vout${i}]`,
      );
      outputs.push(`[vout${i}]`);
    }
    graph.push(`[${thin(forSsim, `p${i}t`)}][${thin(take(own), `r${i}t`)}]ssim=stats_file=${escapeFilterValue(p.ssimLog)}[out${i}]`);
    outputs.push(`[out${i}]`);
  });
  input.resolutionLoss.forEach((r, i) => {
    graph.push(
      `[${take(refs.get(sizeKey(r))!)}]${[...everyResolution, scaleLike(display)].join(',')}[up${i}]`,
      `[up${i}][${thin(take(displayRefs), `d${i}t`, everyResolution)}]psnr=stats_file=${escapeFilterValue(r.psnrLog)}[rout${i}]`,
    );
    outputs.push(`[rout${i}]`);
  });
  return [
    ...chunkInputArgs(input.source, input.sample, input.frameRate),
    ...probes.flatMap((p) => ['-i', safeInputPath(p.path)]),
    '-filter_complex', graph.join(';'),
    ...outputs.flatMap((label) => ['-map', label]),
    '-f', 'null', '-',
  ];
}
