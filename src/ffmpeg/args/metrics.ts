import type { Rational } from '../probe.js';
import { safeInputPath } from './input-path.js';
import { escapeFilterValue } from './images.js';
import { rationalText } from './video.js';

/**
 * ffmpeg arguments for full-reference quality metrics of several renditions from one decode of
 * the source. Each rendition is a "main" (distorted) input, the source the reference; both are
 * brought onto the same frame grid the encoder used (fps anchored at 0, then timestamps from 0)
 * and the source is scaled to each rendition's size, so frame n of one is compared with frame n
 * of the other.
 */
export interface QualityArgsInput {
  renditions: RenditionQualityArgs[];
  source: string;
  /** Absolute index of the source's video stream. */
  sourceStreamIndex: number;
  frameRate: Rational;
  /** Only the first `durationSeconds` of the source were packaged. */
  durationSeconds: number;
  deinterlace: boolean;
}

export interface RenditionQualityArgs {
  /** The rendition as ffmpeg reads it whole: its HLS media playlist (EXT-X-MAP + segments), or its MP4. */
  path: string;
  width: number;
  height: number;
  psnrLog: string;
  /** Absent: no SSIM (a caller that reads only the target's metric). */
  ssimLog?: string;
  /** Set only when the ffmpeg in use has the libvmaf filter. */
  vmafLog?: string;
}

export function buildQualityArgs(input: QualityArgsInput): string[] {
  const sourceInput = input.renditions.length;
  const grid = [
    ...(input.deinterlace ? ['bwdif=mode=send_frame:deint=interlaced'] : []),
    `fps=fps=${rationalText(input.frameRate)}:start_time=0`,
  ];
  const scaled = input.renditions.map((_r, i) => `[s${i}]`).join('');
  const graph = [`[${sourceInput}:${input.sourceStreamIndex}]${grid.join(',')},split=${input.renditions.length}${scaled}`];
  for (const [i, rendition] of input.renditions.entries()) {
    const reference = [`scale=${rendition.width}:${rendition.height}:flags=bicubic`, 'setsar=1', 'format=yuv420p', 'setpts=PTS-STARTPTS'];
    // The comparisons in a chain, each passing the rendition's frames on to the next; the last has no output label.
    const comparisons = [
      `psnr=stats_file=${escapeFilterValue(rendition.psnrLog)}`,
      ...(rendition.ssimLog ? [`ssim=stats_file=${escapeFilterValue(rendition.ssimLog)}`] : []),
      ...(rendition.vmafLog ? [`libvmaf=log_fmt=json:log_path=${escapeFilterValue(rendition.vmafLog)}`] : []),
    ];
    const branches = comparisons.length;
    const refs = Array.from({ length: branches }, (_, b) => `[r${i}_${b}]`).join('');
    graph.push(
      `[${i}:v:0]format=yuv420p,setsar=1,setpts=PTS-STARTPTS[d${i}_0]`,
      `[s${i}]${reference.join(',')}${branches > 1 ? `,split=${branches}${refs}` : `[r${i}_0]`}`,
      ...comparisons.map((filter, b) => `[d${i}_${b}][r${i}_${b}]${filter}${b < branches - 1 ? `[d${i}_${b + 1}]` : ''}`),
    );
  }
  return [
    ...input.renditions.flatMap((rendition) => ['-i', safeInputPath(rendition.path)]),
    '-i', safeInputPath(input.source),
    '-filter_complex', graph.join(';'),
    // Every comparison's output (unlabelled) goes to the one null output.
    '-t', input.durationSeconds.toFixed(6),
    '-f', 'null', '-',
  ];
}
