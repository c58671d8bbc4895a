/**
 * Valid inputs people have every day whose container or clock is not a plain MP4 from 0 s, and
 * inputs whose package would silently differ from what they hold: generated at test time with
 * ffmpeg (320x180, a few seconds), each with the package it must give or the refusal it must get.
 * The cases run through the same checks as the hostile corpus (test/helpers/corpus.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ffmpeg } from './media-tools.js';
import { ffprobeJson } from './media.js';
import type { HostileCase } from './hostile.js';

const X264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const AAC = ['-c:a', 'aac', '-b:a', '64k'];

function testsrc(seconds: number, size = '320x180', rate = 25): string[] {
  return ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`];
}

function sine(seconds: number, frequency = 440): string[] {
  return ['-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=48000:duration=${seconds}`];
}

/** One clip, made by `args` (inputs, codecs, options) into `dir/name`. */
async function clip(dir: string, name: string, args: string[]): Promise<string> {
  const path = join(dir, name);
  await ffmpeg([...args, path]);
  return path;
}

/** `cat a b > joined`: MPEG-TS files are joined this way, each part with its clock from the start. */
async function joined(dir: string, name: string, parts: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, Buffer.concat(await Promise.all(parts.map((p) => readFile(p)))));
  return path;
}

/** A thin strip: testsrc2 squeezed to `size` with square pixels (4:4:4, so a 1-pixel side is legal). */
function strip(size: string): string[] {
  const [w, h] = size.split('x');
  return [...testsrc(2, '320x320'), ...sine(2), '-vf', `scale=${w}:${h},setsar=1,format=yuv444p`, '-c:v', 'libx264', '-preset', 'ultrafast', ...AAC];
}

/**
 * Overwrites `runs` 64-byte runs spread evenly over 10–80 % of a file (the payload; an MP4's index
 * sits at its end) with a fixed pseudo-random pattern, so every run damages the same frames.
 */
async function damaged(dir: string, name: string, source: string, runs: number): Promise<string> {
  const data = Buffer.from(await readFile(source));
  for (let i = 0; i < runs; i++) {
    const at = Math.floor(data.length * (0.1 + (0.7 * i) / runs));
    for (let j = 0; j < 64; j++) data[at + j] = ((at + j) * 7919) & 0xff;
  }
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

/**
 * Overwrites the payload of `count` audio packets spread over the file (their first bytes kept,
 * so the demuxer still reads them): each one the AAC decoder then refuses and skips.
 */
async function damagedAudio(dir: string, name: string, source: string, count: number): Promise<string> {
  const { packets } = (await ffprobeJson(['-select_streams', 'a:0', '-show_entries', 'packet=pos,size', source])) as { packets: { pos: string; size: string }[] };
  const data = Buffer.from(await readFile(source));
  const step = Math.floor(packets.length / count);
  for (let i = 0; i < count; i++) {
    const packet = packets[Math.floor(step / 2) + i * step]!;
    const [pos, size] = [Number(packet.pos), Number(packet.size)];
    for (let j = 2; j < size; j++) data[pos + j] = ((pos + j) * 7919) & 0xff;
  }
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

export const INPUT_CASES: HostileCase[] = [
  {
    name: "H.264 in MPEG-TS with x264's default GOP (one key frame in 6 s)",
    make: (d) => clip(d, 'default-gop.ts', [...testsrc(6), ...sine(6), ...X264, ...AAC]),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 6, audioTracks: 1, note: /Matroska copy/ } },
  },
  {
    name: 'MPEG-TS with a 10 s PTS offset and a long GOP',
    make: (d) => clip(d, 'offset.ts', [...testsrc(6), ...sine(6), ...X264, ...AAC, '-output_ts_offset', '10']),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 6, audioTracks: 1 } },
  },
  {
    name: 'two MPEG-TS files joined with cat (the clock restarts)',
    make: async (d) => {
      const a = await clip(d, 'part-a.ts', [...testsrc(3), ...sine(3, 440), ...X264, ...AAC]);
      const b = await clip(d, 'part-b.ts', [...testsrc(3), ...sine(3, 660), ...X264, ...AAC]);
      return joined(d, 'joined.ts', [a, b]);
    },
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 6, audioTracks: 1, note: /clock restarts 1 time/ } },
  },
  {
    name: 'MPEG-TS whose programs change part way through (two recordings joined)',
    make: async (d) => {
      const a = await clip(d, 'service-1.ts', [...testsrc(3), ...sine(3), ...X264, '-g', '25', ...AAC]);
      const b = await clip(d, 'service-2.ts', [...testsrc(3), ...sine(3, 660), ...X264, '-g', '25', ...AAC, '-mpegts_service_id', '2', '-mpegts_pmt_start_pid', '0x1100', '-mpegts_start_pid', '0x200']);
      return joined(d, 'programs.ts', [a, b]);
    },
    expect: { reject: /changes streams part way through: video stream 0 \(PID 0x100\) of program 1 covers 0 %–\d+ % of the file and video stream 2 \(PID 0x200\) of program 2/ },
  },
  {
    name: 'MPEG-TS whose PIDs change part way through (same program)',
    make: async (d) => {
      const a = await clip(d, 'pid-a.ts', [...testsrc(3), ...sine(3), ...X264, '-g', '25', ...AAC]);
      const b = await clip(d, 'pid-b.ts', [...testsrc(3), ...sine(3, 660), ...X264, '-g', '25', ...AAC, '-mpegts_start_pid', '0x200']);
      return joined(d, 'pids.ts', [a, b]);
    },
    expect: { reject: /changes streams part way through/ },
  },
  {
    name: 'MPEG-TS whose audio PID changes at a splice (the video PID stays)',
    make: async (d) => {
      const a = await clip(d, 'splice-a.ts', [...testsrc(3), ...sine(3), ...X264, '-g', '25', ...AAC, '-streamid', '0:0x100', '-streamid', '1:0x101']);
      const b = await clip(d, 'splice-b.ts', [...testsrc(3), ...sine(3, 660), ...X264, '-g', '25', ...AAC, '-streamid', '0:0x100', '-streamid', '1:0x102']);
      return joined(d, 'spliced.ts', [a, b]);
    },
    expect: { reject: /changes streams part way through: audio stream 1 \(PID 0x101\) of program 1 covers .* and audio stream 2 \(PID 0x102\)/ },
  },
  {
    name: 'multi-program MPEG-TS (two channels broadcast together)',
    make: (d) =>
      clip(d, 'two-channels.ts', [
        ...testsrc(3), ...sine(3), ...testsrc(3, '320x180', 25), ...sine(3, 880),
        '-map', '0:v', '-map', '1:a', '-map', '2:v', '-map', '3:a', ...X264, '-g', '25', ...AAC,
        '-program', 'title=One:st=0:st=1', '-program', 'title=Two:st=2:st=3',
      ]),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 3, audioTracks: 1, note: /program 1 \(One\) of the 2 programs/ } },
  },
  {
    name: 'MPEG-PS with a long MPEG-2 GOP',
    make: (d) => clip(d, 'program-stream.mpg', [...testsrc(6), ...sine(6), '-c:v', 'mpeg2video', '-g', '300', '-c:a', 'mp2']),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 6, audioTracks: 1 } },
  },
  {
    name: 'browser-recorded WebM (no Duration, no Cues)',
    make: (d) =>
      clip(d, 'recording.webm', [...testsrc(4, '320x180', 30), ...sine(4), '-c:v', 'libvpx', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', '-c:a', 'libopus', '-f', 'webm', '-live', '1']),
    expect: { package: { width: 320, height: 180, fps: 30, seconds: 4, audioTracks: 1, note: /states no duration/ } },
  },
  {
    name: 'Matroska written to a pipe (no Duration, no Cues)',
    make: (d) => clip(d, 'piped.mkv', [...testsrc(4), ...sine(4), ...X264, ...AAC, '-f', 'matroska', '-live', '1']),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 4, audioTracks: 1 } },
  },
  {
    name: 'MP4 whose clock starts at 10 s (edit list)',
    make: (d) => clip(d, 'offset.mp4', [...testsrc(4), ...sine(4), ...X264, ...AAC, '-output_ts_offset', '10']),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 4, audioTracks: 1 } },
  },
  {
    name: 'Matroska whose clock starts at 10 s',
    make: (d) => clip(d, 'offset.mkv', [...testsrc(4), ...sine(4), ...X264, ...AAC, '-output_ts_offset', '10']),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 4, audioTracks: 1 } },
  },
  {
    name: 'raw H.264 elementary stream (no container timestamps)',
    make: (d) => clip(d, 'elementary.h264', [...testsrc(4), ...X264, '-f', 'h264']),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 4, audioTracks: 0 } },
  },
  {
    name: 'video whose timestamps jump 100 s forward',
    make: (d) => clip(d, 'gap.mkv', [...testsrc(4), ...sine(4), ...X264, ...AAC, '-vf', "setpts='PTS+if(gte(N,50),100/TB,0)'", '-fps_mode', 'passthrough']),
    expect: { reject: /timestamps jump 100\.0 s forward at 1\.9\d s/ },
  },
  {
    name: 'video with many corrupt frames',
    make: async (d) => damaged(d, 'damaged.mp4', await clip(d, 'clean.mp4', [...testsrc(6), ...X264, '-g', '50']), 40),
    expect: { reject: /corrupt data: the decoder reported \d+ damaged frames/ },
  },
  {
    name: 'video with many corrupt frames, --allow-decode-errors',
    make: async (d) => damaged(d, 'damaged-ok.mp4', await clip(d, 'clean-ok.mp4', [...testsrc(6), ...X264, '-g', '50']), 40),
    args: ['--allow-decode-errors'],
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 6, audioTracks: 0, decodeErrors: true, note: /concealed \d+ damaged frames \(--allow-decode-errors\)/ } },
  },
  {
    name: 'video whose audio has many damaged frames',
    make: async (d) => damagedAudio(d, 'damaged-audio.mp4', await clip(d, 'clean-audio.mp4', [...testsrc(6), ...sine(6), ...X264, ...AAC]), 30),
    expect: { reject: /audio stream 1 has corrupt data: the decoder reported \d+ damaged frames \(more than the 10 allowed/ },
  },
  {
    name: 'video whose audio has a few damaged frames',
    make: async (d) => damagedAudio(d, 'few-damaged-audio.mp4', await clip(d, 'clean-audio-few.mp4', [...testsrc(6), ...sine(6), ...X264, ...AAC]), 3),
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 6, audioTracks: 1, audioDecodeErrors: true, note: /audio decoder skipped \d+ damaged frames?, silent in the package$/m } },
  },
  {
    name: 'video whose audio has many damaged frames, normalised (--loudness: the loudness pass refuses it)',
    make: async (d) => damagedAudio(d, 'damaged-audio-loud.mp4', await clip(d, 'clean-audio-loud.mp4', [...testsrc(6), ...sine(6), ...X264, ...AAC]), 30),
    args: ['--loudness', '-16'],
    expect: { reject: /audio stream 1 has corrupt data \(\d+ damaged frames, more than the 10 allowed/ },
  },
  {
    name: 'video whose audio has a few damaged frames, normalised (--loudness)',
    make: async (d) => damagedAudio(d, 'few-damaged-audio-loud.mp4', await clip(d, 'clean-audio-few-loud.mp4', [...testsrc(6), ...sine(6), ...X264, ...AAC]), 3),
    args: ['--loudness', '-16'],
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 6, audioTracks: 1, audioDecodeErrors: true, note: /audio decoder skipped \d+ damaged frames?, silent in the package$/m } },
  },
  {
    name: 'video whose audio has many damaged frames, --allow-decode-errors',
    make: async (d) => damagedAudio(d, 'damaged-audio-ok.mp4', await clip(d, 'clean-audio-ok.mp4', [...testsrc(6), ...sine(6), ...X264, ...AAC]), 30),
    args: ['--allow-decode-errors'],
    expect: { package: { width: 320, height: 180, fps: 25, seconds: 6, audioTracks: 1, audioDecodeErrors: true, note: /audio decoder skipped \d+ damaged frames, silent in the package \(--allow-decode-errors\)/ } },
  },
  {
    name: '1x1000 strip (never enlarged: padded to 2x1000)',
    make: (d) => clip(d, 'strip-1x1000.mp4', strip('1x1000')),
    expect: { package: { width: 1, height: 1000, fps: 25, seconds: 2, audioTracks: 1, size: { width: 2, height: 1000 } } },
  },
  {
    name: '1x1000 strip with poster and storyboard',
    make: (d) => clip(d, 'strip-thumbs.mp4', strip('1x1000')),
    thumbnails: true,
    expect: { package: { width: 1, height: 1000, fps: 25, seconds: 2, audioTracks: 1, size: { width: 2, height: 1000 } } },
  },
  {
    name: '1000x1 strip',
    make: (d) => clip(d, 'strip-1000x1.mp4', strip('1000x1')),
    expect: { package: { width: 1000, height: 1, fps: 25, seconds: 2, audioTracks: 1, size: { width: 1000, height: 2 } } },
  },
  {
    name: '4x2000 strip with poster and storyboard',
    make: (d) => clip(d, 'strip-4x2000.mp4', strip('4x2000')),
    thumbnails: true,
    expect: { package: { width: 4, height: 2000, fps: 25, seconds: 2, audioTracks: 1, size: { width: 4, height: 2000 } } },
  },
];
