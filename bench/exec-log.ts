/**
 * The per-child record of a vidpipe run: exec-log.c stands in for ffmpeg and ffprobe and writes
 * one line per child (times, CPU, peak memory, arguments). This module builds it, points a
 * vidpipe run at it, and reads and classifies the records: which stage each child served.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface ChildRecord {
  /** Epoch ms. */
  start: number;
  end: number;
  cpuSeconds: number;
  maxRssMiB: number;
  status: number;
  tool: 'ffmpeg' | 'ffprobe';
  args: string[];
  /** What it was for (see classify). */
  work: string;
}

/** Which binary is really run: the first on PATH, as vidpipe would find it. */
function which(name: string): string {
  return execFileSync('sh', ['-c', 'command -v "$0"', name], { encoding: 'utf8' }).trim();
}

export interface ExecLog {
  /** Environment for a vidpipe run whose children are recorded into `file`. */
  env(file: string): NodeJS.ProcessEnv;
}

/** Compiles exec-log.c into `dir` (needs a C compiler); undefined when there is none. */
export function buildExecLog(sourceFile: string, dir: string): ExecLog | undefined {
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, 'exec-log');
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', binary, sourceFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    return undefined;
  }
  for (const name of ['ffmpeg', 'ffprobe']) if (!existsSync(join(dir, name))) symlinkSync(binary, join(dir, name));
  const real = { ffmpeg: which('ffmpeg'), ffprobe: which('ffprobe') };
  return {
    env: (file) => ({
      ...process.env,
      VIDPIPE_FFMPEG: join(dir, 'ffmpeg'),
      VIDPIPE_FFPROBE: join(dir, 'ffprobe'),
      BENCH_REAL_FFMPEG: real.ffmpeg,
      BENCH_REAL_FFPROBE: real.ffprobe,
      BENCH_EXEC_LOG: file,
    }),
  };
}

/**
 * What a child was for, from its arguments: each ffmpeg argument list is built in one place in
 * vidpipe, so a few markers tell them apart. Frame counts and probes are split by the file they read.
 */
export function classify(tool: 'ffmpeg' | 'ffprobe', args: string[]): string {
  const text = args.join(' ');
  const last = args.at(-1) ?? '';
  if (args.includes('-version') || args.includes('-encoders') || args.includes('-filters') || args.includes('-buildconf')) return 'tool checks';
  if (tool === 'ffprobe') {
    if (args.includes('-count_packets')) return /[\\/]chunks[\\/]/.test(last) ? 'frame count (chunks)' : 'frame count (renditions)';
    if (text.includes('packet=')) return 'packet scan';
    if (text.includes('side_data')) return 'probe (hdr metadata)';
    const what = /[\\/]renditions[\\/]/.test(last) ? 'smallest rendition' : 'source';
    return text.includes('interlaced_frame') ? `probe (${what}, field order)` : `probe (${what})`;
  }
  if (text.includes('trim=start_pts=')) return 'encode-video';
  if (text.includes('.warmup.mp4')) return 'warm-up cut';
  if (args.includes('concat') && args.includes('-f')) return 'assemble';
  if (args.includes('dash')) return /[\\/]audio[\\/]/.test(text) ? 'package (audio)' : 'package (video)';
  if (text.includes('vidpipe.candidate')) return 'poster candidates';
  if (text.includes('poster.jpg')) return 'poster';
  if (text.includes('tile=')) return 'storyboard';
  if (args.includes('matroska')) return 'matroska copy';
  if (text.includes('ebur128') || text.includes('loudnorm')) return 'loudness';
  if (args.includes('-vn') || /\b-c:a\b/.test(text)) return 'encode-audio';
  if (args.includes('mpegts')) return 'package (ts)';
  return `other: ${args.slice(0, 6).join(' ')}`;
}

export function readExecLog(file: string): ChildRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [start, end, user, sys, rss, status, tool, args = ''] = line.split('\t');
      const argv = args.length > 0 ? args.split('\x1f') : [];
      const kind = tool === 'ffprobe' ? 'ffprobe' : 'ffmpeg';
      return {
        start: Number(start),
        end: Number(end),
        cpuSeconds: (Number(user) + Number(sys)) / 1e6,
        maxRssMiB: Number(rss) / 1024,
        status: Number(status),
        tool: kind,
        args: argv,
        work: classify(kind, argv),
      };
    });
}
