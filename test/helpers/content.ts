import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Sources of known, different complexity for the per-title ladder's tests and bench, made with
 * ffmpeg's lavfi generators at test time (nothing committed):
 * - `slides`: still pictures (text on a flat colour, a frozen test card) that change every few seconds;
 * - `moving`: testsrc2, a clean synthetic picture that moves every frame;
 * - `noisy`: the same with strong temporal grain, which no encoder can predict.
 */
export type ContentKind = 'slides' | 'moving' | 'noisy';
export const CONTENT_KINDS: readonly ContentKind[] = ['slides', 'moving', 'noisy'];

export interface ContentOptions {
  width: number;
  height: number;
  durationSeconds: number;
  rate?: number;
}

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

/** One slide: `seconds` of one picture, built from a lavfi source frozen on its first frame. */
function slide(index: number, o: Required<ContentOptions>, seconds: number): string {
  const size = `${o.width}x${o.height}`;
  const big = Math.round(o.height / 12);
  const small = Math.round(o.height / 24);
  // Text without ':' '%' or quotes, which drawtext's option syntax would read.
  const text = (t: string, y: number, fontsize: number) =>
    `drawtext=fontfile=${FONT}:text='${t}':fontsize=${fontsize}:fontcolor=white:x=${Math.round(o.width / 12)}:y=${Math.round(y)}`;
  const lines = [
    text(`Slide ${index + 1}`, o.height / 10, big),
    ...[1, 2, 3, 4].map((n) => text(`point ${n} of slide ${index + 1} shows ${n * 17 + index * 3} items`, o.height / 4 + (n * o.height) / 8, small)),
  ];
  // Every third slide shows a picture (a frozen test card) instead of a flat background.
  const background = index % 3 === 2
    ? `testsrc=size=${size}:rate=${o.rate},trim=end_frame=1`
    : `color=c=${['0x1e3a5f', '0x3f1e5f', '0x204020'][index % 3]}:size=${size}:rate=${o.rate},trim=end_frame=1`;
  return `${background},${lines.join(',')},tpad=stop_mode=clone:stop_duration=${seconds},trim=duration=${seconds},setpts=PTS-STARTPTS`;
}

/** The lavfi graph of a source of this kind; its output is labelled [v]. */
export function contentGraph(kind: ContentKind, options: ContentOptions): string {
  const o = { rate: 25, ...options };
  const size = `${o.width}x${o.height}`;
  if (kind === 'slides') {
    const each = Math.min(4, o.durationSeconds / 2);
    const count = Math.ceil(o.durationSeconds / each);
    const parts = Array.from({ length: count }, (_, i) => `${slide(i, o, each)}[s${i}]`);
    const labels = Array.from({ length: count }, (_, i) => `[s${i}]`).join('');
    return `${parts.join(';')};${labels}concat=n=${count}:v=1:a=0,trim=duration=${o.durationSeconds},format=yuv420p[v]`;
  }
  const noise = kind === 'noisy' ? ',noise=alls=20:allf=t+u' : '';
  return `testsrc2=size=${size}:rate=${o.rate}:duration=${o.durationSeconds}${noise},format=yuv420p[v]`;
}

/**
 * Writes the source as high-quality H.264 (CRF 12; CRF 18 for grain, which would otherwise take
 * ~200 Mb/s at 1080p and make decoding, not encoding, the cost): close enough to the generated
 * pictures that the probe encodes, not the source's own coding, dominate every measurement.
 */
export async function makeContent(path: string, kind: ContentKind, options: ContentOptions): Promise<string> {
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-filter_complex', contentGraph(kind, options), '-map', '[v]',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', kind === 'noisy' ? '18' : '12', '-g', String(2 * (options.rate ?? 25)), '-pix_fmt', 'yuv420p',
    path,
  ], { maxBuffer: 16 * 1024 * 1024 });
  return path;
}
