import type { Rational } from '../probe.js';
import { safeInputPath } from './input-path.js';
import type { ChunkFrames, VideoOutputParams } from './params.js';
import { svtAv1HdrParams, x265HdrParams, type HdrStaticMetadata, type HdrTransfer } from '../hdr.js';
import { WARMS_UP } from './encoders.js';
import { reportsPsnr } from '../encoder-psnr.js';

const HDR_TRC: Record<HdrTransfer, string> = { PQ: 'smpte2084', HLG: 'arib-std-b67' };

/** HEVC and AV1 carry HDR (10-bit BT.2020); H.264 renditions are the SDR fallback for every other device. */
export function keepsHdr(codec: VideoOutputParams['codec'], hdr: HdrTransfer | undefined): hdr is HdrTransfer {
  return hdr !== undefined && codec !== 'h264';
}

export interface ChunkEncodeInput {
  source: string;
  streamIndex: number;
  frameRate: Rational;
  chunk: ChunkFrames;
  gopFrames: number;
  deinterlace: boolean;
  /** Set when the source is HDR (PQ or HLG). */
  hdr?: HdrTransfer;
  /** The source's mastering display / light levels, repeated on the HDR renditions. */
  hdrMetadata?: HdrStaticMetadata;
  /**
   * The source decoder's threads, as resolved when the chunk starts (undefined: ffmpeg's default).
   * When as many chunks run as there are cores, each decodes on one thread: frame threading then
   * only adds wake-ups (two 1080p chunks side by side: 1.1 s less CPU of 34, and 0.4 s sooner).
   */
  decoderThreads?: number;
  /** Each rendition's file, and its encoder's threads as resolved when the chunk starts (undefined: the encoder's default). */
  outputs: { rendition: VideoOutputParams; path: string; threads?: number }[];
}

export function rationalText(rate: Rational): string {
  return rate.den === 1 ? String(rate.num) : `${rate.num}/${rate.den}`;
}

/** Seconds of a frame index on the grid, printed with enough digits to round back to that frame. */
export function frameTime(frame: number, rate: Rational): string {
  return ((frame * rate.den) / rate.num).toFixed(6);
}

/**
 * The filters that turn the decoded source (opened with chunkInputArgs) into exactly the chunk's
 * frames on the output grid. Shared by the chunk encode and by anything that must see the same
 * frames (the per-title probes and their quality reference).
 */
export function chunkFrameSteps(input: Pick<ChunkEncodeInput, 'chunk' | 'frameRate' | 'deinterlace'>): string[] {
  const { chunk, frameRate } = input;
  return [
    ...(input.deinterlace ? ['bwdif=mode=send_frame:deint=interlaced'] : []),
    `fps=fps=${rationalText(frameRate)}:start_time=${frameTime(chunk.prerollFrame, frameRate)}`,
    `trim=start_pts=${chunk.startFrame - (chunk.warmupFrames ?? 0)}:end_pts=${chunk.endFrame}`,
    'setpts=PTS-STARTPTS',
  ];
}

/** Input options and the source of one chunk: seek to its preroll, absolute timestamps (see below), and the decoder's threads when set. */
export function chunkInputArgs(source: string, chunk: ChunkFrames, frameRate: Rational, decoderThreads?: number): string[] {
  const seek = chunk.prerollFrame > 0 ? ['-ss', frameTime(chunk.prerollFrame, frameRate)] : [];
  const threads = decoderThreads ? ['-threads', String(decoderThreads)] : [];
  return [...seek, ...threads, '-copyts', '-start_at_zero', '-i', safeInputPath(source)];
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
  const steps = chunkFrameSteps(input);
  const chunkWarmup = input.chunk.warmupFrames ?? 0;
  // Outputs that need the same picture (an H.264 and an HEVC rung of one size, or the per-title
  // probes of one size at two CRFs) share one scale: scaling costs as much as a fast encode. An
  // output that warms up less than the chunk's frames allow starts that many frames later.
  const pictures = new Map<string, number[]>();
  input.outputs.forEach(({ rendition }, i) => {
    const picture = rendition.picture ?? rendition;
    const skipped = chunkWarmup - rateWarmupFrames(rendition, chunkWarmup);
    const late = skipped > 0 ? `trim=start_pts=${skipped},setpts=PTS-STARTPTS,` : '';
    const pad = rendition.picture ? `,pad=${rendition.width}:${rendition.height}:(ow-iw)/2:(oh-ih)/2` : '';
    const filters = `${late}scale=${picture.width}:${picture.height}:flags=bicubic,setsar=1${pad},${rangeConversion(rendition.codec, input.hdr)}`;
    pictures.set(filters, [...(pictures.get(filters) ?? []), i]);
  });
  const branches = [...pictures.entries()];
  const fan = (labels: string[]) => (labels.length > 1 ? `,split=${labels.length}${labels.map((l) => `[${l}]`).join('')}` : `[${labels[0]}]`);
  const head = `[0:${input.streamIndex}]${steps.join(',')}${fan(branches.map((_, b) => `s${b}`))}`;
  const scales = branches.map(([filters, outputs], b) => `[s${b}]${filters}${fan(outputs.map((i) => `v${i}`))}`);
  return [head, ...scales].join(';');
}

/**
 * After scaling: SDR stays 8-bit 4:2:0. From an HDR source, HEVC/AV1 stay 10-bit (the colour
 * properties travel on the frames), while H.264 is tone-mapped to BT.709 SDR: linearise with
 * zscale (nominal peak 100 nits), map with Hable in float RGB, then back to BT.709 limited range.
 */
function rangeConversion(codec: VideoOutputParams['codec'], hdr: HdrTransfer | undefined): string {
  if (!hdr) return 'format=yuv420p';
  if (keepsHdr(codec, hdr)) return 'format=yuv420p10le';
  return [
    `zscale=tin=${HDR_TRC[hdr]}:min=bt2020nc:pin=bt2020:t=linear:npl=100`,
    'format=gbrpf32le',
    'zscale=p=bt709',
    'tonemap=tonemap=hable:desat=0',
    'zscale=t=bt709:m=bt709:r=tv',
    'format=yuv420p',
  ].join(',');
}

/** Colour description written into the bitstream (VUI / sequence header) and the MP4 colr box. */
function colourArgs(codec: VideoOutputParams['codec'], hdr: HdrTransfer | undefined): string[] {
  if (!hdr) return [];
  if (!keepsHdr(codec, hdr)) return ['-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709', '-color_range', 'tv'];
  return ['-color_primaries', 'bt2020', '-color_trc', HDR_TRC[hdr], '-colorspace', 'bt2020nc', '-color_range', 'tv'];
}

/**
 * Encoder arguments for one rendition: a fixed closed GOP with no scene-cut key frames, key
 * frames forced at every GOP start (chunks start on the grid, so they land on segment starts),
 * and VBR around the rung's target. x264/x265/libaom also get the cap (maxrate, 2x buffer).
 * SVT-AV1 1.4 (Debian's, behind ffmpeg 5.1) honours a maximum bit rate only in capped-CRF
 * mode, so it runs plain 1-pass VBR at the target (rc=1 via -b:v); the manifests state the
 * measured peak either way.
 */
export function buildVideoEncoderArgs(
  rendition: VideoOutputParams,
  gopFrames: number,
  hdr?: HdrTransfer,
  hdrMetadata?: HdrStaticMetadata,
  warmupFrames = 0,
): string[] {
  const { preset } = rendition.encoder;
  const cap = ['-maxrate', `${rendition.maxrateKbps}k`, '-bufsize', `${rendition.bufsizeKbps}k`];
  // Capped CRF (per-title rungs): the same constant quality in every chunk, so chunks need no
  // shared rate-control state; VBR: each chunk aims at the average on its own.
  const rate = rendition.crf === undefined ? ['-b:v', `${rendition.bitrateKbps}k`, ...cap] : ['-crf', String(rendition.crf), ...cap];
  // After a warm-up, the GOPs count from the chunk's first frame (the warm-up opens with one of its own).
  const keyFrames = warmupFrames > 0 ? `eq(n,0)+gte(n,${warmupFrames})*eq(mod(n-${warmupFrames},${gopFrames}),0)` : `eq(mod(n,${gopFrames}),0)`;
  const gop = ['-g', String(gopFrames), '-keyint_min', String(gopFrames), '-force_key_frames', `expr:${keyFrames}`];
  const colour = colourArgs(rendition.codec, hdr);
  switch (rendition.encoder.name) {
    case 'libx264':
      return [
        '-c:v', 'libx264', '-preset', preset, '-profile:v', rendition.profile, '-level:v', rendition.level, ...rate, ...gop,
        // psnr=1 on a constant-quality rendition: x264 reports its output's PSNR as it closes
        // (encoder-psnr.ts), so its quality target is checked without decoding it again.
        '-sc_threshold', '0', '-x264-params', `keyint=${gopFrames}:min-keyint=${gopFrames}:scenecut=0:open-gop=0${reportsPsnr(rendition) ? ':psnr=1' : ''}`, ...colour,
      ];
    case 'libx265': {
      const params = [`keyint=${gopFrames}`, `min-keyint=${gopFrames}`, 'scenecut=0', 'open-gop=0', 'log-level=error'];
      // x265 writes the VUI colour description only from its own parameters.
      if (keepsHdr('hevc', hdr)) params.push('colorprim=bt2020', `transfer=${HDR_TRC[hdr]}`, 'colormatrix=bt2020nc', 'range=limited', ...x265HdrParams(hdrMetadata));
      return [
        '-c:v', 'libx265', '-preset', preset, '-tag:v', 'hvc1', '-profile:v', keepsHdr('hevc', hdr) ? 'main10' : 'main', ...rate, ...gop,
        // A forced key frame is only an I frame to x265 unless forced-idr: after a warm-up the
        // chunk's GOPs (and the cut at its first frame) would find no IDR where they start.
        '-forced-idr', '1', '-x265-params', params.join(':'), ...colour,
      ];
    }
    case 'libsvtav1': {
      // SVT-AV1 takes a cap only in CRF mode (capped CRF); VBR is plain 1-pass at the target.
      const svtRate = rendition.crf === undefined ? ['-b:v', `${rendition.bitrateKbps}k`] : ['-crf', String(rendition.crf), ...cap.slice(0, 2)];
      return [
        '-c:v', 'libsvtav1', '-preset', preset, ...svtRate, ...gop,
        // irefresh-type=2: every key frame is a real KEY_FRAME (closed GOP); scd=0: none on scene cuts.
        '-svtav1-params', ['irefresh-type=2', 'scd=0', ...(keepsHdr('av1', hdr) ? svtAv1HdrParams(hdrMetadata) : [])].join(':'), ...colour,
      ];
    }
    case 'libaom-av1': {
      // libaom's GOPs are closed unless enable-fwd-kf is set; keyint_min = g keeps scene cuts from adding key frames.
      // libaom: -crf with -b:v is its constrained-quality mode, the cap being -b:v.
      const aomRate = rendition.crf === undefined ? rate : ['-crf', String(rendition.crf), '-b:v', `${rendition.maxrateKbps}k`];
      return ['-c:v', 'libaom-av1', '-cpu-used', preset, '-row-mt', '1', ...aomRate, ...gop, ...colour];
    }
  }
}

/**
 * x264 renditions of at least this many macroblocks (1920x1080 has 8160) start a chunk with no
 * warm-up. x264's one-pass rate control starts from a guess of the bits a unit of complexity
 * costs that grows with the square root of the frame's macroblocks ("a reasonable QP for the
 * first I-frame", encoder/ratecontrol.c), while a frame's bits grow with its macroblocks: the
 * smaller the frame, the longer its start stays cautious. Measured on 20 s sources cut into the
 * bench's 4 chunks, veryfast at the bench's rates, PSNR lost against one process with no warm-up
 * (with 15 frames): 360p 0.34 dB (0.06) on the bench's noisy pattern and 0.88 (0.32) on testsrc2;
 * 720p 0.07 (0.01) and 0.15 (0.03); 1080p 0.08 on the noisy pattern, 0.02 on testsrc2, 0.07
 * (0.00) under heavy grain and 0.10 (0.13: no better) on a Mandelbrot zoom. At 1080p the warm-up
 * buys at most 0.07 dB and is more than half of what a job's warm-ups cost (~2.7 s of CPU on
 * the bench's 20 s 1080p ladder).
 */
const X264_WARMUP_MAX_MACROBLOCKS = 8000;

/**
 * The frames of the chunk's warm-up (Chunk.warmupFrames) this rendition encodes before the chunk's
 * own first frame: all of them for a VBR rung whose encoder WARMS_UP lists (the warm-up is cut off
 * at a forced key frame), none for capped CRF (no rate-control state to warm), for other encoders,
 * and for x264 frames large enough to start well (X264_WARMUP_MAX_MACROBLOCKS).
 */
export function rateWarmupFrames(rendition: VideoOutputParams, chunkWarmupFrames: number): number {
  if (chunkWarmupFrames <= 0 || rendition.crf !== undefined || !WARMS_UP.has(rendition.encoder.name)) return 0;
  const macroblocks = Math.ceil(rendition.width / 16) * Math.ceil(rendition.height / 16);
  if (rendition.encoder.name === 'libx264' && macroblocks >= X264_WARMUP_MAX_MACROBLOCKS) return 0;
  return chunkWarmupFrames;
}

/**
 * Stream-copies each rendition's encoded chunk from its first key frame after its warm-up: the
 * frames of the chunk itself, timestamps from 0; all renditions of a chunk in one run (an ffmpeg
 * start costs ~0.15 s of CPU). The seek is rounded up to the microsecond so it never lands on the
 * warm-up's own key frame.
 */
export function buildWarmupCutArgs(files: readonly { input: string; output: string; warmupFrames: number }[], frameRate: Rational): string[] {
  const seconds = (frames: number) => (Math.ceil(((frames * frameRate.den) / frameRate.num) * 1e6) / 1e6).toFixed(6);
  return [
    ...files.flatMap((f) => ['-ss', seconds(f.warmupFrames), '-i', safeInputPath(f.input)]),
    ...files.flatMap((f, i) => ['-map', String(i), '-c', 'copy', '-map_metadata', '-1', '-f', 'mp4', safeInputPath(f.output)]),
  ];
}

/** One ffmpeg run per chunk: one decode feeding every rendition's encoder. */
export function buildChunkEncodeArgs(input: ChunkEncodeInput): string[] {
  // Warnings too, each tagged with its level: the decode of every frame happens here, and ffmpeg
  // says "corrupt decoded frame" (a warning) for each one its decoder had to conceal.
  // Info too when an encoder reports its PSNR: x264 prints it at that level as it closes.
  const level = input.outputs.some((o) => reportsPsnr(o.rendition)) ? 'level+info' : 'level+warning';
  const args = ['-loglevel', level, ...chunkInputArgs(input.source, input.chunk, input.frameRate, input.decoderThreads), '-filter_complex', buildChunkFilterGraph(input)];
  input.outputs.forEach(({ rendition, path, threads }, i) => {
    args.push(
      '-map', `[v${i}]`,
      ...buildVideoEncoderArgs(rendition, input.gopFrames, input.hdr, input.hdrMetadata, rateWarmupFrames(rendition, input.chunk.warmupFrames ?? 0)),
      ...(threads ? ['-threads:v', String(threads)] : []),
      '-an', '-sn', '-dn', '-map_metadata', '-1', '-map_chapters', '-1',
      '-f', 'mp4', path,
    );
  });
  return args;
}
