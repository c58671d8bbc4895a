/**
 * The quality check: vidpipe's chunked encode against a single-process encode at the same rates
 * (the expert command's output), each rendition measured against the source with vidpipe's own
 * PSNR/SSIM measurement (src/metrics/quality.ts). The chunk joins must cost nothing visible:
 * target ≤ 0.1 dB PSNR below the single-process encode.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { resolveBinaries } from '../src/ffmpeg/binaries.js';
import { FfmpegRunner } from '../src/ffmpeg/runner.js';
import type { QualityMetrics } from '../src/core/result.js';
import { measureQuality } from '../src/metrics/quality.js';
import type { BenchPlan } from './contenders.js';
import { expertPlaylist } from './contenders.js';

export interface QualityRow {
  rendition: string;
  vidpipe: { psnr: number; ssim: number; frames: number };
  single: { psnr: number; ssim: number; frames: number };
  /** vidpipe − single process, dB (negative: vidpipe is worse). */
  psnrDelta: number;
}

/** The media playlist of each video rendition in a vidpipe package, from its master playlist. */
async function vidpipePlaylists(packageRoot: string): Promise<Map<string, string>> {
  const master = await readFile(join(packageRoot, 'master.m3u8'), 'utf8');
  const found = new Map<string, string>();
  for (const line of master.split('\n')) {
    const match = /^(?!#)(.*\/video\/([^/]+)\/index\.m3u8)\s*$/.exec(line);
    if (match) found.set(match[2]!, join(packageRoot, match[1]!));
  }
  return found;
}

const brief = (m: QualityMetrics) => ({ psnr: m.psnr, ssim: m.ssim, frames: m.frames });

export async function compareQuality(options: { source: string; plan: BenchPlan; vidpipePackage: string; expertOut: string; work: string }): Promise<QualityRow[]> {
  const binaries = await resolveBinaries();
  const controller = new AbortController();
  const ffmpeg = new FfmpegRunner({ binaries, stallTimeoutMs: 0, cores: availableParallelism(), parallelEncodes: 1 }, controller.signal);
  const ctx = { ffmpeg, signal: controller.signal, onProgress: () => undefined, workDir: options.work };
  const playlists = await vidpipePlaylists(options.vidpipePackage);
  const measure = (renditions: { name: string; playlist: string; width: number; height: number }[]) =>
    measureQuality(
      {
        source: options.source,
        sourceStreamIndex: 0,
        durationSeconds: (options.plan.totalFrames * options.plan.frameRate.den) / options.plan.frameRate.num,
        deinterlace: false,
        renditions: renditions.map((r) => ({ ...r, frameRate: options.plan.frameRate })),
        vmafAvailable: false,
      },
      ctx,
    );
  const ours = await measure(
    options.plan.rungs.map((rung) => {
      const playlist = playlists.get(rung.id);
      if (!playlist) throw new Error(`the vidpipe package in ${options.vidpipePackage} has no playlist for ${rung.id}`);
      return { name: rung.id, playlist, width: rung.width, height: rung.height };
    }),
  );
  const single = await measure(options.plan.rungs.map((rung, i) => ({ name: rung.id, playlist: expertPlaylist(options.expertOut, i), width: rung.width, height: rung.height })));
  return options.plan.rungs.map((rung) => {
    const a = ours[rung.id]!;
    const b = single[rung.id]!;
    return { rendition: rung.id, vidpipe: brief(a), single: brief(b), psnrDelta: a.psnr - b.psnr };
  });
}
