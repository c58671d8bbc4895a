import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { basename, delimiter, dirname, extname, join } from 'node:path';
import { VidpipeError } from '../errors.js';
import { runCapture } from './run.js';

/** The ffmpeg and ffprobe executables one run uses, and where each came from. */
export interface FfmpegBinaries {
  ffmpeg: string;
  ffprobe: string;
  ffmpegSource: BinarySource;
  ffprobeSource: BinarySource;
}

export type BinarySource = 'flag' | 'env' | 'beside-ffmpeg' | 'packaged' | 'path';

export interface BinaryOverrides {
  ffmpeg?: string;
  ffprobe?: string;
}

/** The executables of the optional ffmpeg-static / ffprobe-static packages, when installed and downloaded. */
export interface PackagedBinaries {
  ffmpeg?: string;
  ffprobe?: string;
}

const require = createRequire(import.meta.url);

/**
 * ffmpeg-static and ffprobe-static are optional peer dependencies: installed only when the user
 * adds them, and ffmpeg-static's binary only exists once its install script was allowed to
 * download it (npm 12 blocks it by default).
 */
export function packagedBinaries(): PackagedBinaries {
  const existing = (path: string | null | undefined) => (path && existsSync(path) ? path : undefined);
  const load = <T>(name: string): T | undefined => {
    try {
      return require(name) as T;
    } catch {
      return undefined;
    }
  };
  return {
    ffmpeg: existing(load<string | null>('ffmpeg-static')),
    ffprobe: existing(load<{ path?: string }>('ffprobe-static')?.path),
  };
}

async function runs(binary: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    const result = await runCapture(binary, ['-version'], { label: `${binary} -version`, timeoutMs: 10_000, env });
    return result.exitCode === 0;
  } catch {
    return false;
  }
}

interface Resolved {
  path: string;
  source: BinarySource;
}

async function checked(name: string, path: string, source: BinarySource, origin: string, env: NodeJS.ProcessEnv): Promise<Resolved> {
  if (!(await runs(path, env))) {
    throw new VidpipeError('FFMPEG_NOT_FOUND', `${name} given by ${origin} (${path}) does not run`, {
      hint: `check the path, or remove ${origin} to let vidpipe find ${name} itself`,
    });
  }
  return { path, source };
}

function notFound(name: 'ffmpeg' | 'ffprobe'): VidpipeError {
  return new VidpipeError('FFMPEG_NOT_FOUND', `${name} was not found`, {
    hint:
      `install ffmpeg, which brings ffprobe (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg), ` +
      `or point vidpipe at one with --${name} PATH or VIDPIPE_${name.toUpperCase()}=PATH`,
  });
}

/** Where a command name would be found on PATH (the first folder holding it), or undefined. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const folder of (env.PATH ?? '').split(delimiter)) {
    if (folder && existsSync(join(folder, name))) return join(folder, name);
  }
  return undefined;
}

/**
 * The ffprobe that came with an ffmpeg given by path: the file beside it, named like it
 * (`/opt/ff6/bin/ffmpeg` → `/opt/ff6/bin/ffprobe`, `ffmpeg-6.exe` → `ffprobe-6.exe`).
 */
export function ffprobeBeside(ffmpeg: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const located = /[\\/]/.test(ffmpeg) ? ffmpeg : onPath(ffmpeg, env);
  if (!located) return undefined;
  const name = basename(located);
  const probeName = /ffmpeg/i.test(name) ? name.replace(/ffmpeg/i, 'ffprobe') : `ffprobe${extname(name).toLowerCase() === '.exe' ? '.exe' : ''}`;
  const candidate = join(dirname(located), probeName);
  return candidate !== located && existsSync(candidate) ? candidate : undefined;
}

/**
 * ffmpeg and ffprobe are taken as a pair from one place, so probing and decoding agree:
 *   ffmpeg:  --ffmpeg → VIDPIPE_FFMPEG → the packaged pair (ffmpeg-static and ffprobe-static,
 *            both installed) → `ffmpeg` on PATH → ffmpeg-static alone;
 *   ffprobe: --ffprobe → VIDPIPE_FFPROBE → the one that comes with that ffmpeg (the file
 *            beside it; ffprobe-static with the packaged pair) → `ffprobe` on PATH →
 *            ffprobe-static, only when no other ffprobe exists.
 * `vidpipe doctor` shows the result and warns when the two are different releases.
 */
export async function resolveBinaries(
  overrides: BinaryOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
  packaged: PackagedBinaries = packagedBinaries(),
): Promise<FfmpegBinaries> {
  let ffmpeg: Resolved;
  let companion: Resolved | undefined;
  if (overrides.ffmpeg || env.VIDPIPE_FFMPEG) {
    ffmpeg = overrides.ffmpeg ? await checked('ffmpeg', overrides.ffmpeg, 'flag', '--ffmpeg', env) : await checked('ffmpeg', env.VIDPIPE_FFMPEG!, 'env', 'VIDPIPE_FFMPEG', env);
    const beside = ffprobeBeside(ffmpeg.path, env);
    if (beside) companion = { path: beside, source: 'beside-ffmpeg' };
  } else if (packaged.ffmpeg && packaged.ffprobe && (await runs(packaged.ffmpeg, env))) {
    ffmpeg = { path: packaged.ffmpeg, source: 'packaged' };
    companion = { path: packaged.ffprobe, source: 'packaged' };
  } else if (await runs('ffmpeg', env)) {
    ffmpeg = { path: 'ffmpeg', source: 'path' };
    // PATH may find ffmpeg and ffprobe in different folders (a self-built ffmpeg in
    // /usr/local/bin, the distribution's ffprobe in /usr/bin): the one beside ffmpeg wins.
    const beside = ffprobeBeside('ffmpeg', env);
    if (beside && beside !== onPath('ffprobe', env)) companion = { path: beside, source: 'beside-ffmpeg' };
  } else if (packaged.ffmpeg && (await runs(packaged.ffmpeg, env))) {
    ffmpeg = { path: packaged.ffmpeg, source: 'packaged' };
  } else {
    throw notFound('ffmpeg');
  }

  let ffprobe: Resolved | undefined;
  if (overrides.ffprobe) ffprobe = await checked('ffprobe', overrides.ffprobe, 'flag', '--ffprobe', env);
  else if (env.VIDPIPE_FFPROBE) ffprobe = await checked('ffprobe', env.VIDPIPE_FFPROBE, 'env', 'VIDPIPE_FFPROBE', env);
  else {
    const candidates: Resolved[] = [
      ...(companion ? [companion] : []),
      { path: 'ffprobe', source: 'path' },
      ...(packaged.ffprobe ? [{ path: packaged.ffprobe, source: 'packaged' as const }] : []),
    ];
    for (const candidate of candidates) {
      if (await runs(candidate.path, env)) {
        ffprobe = candidate;
        break;
      }
    }
  }
  if (!ffprobe) throw notFound('ffprobe');
  return { ffmpeg: ffmpeg.path, ffprobe: ffprobe.path, ffmpegSource: ffmpeg.source, ffprobeSource: ffprobe.source };
}
