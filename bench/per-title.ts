/**
 * Per-title ladder bench (issues 15 and 27): on 1080p sources of three kinds, a `--ladder auto`
 * job against a fixed-ladder job, each run as a user runs it (`vidpipe transcode … --metrics`, a
 * process of its own, measured by measure.ts), at each preset asked for (default: veryfast and
 * the default preset, medium), one after the other.
 *
 *   npm run bench:per-title -- [--seconds 20] [--kinds slides,moving,noisy] [--presets veryfast,medium]
 *                              [--compare CHECKOUT] [--long-seconds 120] [--rounds N] [--dir DIR]
 *
 * Figures (each with its issue target): video bytes of the auto ladder over the fixed one's,
 * top-rung PSNR, the auto job's wall time and CPU seconds (user + sys of vidpipe and its
 * children) over the fixed job's, both without the --metrics node (which both run only to
 * measure), and whether every auto package passes `vidpipe validate` with BANDWIDTH rising with
 * resolution. Each auto job's CPU is accounted per stage from the exec-log records (exec-log.ts):
 * the analysis (sample decode, probe encodes, probe measures), the chunk encodes, check-quality …
 * With --compare, that checkout's vidpipe runs the same pair right after (before vs after, same
 * machine state); with --long-seconds, one auto job on a long source gives the analysis's share
 * of a long job (it should fall with length). perTitleChecks() is the `per-title` section of
 * bench/bench.ts (bench/section.ts).
 * Sources and packages stay in DIR (not committed). The machine's load moves wall times: compare
 * CPU seconds alongside, and the "others" figure says how loaded the machine was.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import HLS from 'hls-parser';
import type { TranscodeResult } from '../src/core/result.js';
import { CONTENT_KINDS, makeContent, type ContentKind } from '../test/helpers/content.js';
import { runCli } from '../test/helpers/media.js';
import { buildExecLog, classify, readExecLog, type ChildRecord, type ExecLog } from './exec-log.js';
import { measureCommand } from './measure.js';
import { check, targetLines, type TargetCheck } from './report.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The issue's wall-ratio target per preset (auto ÷ fixed); presets not named here get the default preset's. */
export const WALL_TARGET: Record<string, number> = { veryfast: 1.2, medium: 1.15 };

export interface PerTitleBenchOptions {
  seconds?: number;
  kinds?: readonly ContentKind[];
  presets?: readonly string[];
  dir?: string;
  /** bin/vidpipe of the checkout under test (default: this one). */
  vidpipe?: string;
  /** Another checkout (built): its vidpipe runs the same jobs right after, for before/after figures. */
  compare?: string;
  /** Seconds of a long `moving` source on which one auto job measures the analysis's share (0: none). */
  longSeconds?: number;
  /**
   * Pairs per source and preset (default 1), the order alternating (fixed first, then auto
   * first): the wall and CPU ratios are the medians of the pairs'. On this shared host the same
   * job's CPU seconds moved by up to a fifth between runs; one pair decides little.
   */
  rounds?: number;
  execLog?: ExecLog;
  /** Each job's figures as it finishes (the standalone run prints them). */
  onJob?: (line: Record<string, unknown>) => void;
}

/** What one child was for, with the per-title analysis and the quality measures told apart. */
export function perTitleWork(child: ChildRecord): string {
  const text = child.args.join(' ');
  if (/[\\/]per-title[\\/]/.test(text)) {
    if (child.args.at(-1)?.endsWith('.nut')) return 'analysis: sample decode';
    if (text.includes('psnr=stats_file')) return 'analysis: probe measure';
    return 'analysis: probe encode';
  }
  if (text.includes('psnr=stats_file')) return /\.m3u8\b/.test(text) ? 'metrics (bench only)' : 'check-quality: measure';
  return classify(child.tool, child.args);
}

export interface JobRun {
  ladder: 'fixed' | 'auto';
  checkout: 'this' | 'compared';
  preset: string;
  kind: string;
  /** Job wall time without the metrics node, s. */
  wall: number;
  /** CPU (user + sys) of vidpipe and its children without the metrics node's ffmpeg, s. */
  cpu: number;
  /** CPU the rest of the machine used meanwhile, in cores. */
  othersCores: number;
  /** CPU seconds per piece of work (perTitleWork), and node's own. */
  cpuByWork: Record<string, number>;
  /** The analysis node's wall time, s (auto only). */
  analysisWall?: number;
  result: TranscodeResult;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

/** One `vidpipe transcode --metrics` job as a process of its own, measured (CPU, per-stage CPU, wall without the metrics node). */
export async function runJobMeasured(vidpipe: string, source: string, dir: string, name: string, preset: string, auto: boolean, execLog: ExecLog | undefined): Promise<Omit<JobRun, 'checkout' | 'kind'>> {
  const jobDir = join(dir, 'jobs', name);
  await rm(jobDir, { recursive: true, force: true });
  await mkdir(jobDir, { recursive: true });
  const logFile = join(jobDir, 'children.log');
  const resultFile = join(jobDir, 'result.json');
  const args = [vidpipe, 'transcode', source, '--out', join(dir, 'out'), '--name', name, '--db', join(jobDir, 'bench.db'), '--work-dir', join(jobDir, 'work'), '--preset', preset, '--metrics', '--json', '--force', ...(auto ? ['--ladder', 'auto'] : [])];
  const fd = openSync(resultFile, 'w');
  let cost;
  try {
    cost = await measureCommand(process.execPath, args, { stdout: fd, ...(execLog ? { env: execLog.env(logFile) } : {}) });
  } finally {
    closeSync(fd);
  }
  if (cost.exitCode !== 0) throw new Error(`${name} exited ${cost.exitCode}:\n${cost.stderrTail.trim()}`);
  const result = JSON.parse(readFileSync(resultFile, 'utf8')) as TranscodeResult;
  if (result.status !== 'succeeded') throw new Error(`${name}: ${result.error?.message}`);
  const cpuByWork: Record<string, number> = {};
  let childrenCpu = 0;
  for (const child of readExecLog(logFile)) {
    const work = perTitleWork(child);
    cpuByWork[work] = (cpuByWork[work] ?? 0) + child.cpuSeconds;
    childrenCpu += child.cpuSeconds;
  }
  if (execLog) cpuByWork['node (vidpipe itself)'] = Math.max(0, cost.cpuSeconds - childrenCpu);
  const metricsCpu = cpuByWork['metrics (bench only)'] ?? 0;
  return {
    ladder: auto ? 'auto' : 'fixed',
    preset,
    wall: result.timings.total! - (result.timings.metrics ?? 0),
    cpu: cost.cpuSeconds - metricsCpu,
    othersCores: cost.othersCpuSeconds / cost.wallSeconds,
    cpuByWork,
    ...(auto ? { analysisWall: result.timings['analyse-ladder'] ?? result.ladder?.analysisSeconds } : {}),
    result,
  };
}

const videoBytes = (r: TranscodeResult) => r.renditions.filter((x) => x.kind === 'video').reduce((sum, x) => sum + x.sizeBytes, 0);
const topPsnr = (r: TranscodeResult) => r.renditions.filter((x) => x.kind === 'video').sort((a, b) => b.height! - a.height!)[0]!.quality!.psnr;
const ladderText = (r: TranscodeResult) =>
  r.renditions.filter((x) => x.kind === 'video').map((x) => `${x.height}p:${Math.round(x.averageBitrate / 1000)}k@${x.quality?.psnr.toFixed(1)}`).join(' ');

/** `vidpipe validate` passes, and every variant's BANDWIDTH is below the one of the next bigger picture. */
async function validatesRising(packageDir: string): Promise<{ ok: boolean; note: string }> {
  const result = await runCli(['validate', packageDir]);
  const master = HLS.parse(await readFile(join(packageDir, 'master.m3u8'), 'utf8')) as unknown as { variants: { isIFrameOnly?: boolean; bandwidth: number; resolution?: { height: number } }[] };
  const variants = master.variants.filter((v) => !v.isIFrameOnly).sort((a, b) => b.resolution!.height - a.resolution!.height);
  const rising = variants.every((v, i) => i === 0 || variants[i - 1]!.bandwidth > v.bandwidth);
  return { ok: result.code === 0 && rising, note: `validate exit ${result.code}; ${variants.map((v) => `${v.resolution!.height}p ${Math.round(v.bandwidth / 1000)}k`).join(' > ')}` };
}

/** The per-stage CPU account of a job, one line: biggest first, with its share. */
export function cpuAccount(run: Pick<JobRun, 'cpu' | 'cpuByWork'>): string {
  const rows = Object.entries(run.cpuByWork).filter(([work]) => work !== 'metrics (bench only)').sort((a, b) => b[1] - a[1]);
  return rows.map(([work, cpu]) => `${work} ${cpu.toFixed(1)} s (${((100 * cpu) / run.cpu).toFixed(0)} %)`).join(', ');
}

/** CPU of the per-title analysis's children in a job. */
const analysisCpu = (run: JobRun) => Object.entries(run.cpuByWork).filter(([w]) => w.startsWith('analysis:')).reduce((a, [, cpu]) => a + cpu, 0);

async function ensureContent(dir: string, kind: ContentKind, seconds: number): Promise<string> {
  const source = join(dir, `${kind}-1080-${seconds}s.mp4`);
  if (!(await stat(source).catch(() => undefined))) await makeContent(source, kind, { width: 1920, height: 1080, durationSeconds: seconds });
  return source;
}

export interface PerTitleFigures {
  checks: TargetCheck[];
  lines: string[];
  runs: Omit<JobRun, 'result'>[];
}

/** The bench section: runs the jobs and returns the issue's figures, with the lines to print. */
export async function perTitleBench(options: PerTitleBenchOptions = {}): Promise<PerTitleFigures> {
  const seconds = options.seconds ?? 20;
  const dir = options.dir ?? '/tmp/vidpipe-bench-per-title';
  const vidpipe = options.vidpipe ?? join(ROOT, 'bin', 'vidpipe');
  const compared = options.compare ? join(options.compare, 'bin', 'vidpipe') : undefined;
  const execLog = options.execLog ?? buildExecLog(join(ROOT, 'bench', 'exec-log.c'), join(dir, 'exec-log'));
  await mkdir(dir, { recursive: true });
  const checks: TargetCheck[] = [];
  const lines: string[] = [];
  const runs: JobRun[] = [];
  if (!execLog) lines.push('  no C compiler: no per-stage CPU account (exec-log.c)');
  for (const preset of options.presets ?? ['veryfast', 'medium']) {
    const wallTarget = WALL_TARGET[preset] ?? WALL_TARGET.medium!;
    lines.push(`  -- preset ${preset}: auto ÷ fixed wall target ≤ ${wallTarget}`);
    for (const kind of options.kinds ?? CONTENT_KINDS) {
      const source = await ensureContent(dir, kind, seconds);
      await rm(join(dir, 'out'), { recursive: true, force: true });
      const pair = async (checkout: JobRun['checkout'], binary: string, autoFirst = false) => {
        const tag = `${kind}-${preset}${checkout === 'compared' ? '-compared' : ''}`;
        const run = async (auto: boolean) => ({ ...(await runJobMeasured(binary, source, dir, `${tag}-${auto ? 'auto' : 'fixed'}`, preset, auto, execLog)), checkout, kind });
        const [first, second] = [await run(autoFirst), await run(!autoFirst)];
        const [fixed, auto] = autoFirst ? [second, first] : [first, second];
        runs.push(fixed, auto);
        return { fixed, auto, tag };
      };
      const pairs = [await pair('this', vidpipe)];
      for (let round = 2; round <= (options.rounds ?? 1); round++) pairs.push(await pair('this', vidpipe, round % 2 === 0));
      const mine = pairs.at(-1)!;
      const valid = await validatesRising(join(dir, 'out', `${mine.tag}-auto`));
      const before = compared ? await pair('compared', compared) : undefined;
      const { fixed, auto } = mine;
      const bytes = videoBytes(auto.result) / videoBytes(fixed.result);
      const wallRatio = median(pairs.map((p) => p.auto.wall / p.fixed.wall));
      const cpuRatio = median(pairs.map((p) => p.auto.cpu / p.fixed.cpu));
      const figure = (r: JobRun) => `wall ${r.wall.toFixed(1)} s, CPU ${r.cpu.toFixed(1)} s (others ${(100 * r.othersCores).toFixed(0)} % of a core)`;
      lines.push(
        `  ${kind}, ${preset}: fixed ${figure(fixed)} [${ladderText(fixed.result)}]`,
        `  ${kind}, ${preset}: auto  ${figure(auto)} [${ladderText(auto.result)}]; analysis ${auto.analysisWall?.toFixed(1)} s wall, ${analysisCpu(auto).toFixed(1)} s CPU`,
        `    auto ÷ fixed: wall ${wallRatio.toFixed(2)}×, CPU ${cpuRatio.toFixed(2)}×, video bytes ${bytes.toFixed(2)}×${pairs.length > 1 ? ` (medians of ${pairs.length} pairs, order alternating: wall ${pairs.map((p) => (p.auto.wall / p.fixed.wall).toFixed(2)).join(', ')})` : ''}`,
        `    auto CPU by stage: ${cpuAccount(auto)}`,
      );
      if (before) {
        lines.push(
          `    compared checkout: fixed ${figure(before.fixed)}, auto ${figure(before.auto)}; analysis ${before.auto.analysisWall?.toFixed(1)} s wall, ${analysisCpu(before.auto).toFixed(1)} s CPU`,
          `    compared checkout auto ÷ fixed: wall ${(before.auto.wall / before.fixed.wall).toFixed(2)}×, CPU ${(before.auto.cpu / before.fixed.cpu).toFixed(2)}×, video bytes ${(videoBytes(before.auto.result) / videoBytes(before.fixed.result)).toFixed(2)}×`,
          `    compared checkout auto CPU by stage: ${cpuAccount(before.auto)}`,
        );
      }
      options.onJob?.({
        kind, seconds, preset,
        fixed: { ladder: ladderText(fixed.result), bytes: videoBytes(fixed.result), wall: round(fixed.wall, 1), cpu: round(fixed.cpu, 1) },
        auto: { ladder: ladderText(auto.result), bytes: videoBytes(auto.result), wall: round(auto.wall, 1), cpu: round(auto.cpu, 1), analysis: auto.analysisWall, rungs: auto.result.ladder?.rungs.map((r) => `${r.name} ${r.status} ${r.mode}${r.crf ?? ''} ${r.reason ?? ''}`.trim()) },
        validate: valid.note,
      });
      const id = `${kind}-${preset}`;
      if (kind === 'slides') {
        checks.push(check(`slides-bytes-${preset}`, `slides, ${preset}: auto/fixed video bytes`, round(bytes), '<=', 0.25, '×'));
        checks.push(check(`slides-psnr-${preset}`, `slides, ${preset}: auto top-rung PSNR`, round(topPsnr(auto.result), 2), '>=', 40, 'dB'));
      } else if (kind === 'moving') {
        checks.push(check(`moving-bytes-${preset}`, `testsrc2, ${preset}: auto/fixed video bytes`, round(bytes), '<=', 0.6, '×'));
        checks.push(check(`moving-psnr-${preset}`, `testsrc2, ${preset}: auto top-rung PSNR`, round(topPsnr(auto.result), 2), '>=', 40, 'dB'));
      } else {
        checks.push(check(`${id}-psnr-delta`, `${kind}, ${preset}: auto − fixed top-rung PSNR`, round(topPsnr(auto.result) - topPsnr(fixed.result), 2), '>=', -0.2, 'dB'));
      }
      checks.push(check(`${id}-wall`, `${kind}, ${preset}: auto/fixed job wall time`, round(wallRatio, 2), '<=', wallTarget, '×', `CPU ${cpuRatio.toFixed(2)}×`));
      checks.push(check(`${id}-validate`, `${kind}, ${preset}: auto packages failing validate/rising BANDWIDTH`, valid.ok ? 0 : 1, '<=', 0, 'n', valid.note));
    }
  }
  if (options.longSeconds) {
    const preset = options.presets?.[0] ?? 'veryfast';
    const source = await ensureContent(dir, 'moving', options.longSeconds);
    const long = { ...(await runJobMeasured(vidpipe, source, dir, `moving-${options.longSeconds}s-auto`, preset, true, execLog)), checkout: 'this' as const, kind: 'moving' };
    runs.push(long);
    const short = runs.find((r) => r.checkout === 'this' && r.ladder === 'auto' && r.kind === 'moving' && r.preset === preset);
    const share = (r: JobRun) => `${((100 * (r.analysisWall ?? 0)) / r.wall).toFixed(0)} % of the wall, ${((100 * analysisCpu(r)) / r.cpu).toFixed(0)} % of the CPU`;
    lines.push(
      `  analysis share, moving ${options.longSeconds} s, ${preset}: ${share(long)} (analysis ${long.analysisWall?.toFixed(1)} s of ${long.wall.toFixed(1)} s)${short ? `; on ${seconds} s: ${share(short)}` : ''}`,
      `    CPU by stage: ${cpuAccount(long)}`,
    );
  }
  return { checks, lines, runs: runs.map(({ result: _r, ...rest }) => rest) };
}

/** The figures only (the older entry point). */
export async function perTitleChecks(options: PerTitleBenchOptions = {}): Promise<TargetCheck[]> {
  return (await perTitleBench(options)).checks;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = arg('seconds');
  const kinds = arg('kinds');
  const presets = arg('presets');
  const dir = arg('dir');
  const compare = arg('compare');
  const longSeconds = arg('long-seconds');
  const rounds = arg('rounds');
  const figures = await perTitleBench({
    ...(seconds ? { seconds: Number(seconds) } : {}),
    ...(kinds ? { kinds: kinds.split(',') as ContentKind[] } : {}),
    ...(presets ? { presets: presets.split(',') } : {}),
    ...(dir ? { dir: resolve(dir) } : {}),
    ...(compare ? { compare: resolve(compare) } : {}),
    ...(longSeconds ? { longSeconds: Number(longSeconds) } : {}),
    ...(rounds ? { rounds: Number(rounds) } : {}),
    onJob: (line) => console.error(JSON.stringify(line)),
  });
  for (const line of [...figures.lines, '', ...targetLines(figures.checks)]) console.log(line);
}
