import { EXIT_OK } from '../../errors.js';
import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { runAddTrack, type AddTrackResult } from '../../job/add-track.js';
import type { AddTrackOptions, GlobalOptions } from '../../settings/command-options.js';
import { printable, type CliIO } from '../io.js';
import { installInterruptHandler } from '../signals.js';

/** `vidpipe add-track <package|video id>`: a new release with tracks added or removed, nothing re-encoded. */
export async function runAddTrackCommand(target: string, options: AddTrackOptions, global: GlobalOptions & { db: string }, io: CliIO): Promise<number> {
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  const controller = new AbortController();
  const uninstall = installInterruptHandler(() => controller.abort(), io.stderr);
  try {
    const result = await runAddTrack({
      packageRoot: target,
      audioTracks: options.audioTracks,
      subtitles: options.subtitles,
      removeTracks: options.removeTracks,
      binaries,
      db: global.db,
      storage: { s3: { endpoint: options.s3Endpoint, region: options.s3Region, timeoutSeconds: options.s3TimeoutSeconds } },
      workRoot: options.workDir,
      signal: controller.signal,
      onStep: global.quiet || global.progress === 'none' ? undefined : (line) => io.stderr(printable(line)),
    });
    io.stdout(global.json ? JSON.stringify(result) : formatAddTrack(result));
    return EXIT_OK;
  } finally {
    uninstall();
  }
}

function formatAddTrack(result: AddTrackResult): string {
  const lines = [
    `${printable(result.package.root)}: release ${result.jobId} is live (was ${result.previousRelease}; its segments reused as they were)`,
    ...result.added.map((track) => `  added ${track.kind} ${printable(track.id)}: ${printable(track.name)} [${printable(track.language)}]${track.role ? ` ${track.role}` : ''}${track.isDefault ? ' (default)' : ''}`),
    ...result.removed.map((id) => `  removed ${printable(id)}`),
    ...(result.outputs.hls ? [`  hls:  ${printable(result.outputs.hls)}`] : []),
    ...(result.outputs.dash ? [`  dash: ${printable(result.outputs.dash)}`] : []),
    `  job ${result.jobId} of video ${result.id}, ${result.timings.total?.toFixed(1) ?? '?'} s`,
  ];
  return `${lines.join('\n')}\n`;
}
