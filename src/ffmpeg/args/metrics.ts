import type { Rational } from '../probe.js';
import { safeInputPath } from '../probe.js';
import { escapeFilterValue } from './images.js';
import { rationalText } from './video.js';

/**
 * ffmpeg arguments for full-reference quality metrics of one rendition. The rendition is the
 * "main" (distorted) input, the source the reference; both are brought onto the same frame
 * grid the encoder used (fps anchored at 0, then timestamps from 0) and the source is scaled
 * to the rendition's size, so frame n of one is compared with frame n of the other.
 */
export interface QualityArgsInput {
  /** The rendition as ffmpeg reads it whole: its HLS media playlist (EXT-X-MAP + segments). */
  rendition: string;
  source: string;
  /** Absolute index of the source's video stream. */
  sourceStreamIndex: number;
  width: number;
  height: number;
  frameRate: Rational;
  /** Only the first `durationSeconds` of the source were packaged. */
  durationSeconds: number;
  deinterlace: boolean;
  psnrLog: string;
  ssimLog: string;
  /** Set only when the ffmpeg in use has the libvmaf filter. */
  vmafLog?: string;
}

export function buildQualityArgs(input: QualityArgsInput): string[] {
  const reference = [
    ...(input.deinterlace ? ['bwdif=mode=send_frame:deint=interlaced'] : []),
    `fps=fps=${rationalText(input.frameRate)}:start_time=0`,
    `scale=${input.width}:${input.height}:flags=bicubic`,
    'setsar=1',
    'format=yuv420p',
    'setpts=PTS-STARTPTS',
  ];
  const branches = input.vmafLog ? 3 : 2;
  const refs = Array.from({ length: branches }, (_, i) => `[r${i}]`).join('');
  const graph = [
    '[0:v:0]format=yuv420p,setsar=1,setpts=PTS-STARTPTS[d0]',
    `[1:${input.sourceStreamIndex}]${reference.join(',')},split=${branches}${refs}`,
    `[d0][r0]psnr=stats_file=${escapeFilterValue(input.psnrLog)}[d1]`,
    `[d1][r1]ssim=stats_file=${escapeFilterValue(input.ssimLog)}${input.vmafLog ? '[d2]' : ''}`,
    ...(input.vmafLog ? [`[d2][r2]libvmaf=log_fmt=json:log_path=${escapeFilterValue(input.vmafLog)}`] : []),
  ];
  return [
    '-i', safeInputPath(input.rendition),
    '-i', safeInputPath(input.source),
    '-filter_complex', graph.join(';'),
    '-t', input.durationSeconds.toFixed(6),
    '-f', 'null', '-',
  ];
}
