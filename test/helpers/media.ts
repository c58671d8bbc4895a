import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
/** The repository root (tests run from dist/test/…). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
export const VIDPIPE_BIN = join(REPO_ROOT, 'bin', 'vidpipe');

export async function tempDir(prefix = 'vidpipe-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface ClipOptions {
  durationSeconds?: number;
  width?: number;
  height?: number;
  /** e.g. "30", "30000/1001", "25". */
  rate?: string;
  audio?: boolean;
  /** Extra output args (e.g. metadata) placed before the output path. */
  extraArgs?: string[];
  /** Video encoder args (default libx264 veryfast, long GOP). */
  videoArgs?: string[];
}

/** A small synthetic clip: testsrc2 (a different picture every frame) plus a tone. */
export async function makeClip(path: string, options: ClipOptions = {}): Promise<string> {
  const d = options.durationSeconds ?? 4;
  const size = `${options.width ?? 320}x${options.height ?? 180}`;
  const rate = options.rate ?? '30';
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${d}`];
  if (options.audio !== false) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${d}`);
  args.push(...(options.videoArgs ?? ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '150', '-pix_fmt', 'yuv420p']));
  if (options.audio !== false) args.push('-c:a', 'aac', '-b:a', '96k');
  args.push(...(options.extraArgs ?? []), path);
  await run('ffmpeg', args);
  return path;
}

export async function ffprobeJson(args: string[]): Promise<any> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-of', 'json', ...args], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout);
}

/** Frames the decoder really produces (decodes the whole stream). */
export async function decodedFrameCount(path: string): Promise<number> {
  const json = await ffprobeJson(['-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', path]);
  return Number(json.streams[0].nb_read_frames);
}

/** Presentation times of key frames, seconds. */
export async function keyFrameTimes(path: string): Promise<number[]> {
  const json = await ffprobeJson(['-select_streams', 'v:0', '-skip_frame', 'nokey', '-show_entries', 'frame=pts_time', path]);
  return json.frames.map((f: { pts_time: string }) => Number(f.pts_time));
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the real CLI (bin/vidpipe, or another install's `bin`) with no terminal. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; bin?: string; onStderr?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [options.bin ?? VIDPIPE_BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      // No quiet time for the source (--source-quiet): test inputs are made a moment before the run
      // and complete; the tests of a source still being written set it themselves.
      env: { ...process.env, CI: '', VIDPIPE_SOURCE_QUIET: '0', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      options.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}
