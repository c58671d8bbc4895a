import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { runFfmpeg } from '../../ffmpeg/run.js';
import { buildSampleArgs } from '../../ffmpeg/args/sample.js';
import { VidpipeError, EXIT_OK } from '../../errors.js';
import type { GlobalOptions } from '../program.js';
import type { CliIO } from '../io.js';

export interface SampleOptions {
  duration: string;
  size: string;
  rate: string;
}

/** Generates a test clip with ffmpeg's lavfi sources, so a new user has something to transcode. */
export async function runSample(output: string, options: SampleOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  const duration = Number(options.duration);
  const rate = Number(options.rate);
  const match = /^(\d+)x(\d+)$/.exec(options.size);
  if (!(duration > 0 && duration <= 3600)) throw new VidpipeError('USAGE', `--duration: "${options.duration}" must be between 0 and 3600 seconds`);
  if (!(rate > 0 && rate <= 240)) throw new VidpipeError('USAGE', `--rate: "${options.rate}" must be between 1 and 240`);
  if (!match) throw new VidpipeError('USAGE', `--size: "${options.size}" is not WIDTHxHEIGHT`);
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  const path = resolve(output);
  await mkdir(dirname(path), { recursive: true });
  await runFfmpeg(binaries.ffmpeg, buildSampleArgs({ output: path, durationSeconds: duration, width: Number(match[1]), height: Number(match[2]), frameRate: rate }), {
    label: 'generate sample',
  });
  io.stderr(`vidpipe: wrote ${duration} s ${options.size} sample to ${path}`);
  if (global.json) io.stdout(JSON.stringify({ output: path }));
  return EXIT_OK;
}
