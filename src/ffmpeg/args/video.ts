import type { Rational } from '../probe.js';
import { safeInputPath } from '../probe.js';
import { aomCpuUsed, svtAv1Preset, type Preset, type Rendition } from '../../core/ladder.js';
import type { Chunk } from '../../core/plan.js';

/** Which AV1 encoder the ffmpeg in use has (SVT-AV1 preferred: it is many times faster). */
export type Av1Encoder = 'libsvtav1' | 'libaom-av1';

export interface ChunkEncodeInput {
  source: string;
  streamIndex: number;
  frameRate: Rational;
  chunk: Chunk;
  gopFrames: number;
  deinterlace: boolean;
  preset: Preset;
  av1Encoder: Av1Encoder;
  outputs: { rendition: Rendition; path: string }[];
}

export function rationalText(rate: Rational): string {
  return rate.den === 1 ? String(rate.num) : `${rate.num}/${rate.den}`;
}

/** Seconds of a frame index on the grid, printed with enough digits to round back to that frame. */
export function frameTime(frame: number, rate: Rational): string {
  return ((frame * rate.den) / rate.num).toFixed(6);
}

/**
 * The filter graph of one chunk: decode once, put frames on the output grid, cut exactly
 * [startFrame, endFrame), then split and scale once per rendition.
 *
 * Timestamps stay absolute (-copyts -start_at_zero) so `fps` (anchored at the seek point,
 * itself on the grid) numbers every frame the same way in every chunk; after `fps` the
 * time base is 1/rate, so `trim` by start_pts/end_pts selects whole frames with no
 * rounding at the joins.
 */
export function buildChunkFilterGraph(input: ChunkEncodeInput): string {
  const { chunk, frameRate } = input;
  const steps = [
    ...(input.deinterlace ? ['bwdif=mode=send_frame:deint=interlaced'] : []),
    `fps=fps=${rationalText(frameRate)}:start_time=${frameTime(chunk.prerollFrame, frameRate)}`,
    `trim=start_pts=${chunk.startFrame}:end_pts=${chunk.endFrame}`,
    'setpts=PTS-STARTPTS',
  ];
  const count = input.outputs.length;
  const labels = input.outputs.map((_, i) => `s${i}`);
  const head = `[0:${input.streamIndex}]${steps.join(',')}${count > 1 ? `,split=${count}${labels.map((l) => `[${l}]`).join('')}` : '[s0]'}`;
  const scales = input.outputs.map(({ rendition }, i) => {
    const pixelFormat = 'yuv420p';
    return `[${labels[i]}]scale=${rendition.width}:${rendition.height}:flags=bicubic,setsar=1,format=${pixelFormat}[v${i}]`;
  });
  return [head, ...scales].join(';');
}

/** Encoder arguments for one rendition: capped VBR and a fixed closed GOP with no scene-cut key frames. */
export function buildVideoEncoderArgs(rendition: Rendition, gopFrames: number, preset: Preset, av1Encoder: Av1Encoder): string[] {
  const rate = ['-b:v', `${rendition.bitrateKbps}k`, '-maxrate', `${rendition.maxrateKbps}k`, '-bufsize', `${rendition.bufsizeKbps}k`];
  const gop = ['-g', String(gopFrames), '-keyint_min', String(gopFrames), '-force_key_frames', `expr:eq(mod(n,${gopFrames}),0)`];
  switch (rendition.codec) {
    case 'h264':
      return [
        '-c:v', 'libx264', '-preset', preset, '-profile:v', rendition.profile, '-level:v', rendition.level, ...rate, ...gop,
        '-sc_threshold', '0', '-x264-params', `keyint=${gopFrames}:min-keyint=${gopFrames}:scenecut=0:open-gop=0`,
      ];
    case 'hevc':
      return [
        '-c:v', 'libx265', '-preset', preset, '-tag:v', 'hvc1', '-profile:v', 'main', ...rate, ...gop,
        '-x265-params', `keyint=${gopFrames}:min-keyint=${gopFrames}:scenecut=0:open-gop=0:log-level=error`,
      ];
    case 'av1':
      if (av1Encoder === 'libsvtav1') {
        return [
          '-c:v', 'libsvtav1', '-preset', String(svtAv1Preset(preset)), '-b:v', `${rendition.bitrateKbps}k`, ...gop,
          '-svtav1-params', `irefresh-type=2:scd=0`,
        ];
      }
      return ['-c:v', 'libaom-av1', '-cpu-used', String(aomCpuUsed(preset)), '-row-mt', '1', ...rate, ...gop];
  }
}

/** One ffmpeg run per chunk: one decode feeding every rendition's encoder. */
export function buildChunkEncodeArgs(input: ChunkEncodeInput): string[] {
  const seek = input.chunk.prerollFrame > 0 ? ['-ss', frameTime(input.chunk.prerollFrame, input.frameRate)] : [];
  const args = [...seek, '-copyts', '-start_at_zero', '-i', safeInputPath(input.source), '-filter_complex', buildChunkFilterGraph(input)];
  input.outputs.forEach(({ rendition, path }, i) => {
    args.push(
      '-map', `[v${i}]`,
      ...buildVideoEncoderArgs(rendition, input.gopFrames, input.preset, input.av1Encoder),
      '-an', '-sn', '-dn', '-map_metadata', '-1', '-map_chapters', '-1',
      '-f', 'mp4', path,
    );
  });
  return args;
}
