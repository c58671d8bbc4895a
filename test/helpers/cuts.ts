/**
 * Stream-copied cuts (`ffmpeg -ss T -i in -c copy out`) of a source with 2 s GOPs: the cut starts
 * mid-GOP, so the file keeps the GOP's head to decode from and says where playing starts (an MP4
 * or MOV edit list, an empty edit that delays a track) or starts on a picture that cannot be
 * decoded (MPEG-TS). Each must give the package players would show: from the first picture they
 * show, as long as they play it, the flash at 3.4 s of the source and its beep together.
 */
import { join } from 'node:path';
import { ffmpeg } from './media-tools.js';
import type { HostileCase } from './hostile.js';

const SOURCE_SECONDS = 6;
const FLASH_SECONDS = 3.4;

/** 6 s of testsrc2 at 25 fps with 2 s GOPs and B-frames, a white picture at 3.4 s and a 1 kHz beep at the same time. */
async function flashSource(dir: string, name: string, video: string[]): Promise<string> {
  const path = join(dir, name);
  await ffmpeg([
    '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=25:duration=${SOURCE_SECONDS},drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,3.39,3.41)'`,
    '-f', 'lavfi', '-i', `aevalsrc='if(between(t,3.4,3.44),sin(2*PI*1000*t),0)':s=48000:d=${SOURCE_SECONDS}`,
    ...video, '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', path,
  ]);
  return path;
}

const H264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-bf', '2'];
const HEVC = ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=50:min-keyint=50:bframes=3', '-tag:v', 'hvc1'];

/** `ffmpeg -ss <at> -i <source> -c copy <name>`: the cut players start at `at`. */
async function streamCopyCut(dir: string, name: string, video: string[], at: number, extra: string[] = []): Promise<string> {
  const source = await flashSource(dir, `source-${name}.mp4`, video);
  const path = join(dir, name);
  await ffmpeg(['-ss', String(at), '-i', source, '-c', 'copy', ...extra, path]);
  return path;
}

function cutCase(name: string, file: string, video: string[], at: number): HostileCase {
  return {
    name,
    make: (d) => streamCopyCut(d, file, video, at),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: SOURCE_SECONDS - at, audioTracks: 1, firstPicture: true, flashSeconds: FLASH_SECONDS - at } },
  };
}

export const CUT_CASES: HostileCase[] = [
  cutCase('MP4 cut at 1.32 s (H.264 with B-frames): its edit list starts mid-GOP', 'cut.mp4', H264, 1.32),
  cutCase('MP4 cut at 3.0 s, in the second GOP', 'late-cut.mp4', H264, 3),
  {
    // Every chunk (2 s each) seeks into a cut whose only key frame is in the hidden head.
    ...cutCase('MP4 cut at 1.3 s of a source whose one GOP is longer than the cut: no key frame is shown', 'long-gop-cut.mp4', [...H264.slice(0, 4), '-g', '300', '-bf', '2'], 1.3),
    args: ['--chunk-duration', '2'],
  },
  cutCase('MOV cut at 0.6 s: its edit list starts mid-GOP', 'cut.mov', H264, 0.6),
  cutCase('HEVC MP4 cut at 2.72 s (B-frames): its edit list starts mid-GOP', 'cut-hevc.mp4', HEVC, 2.72),
  {
    name: 'MPEG-TS cut at 1.32 s, starting on pictures that cannot be decoded before the next key frame',
    make: async (d) => {
      const source = await flashSource(d, 'source-ts.mp4', H264);
      const path = join(d, 'cut.ts');
      await ffmpeg(['-i', source, '-ss', '1.32', '-c', 'copy', '-copyinkf', path]);
      return path;
    },
    // Players show nothing before the first key frame (2 s of the source); the audio plays from the cut.
    expect: { package: { width: 320, height: 180, fps: 25, seconds: SOURCE_SECONDS - 1.32, audioTracks: 1, firstPicture: true, flashSeconds: FLASH_SECONDS - 1.32 } },
  },
  {
    name: 'MP4 whose video starts 0.52 s after its audio (an empty edit at the start)',
    make: async (d) => {
      const source = await flashSource(d, 'source-delay.mp4', H264);
      const path = join(d, 'delay.mp4');
      await ffmpeg(['-i', source, '-itsoffset', '0.52', '-i', source, '-map', '0:a', '-map', '1:v', '-c', 'copy', path]);
      return path;
    },
    expect: { package: { width: 320, height: 180, fps: 25, seconds: SOURCE_SECONDS + 0.52, audioTracks: 1, firstPicture: true } },
  },
  {
    name: 'Matroska cut at 1.32 s (no edit list: the GOP before the cut is shown)',
    make: (d) => streamCopyCut(d, 'cut.mkv', H264, 1.32),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: SOURCE_SECONDS, audioTracks: 1, firstPicture: true } },
  },
];
