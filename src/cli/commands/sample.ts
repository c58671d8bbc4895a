import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { runFfmpeg } from '../../ffmpeg/run.js';
import { buildSampleArgs } from '../../ffmpeg/args/sample.js';
import { EXIT_OK } from '../../errors.js';
import type { GlobalOptions, SampleOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';

/** Generates a test clip with ffmpeg's lavfi sources, so a new user has something to transcode. */
export async function runSample(output: string, options: SampleOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  const path = resolve(output);
  await mkdir(dirname(path), { recursive: true });
  await runFfmpeg(binaries.ffmpeg, buildSampleArgs({ output: path, durationSeconds: options.durationSeconds, width: options.size.width, height: options.size.height, frameRate: options.frameRate }), {
    label: 'generate sample',
  });
  io.stderr(`vidpipe: wrote ${options.durationSeconds} s ${options.size.width}x${options.size.height} sample to ${path}`);
  if (global.json) io.stdout(JSON.stringify({ output: path }));
  return EXIT_OK;
}
