import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { VidpipeError } from '../core/errors.js';

/** The ffmpeg and ffprobe executables one run uses, and where each came from. */
export interface FfmpegBinaries {
  ffmpeg: string;
  ffprobe: string;
  ffmpegSource: BinarySource;
  ffprobeSource: BinarySource;
}

export type BinarySource = 'flag' | 'env' | 'packaged' | 'path';

export interface BinaryOverrides {
  ffmpeg?: string;
  ffprobe?: string;
}

const require = createRequire(import.meta.url);

/** ffmpeg-static is an optional dependency: its install downloads a binary and may fail. */
function packagedFfmpegPath(): string | undefined {
  try {
    const path = require('ffmpeg-static') as string | null;
    return path && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

function packagedFfprobePath(): string | undefined {
  try {
    const path = (require('ffprobe-static') as { path?: string }).path;
    return path && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

async function runs(binary: string): Promise<boolean> {
  try {
    const result = await execa(binary, ['-version'], { reject: false, timeout: 10_000, stdin: 'ignore' });
    return result.exitCode === 0;
  } catch {
    return false;
  }
}

async function resolveOne(
  name: 'ffmpeg' | 'ffprobe',
  flag: string | undefined,
  envValue: string | undefined,
  packaged: string | undefined,
): Promise<{ path: string; source: BinarySource }> {
  if (flag) return checked(name, flag, 'flag', `--${name}`);
  if (envValue) return checked(name, envValue, 'env', `VIDPIPE_${name.toUpperCase()}`);
  if (packaged && (await runs(packaged))) return { path: packaged, source: 'packaged' };
  if (await runs(name)) return { path: name, source: 'path' };
  throw new VidpipeError('FFMPEG_NOT_FOUND', `${name} was not found`, {
    hint:
      `install it (Debian/Ubuntu: sudo apt-get install ffmpeg), ` +
      `or point vidpipe at one with --${name} PATH or VIDPIPE_${name.toUpperCase()}=PATH`,
  });
}

async function checked(name: string, path: string, source: BinarySource, origin: string) {
  if (!(await runs(path))) {
    throw new VidpipeError('FFMPEG_NOT_FOUND', `${name} given by ${origin} (${path}) does not run`, {
      hint: `check the path, or remove ${origin} to let vidpipe find ${name} itself`,
    });
  }
  return { path, source };
}

/**
 * Resolution order: explicit flag → VIDPIPE_FFMPEG / VIDPIPE_FFPROBE → the binary shipped in
 * ffmpeg-static / ffprobe-static when it exists and runs → `ffmpeg` / `ffprobe` on PATH.
 */
export async function resolveBinaries(
  overrides: BinaryOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<FfmpegBinaries> {
  const [ffmpeg, ffprobe] = await Promise.all([
    resolveOne('ffmpeg', overrides.ffmpeg, env.VIDPIPE_FFMPEG, packagedFfmpegPath()),
    resolveOne('ffprobe', overrides.ffprobe, env.VIDPIPE_FFPROBE, packagedFfprobePath()),
  ]);
  return { ffmpeg: ffmpeg.path, ffprobe: ffprobe.path, ffmpegSource: ffmpeg.source, ffprobeSource: ffprobe.source };
}
