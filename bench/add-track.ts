/**
 * What adding a track later costs (issue 26: `vidpipe add-track` of one audio track to the 20 s
 * 1080p package ≤ 10 % of that package's transcode time), measured in the same run: each round
 * transcodes the speed section's 20 s 1080p source with its ladder, then adds a 20 s dub to the
 * package it published; the figure is the median over rounds of add-track's wall time over the
 * transcode's, with the CPU ratio beside it (the steadier one on a shared, loaded machine).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SOURCES, ensureSource, vidpipeTranscodeArgs } from './contenders.js';
import { measureCommand } from './measure.js';
import { check } from './report.js';
import type { SectionContext, SectionResult } from './section.js';

const exec = promisify(execFile);

interface AddTrackRun {
  round: number;
  transcodeWallSeconds: number;
  transcodeCpuSeconds: number;
  addTrackWallSeconds: number;
  addTrackCpuSeconds: number;
}

const median = (values: number[]): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export async function addTrackSection(context: SectionContext): Promise<SectionResult> {
  const spec = context.quick ? SOURCES.short.quick : SOURCES.short.full;
  const source = await ensureSource(spec, context.cacheDir, context.vidpipe, false);
  // The dub: a stereo tone as long as the source, in a file a dubbing studio would deliver (AAC in MP4).
  const dub = join(context.work, 'dub.m4a');
  if (!existsSync(dub)) {
    await mkdir(context.work, { recursive: true });
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${spec.seconds}`, '-ac', '2', '-c:a', 'aac', '-b:a', '192k', dub]);
  }
  const runs: AddTrackRun[] = [];
  const lines: string[] = [];
  for (let round = 1; round <= context.rounds; round++) {
    const dir = join(context.work, `round-${round}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const out = { dir: join(dir, 'out'), db: join(dir, 'bench.db'), work: join(dir, 'work') };
    const transcode = await measureCommand(process.execPath, vidpipeTranscodeArgs(context.vidpipe, source, spec, context.preset, out));
    if (transcode.exitCode !== 0) throw new Error(`vidpipe transcode exited ${transcode.exitCode}:\n${transcode.stderrTail.trim()}`);
    const added = await measureCommand(process.execPath, [context.vidpipe, 'add-track', join(out.dir, 'bench'), '--audio-track', `${dub}:fr:dub`, '--db', out.db, '--work-dir', out.work, '--quiet']);
    if (added.exitCode !== 0) throw new Error(`vidpipe add-track exited ${added.exitCode}:\n${added.stderrTail.trim()}`);
    const run = { round, transcodeWallSeconds: transcode.wallSeconds, transcodeCpuSeconds: transcode.cpuSeconds, addTrackWallSeconds: added.wallSeconds, addTrackCpuSeconds: added.cpuSeconds };
    runs.push(run);
    lines.push(
      `  round ${round}  transcode wall ${run.transcodeWallSeconds.toFixed(1)} s CPU ${run.transcodeCpuSeconds.toFixed(1)} s  add-track wall ${run.addTrackWallSeconds.toFixed(2)} s CPU ${run.addTrackCpuSeconds.toFixed(2)} s  others' load ${(added.othersCpuSeconds / added.wallSeconds).toFixed(2)} cores`,
    );
    await rm(dir, { recursive: true, force: true });
  }
  const wallRatio = median(runs.map((run) => run.addTrackWallSeconds / run.transcodeWallSeconds));
  const cpuRatio = median(runs.map((run) => run.addTrackCpuSeconds / run.transcodeCpuSeconds));
  return {
    lines,
    checks: [
      check(`add-track-wall-${spec.id}`, `add-track of one audio track ÷ transcode, wall, ${spec.id}`, wallRatio, '<=', 0.1, '%'),
      check(`add-track-cpu-${spec.id}`, `add-track of one audio track ÷ transcode, CPU, ${spec.id}`, cpuRatio, '<=', 0.1, '%'),
    ],
    figures: { source: spec, runs, wallRatio, cpuRatio },
  };
}
