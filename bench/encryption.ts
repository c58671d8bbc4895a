/**
 * What `--encrypt cbcs` adds to a job (issue 24: ≤ 3 % of the wall time), on the speed section's
 * 20 s 1080p source and ladder: the same `vidpipe transcode` clear and encrypted, one after the
 * other in each round, the order swapped every round (clear cbcs, cbcs clear, …) so that a
 * machine getting busier or quieter falls on both. Figures: the median over rounds of each pair's
 * wall-time ratio (the target), and the extra CPU seconds of vidpipe's own node process,
 * where the encryption runs (ffmpeg's work is the same in both), over the whole tree's CPU:
 * on a shared, loaded machine that is the steadier figure of the two.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SOURCES, ensureSource, vidpipeTranscodeArgs } from './contenders.js';
import { measureCommand, type RunCost } from './measure.js';
import { check, type TargetCheck } from './report.js';
import type { SectionContext, SectionResult } from './section.js';

interface EncryptionRun {
  round: number;
  encrypted: boolean;
  wallSeconds: number;
  cpuSeconds: number;
  /** CPU seconds of vidpipe's node process alone (its last sample before it exited). */
  nodeCpuSeconds: number;
}

const median = (values: number[]): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export async function encryptionSection(context: SectionContext): Promise<SectionResult> {
  const spec = context.quick ? SOURCES.short.quick : SOURCES.short.full;
  const source = await ensureSource(spec, context.cacheDir, context.vidpipe, false);
  // A key made for this run, given as a worker would get it (the environment), never printed.
  const keyEnv = { ...process.env, VIDPIPE_KEY: randomBytes(16).toString('hex') };
  const kid = randomBytes(16).toString('hex');
  const runs: EncryptionRun[] = [];
  const lines: string[] = [];
  for (let round = 1; round <= context.rounds; round++) {
    const order = round % 2 === 1 ? [false, true] : [true, false];
    for (const encrypted of order) {
      const dir = join(context.work, `${encrypted ? 'cbcs' : 'clear'}-${round}`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const args = vidpipeTranscodeArgs(context.vidpipe, source, spec, context.preset, { dir: join(dir, 'out'), db: join(dir, 'bench.db'), work: join(dir, 'work') });
      const cost: RunCost = await measureCommand(process.execPath, encrypted ? [...args, '--encrypt', 'cbcs', '--key-id', kid] : args, encrypted ? { env: keyEnv } : {});
      if (cost.exitCode !== 0) throw new Error(`vidpipe transcode${encrypted ? ' --encrypt cbcs' : ''} exited ${cost.exitCode}:\n${cost.stderrTail.trim()}`);
      const run = { round, encrypted, wallSeconds: cost.wallSeconds, cpuSeconds: cost.cpuSeconds, nodeCpuSeconds: cost.samples.at(-1)?.rootCpu ?? 0 };
      runs.push(run);
      lines.push(`  round ${round} ${encrypted ? 'cbcs ' : 'clear'}  wall ${run.wallSeconds.toFixed(1)} s  CPU ${run.cpuSeconds.toFixed(1)} s (node ${run.nodeCpuSeconds.toFixed(2)} s)  others' load ${(cost.othersCpuSeconds / cost.wallSeconds).toFixed(2)} cores`);
      await rm(dir, { recursive: true, force: true });
    }
  }
  const pairs = Array.from({ length: context.rounds }, (_, k) => {
    const of = (encrypted: boolean) => runs.find((run) => run.round === k + 1 && run.encrypted === encrypted)!;
    return { clear: of(false), cbcs: of(true) };
  });
  const wallExtra = median(pairs.map(({ clear, cbcs }) => cbcs.wallSeconds / clear.wallSeconds - 1));
  const nodeExtra = median(pairs.map(({ clear, cbcs }) => (cbcs.nodeCpuSeconds - clear.nodeCpuSeconds) / clear.cpuSeconds));
  const nodeExtraSeconds = median(pairs.map(({ clear, cbcs }) => cbcs.nodeCpuSeconds - clear.nodeCpuSeconds));
  lines.push(`  node process: +${nodeExtraSeconds?.toFixed(2)} CPU s with cbcs (median of rounds)`);
  const checks: TargetCheck[] = [
    check(`encryption-wall-${spec.id}`, `cbcs ÷ clear − 1, wall, ${spec.id}`, wallExtra, '<=', 0.03, '%'),
    check(`encryption-node-cpu-${spec.id}`, `extra node CPU with cbcs ÷ job CPU, ${spec.id}`, nodeExtra, '<=', 0.03, '%'),
  ];
  return { lines, checks, figures: { source: spec, runs, wallExtra, nodeExtra, nodeExtraSeconds } };
}
