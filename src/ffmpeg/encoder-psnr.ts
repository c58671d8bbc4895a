/**
 * The PSNR an encoder reports of its own output. x264 asked for it (`psnr=1`) measures each
 * reconstructed frame against the frame it was given — the decoded output against the source as
 * the encode scaled it, which is what the quality check would otherwise decode the rendition
 * and the source again to measure — and prints the totals as it closes:
 *
 *   [libx264 @ 0x55…] [info] PSNR Mean Y:37.815 U:37.801 V:37.643 Avg:37.782 Global:37.751 kb/s:1044.85
 *
 * `Global` is the PSNR of the summed squared error over every plane of every frame, as the
 * psnr filter's pooled mean squared error gives it (within 0.01 dB on x264 output). It does not
 * change the encode (the same bitstream with and without) and costs no measurable CPU (a 4 s
 * 720p veryfast encode: 2.56 s with it, 2.67 s without).
 */
import type { VideoOutputParams } from './args/params.js';

/** One encoder's closing report: its pooled PSNR and the rate it says it wrote. */
export interface EncoderPsnr {
  psnr: number;
  kbps: number;
}

/** Whether an output's encoder reports its PSNR (buildVideoEncoderArgs asks x264 to, for constant-quality renditions: the ones a quality target is checked on). */
export function reportsPsnr(rendition: Pick<VideoOutputParams, 'crf' | 'encoder'>): boolean {
  return rendition.crf !== undefined && rendition.encoder.name === 'libx264';
}

const REPORT = /\[libx264 @ [^\]]+\](?: \[info\])? PSNR Mean .*\bGlobal:(\d+(?:\.\d+)?|inf) kb\/s:(\d+(?:\.\d+)?)/;

/**
 * The reports in a run's stderr (logged at level info or above), in the order the encoders
 * closed: ffmpeg closes them in output order. An identical frame pair is reported as `inf`,
 * capped at 100 dB as ffmpeg's tools print it.
 */
export function parseEncoderPsnr(stderr: string): EncoderPsnr[] {
  return stderr.split('\n').flatMap((line) => {
    const match = REPORT.exec(line);
    if (!match) return [];
    return [{ psnr: match[1] === 'inf' ? 100 : Math.min(100, Number(match[1])), kbps: Number(match[2]) }];
  });
}

/**
 * Bytes an output holds beyond what x264 counts as its frames: the SEI with x264's version and
 * options that opens the first frame (~700 bytes).
 */
const UNCOUNTED_BYTES = 1024;

/**
 * The reports of a run matched to its reporting outputs, or undefined when they cannot be
 * trusted to belong where their order puts them: a count that differs, or a reported rate that
 * is not the output's (its coded bytes over its frames' duration, within 2 % and the SEI x264
 * does not count). Callers then measure instead.
 */
export function matchEncoderPsnr(reports: readonly EncoderPsnr[], outputs: readonly { bytes: number; seconds: number }[]): number[] | undefined {
  if (reports.length !== outputs.length || outputs.length === 0) return undefined;
  const matched = outputs.map((output, i) => {
    const reportedBytes = (reports[i]!.kbps * 1000 * output.seconds) / 8;
    return output.seconds > 0 && Math.abs(reportedBytes - output.bytes) <= UNCOUNTED_BYTES + 0.02 * output.bytes ? reports[i]!.psnr : undefined;
  });
  return matched.every((p) => p !== undefined) ? (matched as number[]) : undefined;
}
