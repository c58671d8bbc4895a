/**
 * Per-title ladder bench (issue 15): on 1080p sources of three kinds, a `--ladder auto` job
 * against a fixed-ladder job, both run as vidpipe runs them (runJob: the whole graph, preset
 * medium, --metrics for PSNR of every rendition against the source), one after the other.
 *
 *   npm run bench:per-title -- [--seconds 20] [--kinds slides,moving,noisy] [--dir DIR]
 *
 * Figures (each with its issue target): video bytes of the auto ladder over the fixed one's,
 * top-rung PSNR, the auto job's wall time over the fixed job's (without the --metrics node,
 * which both run only to measure), and whether every auto package passes `vidpipe validate`
 * with BANDWIDTH rising with resolution. perTitleChecks() is the `per-title` section of bench/bench.ts
 * (bench/section.ts).
 * Sources and packages stay in DIR (not committed). The machine's load moves wall times.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import HLS from 'hls-parser';
import { runJob } from '../src/job/run-job.js';
import { resolveBinaries } from '../src/ffmpeg/binaries.js';
import type { TranscodeResult } from '../src/core/result.js';
import { DEFAULT_SETTINGS, type JobSettings } from '../src/settings/job-settings.js';
import { CONTENT_KINDS, makeContent, type ContentKind } from '../test/helpers/content.js';
import { runCli } from '../test/helpers/media.js';
import { check, targetLines, type TargetCheck } from './report.js';

export interface PerTitleBenchOptions {
  seconds?: number;
  kinds?: readonly ContentKind[];
  dir?: string;
  /** Each job's result as it finishes (the standalone run prints them). */
  onJob?: (line: Record<string, unknown>) => void;
}


async function job(source: string, dir: string, name: string, settings: Partial<JobSettings>): Promise<TranscodeResult> {
  const result = await runJob({
    input: source,
    out: join(dir, 'out'),
    name,
    settings: { ...DEFAULT_SETTINGS, concurrency: availableParallelism(), metrics: true, ...settings },
    // The pair the CLI would use (flags/env → packaged → PATH), not whatever is first on PATH.
    binaries: await resolveBinaries({}, process.env),
    dbPath: join(dir, 'bench.db'),
    workRoot: join(dir, 'work'),
    force: true,
  });
  if (result.status !== 'succeeded') throw new Error(`${name}: ${result.error?.message}`);
  return result;
}

const videoBytes = (r: TranscodeResult) => r.renditions.filter((x) => x.kind === 'video').reduce((sum, x) => sum + x.sizeBytes, 0);
const topPsnr = (r: TranscodeResult) => r.renditions.filter((x) => x.kind === 'video').sort((a, b) => b.height! - a.height!)[0]!.quality!.psnr;
/** The job's wall time without its metrics node (which runs after the manifests, alone). */
const wall = (r: TranscodeResult) => r.timings.total! - (r.timings.metrics ?? 0);
const ladderText = (r: TranscodeResult) =>
  r.renditions.filter((x) => x.kind === 'video').map((x) => `${x.height}p:${Math.round(x.averageBitrate / 1000)}k@${x.quality?.psnr.toFixed(1)}`).join(' ');

/** `vidpipe validate` passes, and every variant's BANDWIDTH is below the one of the next bigger picture. */
async function validatesRising(packageDir: string): Promise<{ ok: boolean; note: string }> {
  const check = await runCli(['validate', packageDir]);
  const master = HLS.parse(await readFile(join(packageDir, 'master.m3u8'), 'utf8')) as unknown as { variants: { isIFrameOnly?: boolean; bandwidth: number; resolution?: { height: number } }[] };
  const variants = master.variants.filter((v) => !v.isIFrameOnly).sort((a, b) => b.resolution!.height - a.resolution!.height);
  const rising = variants.every((v, i) => i === 0 || variants[i - 1]!.bandwidth > v.bandwidth);
  return { ok: check.code === 0 && rising, note: `validate exit ${check.code}; ${variants.map((v) => `${v.resolution!.height}p ${Math.round(v.bandwidth / 1000)}k`).join(' > ')}` };
}

/** The bench section: runs the jobs and returns the issue's figures. */
export async function perTitleChecks(options: PerTitleBenchOptions = {}): Promise<TargetCheck[]> {
  const seconds = options.seconds ?? 20;
  const dir = options.dir ?? '/tmp/vidpipe-bench-per-title';
  await mkdir(dir, { recursive: true });
  const figures: TargetCheck[] = [];
  const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;
  for (const kind of options.kinds ?? CONTENT_KINDS) {
    const source = join(dir, `${kind}-1080-${seconds}s.mp4`);
    if (!(await stat(source).catch(() => undefined))) await makeContent(source, kind, { width: 1920, height: 1080, durationSeconds: seconds });
    await rm(join(dir, 'out'), { recursive: true, force: true });
    const fixed = await job(source, dir, `${kind}-fixed`, {});
    const auto = await job(source, dir, `${kind}-auto`, { rungs: 'auto' });
    const valid = await validatesRising(join(dir, 'out', `${kind}-auto`));
    const bytes = videoBytes(auto) / videoBytes(fixed);
    const time = wall(auto) / wall(fixed);
    options.onJob?.({
      kind, seconds, fixed: { ladder: ladderText(fixed), bytes: videoBytes(fixed), wall: round(wall(fixed), 1), dropped: fixed.ladder?.rungs.filter((r) => r.status === 'dropped').map((r) => `${r.name}: ${r.reason}`) },
      auto: { ladder: ladderText(auto), bytes: videoBytes(auto), wall: round(wall(auto), 1), analysis: auto.ladder?.analysisSeconds, rungs: auto.ladder?.rungs.map((r) => `${r.name} ${r.status} ${r.mode}${r.crf ?? ''} ${r.reason ?? ''}`.trim()) },
      validate: valid.note,
    });
    if (kind === 'slides') {
      figures.push(check('slides-bytes', 'slides: auto/fixed video bytes', round(bytes), '<=', 0.25, '×'));
      figures.push(check('slides-psnr', 'slides: auto top-rung PSNR', round(topPsnr(auto), 2), '>=', 40, 'dB'));
    } else if (kind === 'moving') {
      figures.push(check('moving-bytes', 'testsrc2: auto/fixed video bytes', round(bytes), '<=', 0.6, '×'));
      figures.push(check('moving-psnr', 'testsrc2: auto top-rung PSNR', round(topPsnr(auto), 2), '>=', 40, 'dB'));
    } else {
      figures.push(check(`${kind}-psnr-delta`, `${kind}: auto − fixed top-rung PSNR`, round(topPsnr(auto) - topPsnr(fixed), 2), '>=', -0.2, 'dB'));
    }
    figures.push(check(`${kind}-wall`, `${kind}: auto/fixed job wall time`, round(time, 2), '<=', 1.3, '×'));
    figures.push(check(`${kind}-validate`, `${kind}: auto packages failing validate/rising BANDWIDTH`, valid.ok ? 0 : 1, '<=', 0, 'n', valid.note));
  }
  return figures;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = arg('seconds');
  const kinds = arg('kinds');
  const dir = arg('dir');
  const figures = await perTitleChecks({
    ...(seconds ? { seconds: Number(seconds) } : {}),
    ...(kinds ? { kinds: kinds.split(',') as ContentKind[] } : {}),
    ...(dir ? { dir } : {}),
    onJob: (line) => console.log(JSON.stringify(line)),
  });
  for (const line of targetLines(figures)) console.log(line);
}
