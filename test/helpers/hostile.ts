/**
 * A corpus of hostile and unusual inputs, generated at test time with ffmpeg (lavfi sources)
 * and a few byte-level manipulations. Every file is tiny (≤ 3 s, ≤ 360x240 unless the case is
 * about size) so the whole corpus builds in seconds on two cores.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ffmpeg } from './media-tools.js';

const X264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const AAC = ['-c:a', 'aac', '-b:a', '64k'];

function testsrc(size: string, rate: string | number, seconds: number): string[] {
  return ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`];
}

function sine(seconds: number, frequency = 440): string[] {
  return ['-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=48000:duration=${seconds}`];
}

/** What a good package made from the input must look like. */
export interface ExpectedPackage {
  /** Display size of the top rendition (before the ladder shrinks it). */
  width: number;
  height: number;
  /** Output frame rate. */
  fps: number;
  /** Duration of the presentation, seconds (± one frame). */
  seconds: number;
  audioTracks: number;
  /** The source is rotated: compare the output picture with the source turned this way. */
  transpose?: 'clock' | 'cclock';
  /** The source is interlaced: the output must not be. */
  interlaced?: boolean;
  /** The source is HDR: the H.264 output must be tone-mapped SDR BT.709, not washed out. */
  hdr?: boolean;
  /** The top rendition's exact size, when the rule above does not give it (extreme aspect ratios). */
  size?: { width: number; height: number };
  /** What `--json` must say about how the source was read (result.source.notes). */
  note?: RegExp;
  /** The package was made with --allow-decode-errors: result.source.decodeErrors is reported. */
  decodeErrors?: boolean;
  /** The source's audio has damaged frames: result.source.audioDecodeErrors is reported, and the audio still lasts as long as the video. */
  audioDecodeErrors?: boolean;
  /** The package's first picture is the source's first shown picture (an edit list's start, not the GOP before it). */
  firstPicture?: boolean;
  /** The source flashes white with a beep: both are at this time of the package, within a frame. */
  flashSeconds?: number;
}

export interface HostileCase {
  name: string;
  /** Creates the input inside `dir` and returns its path. */
  make: (dir: string) => Promise<string>;
  /** --ladder for this case (default 144p: one small rung); size-sensitive checks use the source's size. */
  ladder?: string;
  /** Extra CLI arguments. */
  args?: string[];
  /** Make the poster and storyboard too (the corpus runs with --no-thumbnails otherwise). */
  thumbnails?: boolean;
  /** Either a package with these properties, or exit 2 with a reason matching `reject`. */
  expect: { package: ExpectedPackage } | { reject: RegExp };
}

async function bytes(path: string, data: Buffer | string): Promise<string> {
  await writeFile(path, data);
  return path;
}

/** A raw YUV4MPEG2 stream whose header claims a picture size its data does not have. */
async function absurdY4m(path: string, width: number, height: number): Promise<string> {
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F25:1 Ip A1:1 C420jpeg\nFRAME\n`, 'ascii');
  return bytes(path, Buffer.concat([header, randomBytes(4096)]));
}

/** A 2 s clip cut to `fraction` of its size; `faststart` puts the index (moov) first. */
async function truncatedMp4(dir: string, name: string, faststart: boolean, fraction: number): Promise<string> {
  const whole = join(dir, `${name}-whole.mp4`);
  await ffmpeg([...testsrc('320x180', 30, 3), ...sine(3), ...X264, ...AAC, ...(faststart ? ['-movflags', '+faststart'] : []), whole]);
  const cut = join(dir, `${name}.mp4`);
  await copyFile(whole, cut);
  await truncate(cut, Math.floor((await stat(whole)).size * fraction));
  return cut;
}

export const HOSTILE_CASES: HostileCase[] = [
  { name: 'zero-byte', make: (d) => bytes(join(d, 'empty.mp4'), ''), expect: { reject: /empty \(0 bytes\)/ } },
  { name: 'random bytes', make: (d) => bytes(join(d, 'noise.mp4'), randomBytes(256 * 1024)), expect: { reject: /not a (readable media|video or audio) file|no video or audio/ } },
  {
    name: 'text file',
    make: (d) => bytes(join(d, 'readme.mov'), 'This is a text file with a video extension.\n'.repeat(200)),
    expect: { reject: /not a (readable media|video or audio) file/ },
  },
  { name: 'truncated in the middle of the data (index first)', make: (d) => truncatedMp4(d, 'cut-data', true, 0.5), expect: { reject: /truncated|cannot be read to the end/ } },
  { name: 'truncated before the index (moov at the end)', make: (d) => truncatedMp4(d, 'cut-index', false, 0.6), expect: { reject: /not a readable media file|moov/ } },
  { name: 'absurd declared size 100000x100000', make: (d) => absurdY4m(join(d, 'huge.y4m'), 100000, 100000), expect: { reject: /Picture size 100000x100000 is invalid|absurd picture size|no video or audio stream/ } },
  // Small enough for ffmpeg's own sanity check, far too big to decode one frame per chunk.
  { name: 'absurd declared size 16000x12000', make: (d) => absurdY4m(join(d, 'big.y4m'), 16000, 12000), expect: { reject: /absurd picture size 16000x12000/ } },
  {
    name: 'odd dimensions 853x479',
    make: async (d) => {
      const path = join(d, 'odd.mkv');
      await ffmpeg([...testsrc('853x479', 25, 2), ...sine(2), '-c:v', 'ffv1', ...AAC, path]);
      return path;
    },
    expect: { package: { width: 853, height: 479, fps: 25, seconds: 2, audioTracks: 1 } },
  },
  ...([90, 270] as const).map((rotate): HostileCase => ({
    name: `phone video rotated ${rotate}°`,
    make: async (d) => {
      const flat = join(d, `flat-${rotate}.mp4`);
      await ffmpeg([...testsrc('320x180', 30, 2), ...sine(2), ...X264, ...AAC, flat]);
      const path = join(d, `rotated-${rotate}.mp4`);
      await ffmpeg(['-i', flat, '-c', 'copy', '-metadata:s:v', `rotate=${rotate}`, path]);
      return path;
    },
    // ffmpeg 5.1's muxer turns the tag into a display matrix that turns the picture counter-clockwise by the tag's angle.
    expect: { package: { width: 180, height: 320, fps: 30, seconds: 2, audioTracks: 1, transpose: rotate === 90 ? 'cclock' : 'clock' } },
  })),
  {
    name: 'anamorphic pixels (SAR 32:27, DV widescreen)',
    make: async (d) => {
      const path = join(d, 'anamorphic-dv.mp4');
      await ffmpeg([...testsrc('360x240', 30, 2), ...sine(2), '-vf', 'setsar=32/27', ...X264, ...AAC, path]);
      return path;
    },
    expect: { package: { width: 427, height: 240, fps: 30, seconds: 2, audioTracks: 1 } },
  },
  {
    name: 'anamorphic pixels (SAR 4:3)',
    make: async (d) => {
      const path = join(d, 'anamorphic-43.mp4');
      await ffmpeg([...testsrc('240x180', 25, 2), ...sine(2), '-vf', 'setsar=4/3', ...X264, ...AAC, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 2, audioTracks: 1 } },
  },
  {
    name: 'variable frame rate (25 fps then 30 fps)',
    make: async (d) => {
      const path = join(d, 'vfr.mp4');
      await ffmpeg([
        ...testsrc('320x180', 25, 1.5), ...testsrc('320x180', 30, 1.5), ...sine(3),
        '-filter_complex', '[0:v][1:v]concat=n=2:v=1:a=0[v]', '-map', '[v]', '-map', '2:a', '-fps_mode', 'vfr', ...X264, ...AAC, path,
      ]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 2.987, audioTracks: 1 } },
  },
  {
    name: 'interlaced (top field first)',
    make: async (d) => {
      const path = join(d, 'interlaced.mp4');
      await ffmpeg([
        // Blurred: idet mistakes testsrc2's sharp one-pixel details for combing even when progressive.
        ...testsrc('320x240', 50, 2), ...sine(2), '-vf', 'gblur=sigma=2,tinterlace=interleave_top,fieldorder=tff',
        ...X264, '-flags', '+ilme+ildct', '-x264opts', 'tff=1', ...AAC, path,
      ]);
      return path;
    },
    ladder: '240p',
    expect: { package: { width: 320, height: 240, fps: 25, seconds: 2, audioTracks: 1, interlaced: true } },
  },
  {
    name: '10-bit H.264',
    make: async (d) => {
      const path = join(d, 'ten-bit.mp4');
      await ffmpeg([...testsrc('320x180', 30, 2), ...sine(2), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', ...AAC, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 2, audioTracks: 1 } },
  },
  ...([['HDR10 (10-bit HEVC, PQ, BT.2020)', 'smpte2084'], ['HLG (10-bit HEVC, BT.2020)', 'arib-std-b67']] as const).map(([name, transfer]): HostileCase => ({
    name,
    make: async (d) => {
      const path = join(d, `hdr-${transfer}.mp4`);
      // Real HDR pictures, not SDR pixels with HDR tags: the BT.709 test pattern converted to
      // linear light, then to BT.2020 and the HDR transfer, so a correct tone map can bring it back.
      const toHdr = [
        'format=yuv420p', 'setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv',
        'zscale=t=linear:npl=100', 'format=gbrpf32le', 'zscale=p=bt2020', `zscale=t=${transfer}:m=bt2020nc:r=tv`, 'format=yuv420p10le',
      ].join(',');
      await ffmpeg([
        ...testsrc('320x180', 30, 2), ...sine(2), '-vf', toHdr, '-c:v', 'libx265', '-preset', 'ultrafast', '-tag:v', 'hvc1',
        '-x265-params', `log-level=error:colorprim=bt2020:transfer=${transfer}:colormatrix=bt2020nc`,
        '-color_primaries', 'bt2020', '-color_trc', transfer, '-colorspace', 'bt2020nc', ...AAC, path,
      ]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 2, audioTracks: 1, hdr: true } },
  })),
  {
    name: '120 fps',
    make: async (d) => {
      const path = join(d, 'fast.mp4');
      await ffmpeg([...testsrc('320x180', 120, 2), ...sine(2), ...X264, ...AAC, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 60, seconds: 2, audioTracks: 1 } },
  },
  {
    name: 'no audio',
    make: async (d) => {
      const path = join(d, 'silent.mp4');
      await ffmpeg([...testsrc('320x180', 30, 2), ...X264, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 2, audioTracks: 0 } },
  },
  {
    name: 'several audio tracks',
    make: async (d) => {
      const path = join(d, 'multi-audio.mp4');
      await ffmpeg([
        ...testsrc('320x180', 30, 2), ...sine(2, 440), ...sine(2, 660), ...sine(2, 880),
        '-map', '0:v', '-map', '1:a', '-map', '2:a', '-map', '3:a', ...X264, ...AAC,
        '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', '-metadata:s:a:2', 'language=deu', path,
      ]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 2, audioTracks: 3 } },
  },
  {
    name: 'shorter than one segment',
    make: async (d) => {
      const path = join(d, 'short.mp4');
      await ffmpeg([...testsrc('320x180', 30, 0.5), ...sine(0.5), ...X264, ...AAC, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 0.5, audioTracks: 1 } },
  },
  {
    name: 'a single frame',
    make: async (d) => {
      const path = join(d, 'one-frame.mp4');
      await ffmpeg([...testsrc('320x180', 25, 1), '-frames:v', '1', ...X264, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 0.04, audioTracks: 0 } },
  },
  {
    name: 'unicode and spaces in the path',
    make: async (d) => {
      const path = join(d, 'vidéo 日本語 — clip (final).mp4');
      await ffmpeg([...testsrc('320x180', 30, 1), ...sine(1), ...X264, ...AAC, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 1, audioTracks: 1 } },
  },
  {
    name: 'file name starting with -',
    make: async (d) => {
      const path = join(d, '-y -i evil.mp4');
      await ffmpeg([...testsrc('320x180', 30, 1), ...sine(1), ...X264, ...AAC, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 1, audioTracks: 1 } },
  },
  {
    name: 'audio longer than video',
    make: async (d) => {
      const path = join(d, 'long-audio.mp4');
      await ffmpeg([...testsrc('320x180', 30, 1), ...sine(3), ...X264, ...AAC, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 1, audioTracks: 1 } },
  },
  {
    name: 'video longer than audio',
    make: async (d) => {
      const path = join(d, 'long-video.mp4');
      await ffmpeg([...testsrc('320x180', 30, 3), ...sine(1), ...X264, ...AAC, path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 3, audioTracks: 1 } },
  },
  {
    name: 'attached picture (cover art) plus video',
    make: async (d) => {
      const cover = join(d, 'cover.png');
      await ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:size=200x200', '-frames:v', '1', cover]);
      const path = join(d, 'with-cover.mp4');
      await ffmpeg([
        '-i', cover, ...testsrc('320x180', 30, 2), ...sine(2),
        '-map', '0:v', '-map', '1:v', '-map', '2:a', '-c:v:0', 'png', '-disposition:v:0', 'attached_pic',
        '-c:v:1', 'libx264', '-preset', 'ultrafast', '-pix_fmt:v:1', 'yuv420p', ...AAC, path,
      ]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 2, audioTracks: 1 } },
  },
];

