import type { Rational } from '../probe.js';
import { safeInputPath } from '../probe.js';
import type { Chunk } from '../../core/plan.js';
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
  sample: Chunk;
  /** The size a viewer's player shows the ladder at: the top candidate's. */
  display: CodedSize;
  probes: ProbeToMeasure[];
  resolutionLoss: ResolutionLossToMeasure[];
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
  const graph: string[] = [];
  const branches = fanOut(graph, `0:${input.streamIndex}`, chunkFrameSteps({ ...input, chunk: input.sample }).join(','), 'src', sizes.size + (displayUses > 0 ? 1 : 0));
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
      `[p${i}b][${take(own)}]ssim=stats_file=${escapeFilterValue(p.ssimLog)}[out${i}]`,
    );
    outputs.push(`[out${i}]`);
    if (p.vmafLog) {
      graph.push(`[out${i}]${scaleLike(display)}[p${i}up]`, `[p${i}up][${take(displayRefs)}]libvmaf=log_fmt=json:log_path=${escapeFilterValue(p.vmafLog)}[vout${i}]`);
      outputs[outputs.length - 1] = `[vout${i}]`;
    }
  });
  input.resolutionLoss.forEach((r, i) => {
    graph.push(`[${take(refs.get(sizeKey(r))!)}]${scaleLike(display)}[up${i}]`, `[up${i}][${take(displayRefs)}]psnr=stats_file=${escapeFilterValue(r.psnrLog)}[rout${i}]`);
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
