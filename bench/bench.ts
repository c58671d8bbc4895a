/**
 * `npm run bench`: vidpipe against plain ffmpeg, measured in the same run on the same source.
 *   (a) vidpipe transcode, 4-rung H.264 ladder + AAC, HLS + DASH + poster + storyboard + metadata
 *   (b) one hand-written ffmpeg: decode once, split, 4 encoders, var_stream_map → HLS fMP4
 *   (c) one ffmpeg per rendition, in sequence (each decodes the source again)
 * Prints wall time, CPU time and peak memory (summed over the process tree) of each, and the
 * ratios a/b (target ≤ 1.05) and c/a (target ≥ 1.8).
 *
 * Environment: BENCH_SECONDS (24), BENCH_PRESET (veryfast), BENCH_SIZE (1920x1080), BENCH_KEEP=1.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureCommand, type RunCost } from './process-monitor.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const VIDPIPE = join(ROOT, 'bin', 'vidpipe');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 24);
const PRESET = process.env.BENCH_PRESET ?? 'veryfast';
const SIZE = process.env.BENCH_SIZE ?? '1920x1080';
const FPS = 30;
const GOP = 2 * FPS;

/** The same 4 rungs vidpipe's default table gives for these sizes (kb/s, maxrate 1.1x, bufsize 2x). */
const LADDER = [
  { name: '1080p', width: 1920, height: 1080, kbps: 6000 },
  { name: '720p', width: 1280, height: 720, kbps: 3000 },
  { name: '540p', width: 960, height: 540, kbps: 2000 },
  { name: '360p', width: 640, height: 360, kbps: 730 },
];

function x264Args(rung: (typeof LADDER)[number], index?: number): string[] {
  const s = index === undefined ? '' : `:${index}`;
  return [
    `-b:v${s}`, `${rung.kbps}k`, `-maxrate:v${s}`, `${Math.round(rung.kbps * 1.1)}k`, `-bufsize:v${s}`, `${rung.kbps * 2}k`,
  ];
}

const COMMON_VIDEO = [
  '-c:v', 'libx264', '-preset', PRESET, '-profile:v', 'high', '-pix_fmt', 'yuv420p',
  '-g', String(GOP), '-keyint_min', String(GOP), '-sc_threshold', '0', '-force_key_frames', 'expr:gte(t,n_forced*2)',
];
const AUDIO = ['-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000'];
const HLS = ['-f', 'hls', '-hls_time', '6', '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4', '-hls_flags', 'independent_segments'];

function singleFfmpegLadder(source: string, out: string): string[] {
  const split = `[0:v]split=${LADDER.length}${LADDER.map((_, i) => `[s${i}]`).join('')};` +
    LADDER.map((r, i) => `[s${i}]scale=${r.width}:${r.height}[v${i}]`).join(';');
  return [
    '-hide_banner', '-loglevel', 'error', '-y', '-i', source, '-filter_complex', split,
    ...LADDER.flatMap((_, i) => ['-map', `[v${i}]`]), '-map', '0:a:0',
    ...COMMON_VIDEO, ...LADDER.flatMap((r, i) => x264Args(r, i)), ...AUDIO, ...HLS,
    '-master_pl_name', 'master.m3u8',
    '-var_stream_map', `${LADDER.map((_, i) => `v:${i},agroup:aud`).join(' ')} a:0,agroup:aud,default:yes`,
    '-hls_segment_filename', join(out, 'v%v', 'seg_%05d.m4s'), join(out, 'v%v', 'index.m3u8'),
  ];
}

function perRenditionFfmpeg(source: string, out: string, index: number): string[] {
  const rung = LADDER[index]!;
  return [
    '-hide_banner', '-loglevel', 'error', '-y', '-i', source, '-map', '0:v:0', ...(index === 0 ? ['-map', '0:a:0', ...AUDIO] : ['-an']),
    '-vf', `scale=${rung.width}:${rung.height}`, ...COMMON_VIDEO, ...x264Args(rung), ...HLS,
    '-hls_segment_filename', join(out, rung.name, 'seg_%05d.m4s'), join(out, rung.name, 'index.m3u8'),
  ];
}

function add(a: RunCost, b: RunCost): RunCost {
  return { wallSeconds: a.wallSeconds + b.wallSeconds, cpuSeconds: a.cpuSeconds + b.cpuSeconds, peakRssMiB: Math.max(a.peakRssMiB, b.peakRssMiB), exitCode: a.exitCode || b.exitCode };
}

function row(label: string, cost: RunCost): string {
  return `${label.padEnd(46)} ${cost.wallSeconds.toFixed(1).padStart(7)} s ${cost.cpuSeconds.toFixed(1).padStart(8)} s ${cost.peakRssMiB.toFixed(0).padStart(8)} MiB`;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'vidpipe-bench-'));
  try {
    const source = join(work, 'source.mp4');
    process.stderr.write(`bench: generating a ${SECONDS} s ${SIZE} noisy source…\n`);
    const gen = await measureCommand(process.execPath, [VIDPIPE, 'sample', source, '--duration', String(SECONDS), '--size', SIZE, '--rate', String(FPS), '--quiet']);
    if (gen.exitCode !== 0) throw new Error('could not generate the source');

    const results: [string, RunCost][] = [];
    process.stderr.write('bench: (a) vidpipe transcode…\n');
    const a = await measureCommand(process.execPath, [
      VIDPIPE, 'transcode', source, '--out', join(work, 'a'), '--db', join(work, 'bench.db'), '--work-dir', join(work, 'work'),
      '--ladder', LADDER.map((r) => r.name).join(','), '--preset', PRESET, '--quiet',
    ]);
    results.push(['(a) vidpipe transcode (HLS+DASH+poster+storyboard+db)', a]);

    process.stderr.write('bench: (b) one ffmpeg, split + var_stream_map…\n');
    await mkdir(join(work, 'b'), { recursive: true });
    const b = await measureCommand('ffmpeg', singleFfmpegLadder(source, join(work, 'b')));
    results.push(['(b) one ffmpeg, decode once, 4 encoders (HLS)', b]);

    process.stderr.write('bench: (c) one ffmpeg per rendition…\n');
    let c: RunCost = { wallSeconds: 0, cpuSeconds: 0, peakRssMiB: 0, exitCode: 0 };
    for (let i = 0; i < LADDER.length; i++) {
      await mkdir(join(work, 'c', LADDER[i]!.name), { recursive: true });
      c = add(c, await measureCommand('ffmpeg', perRenditionFfmpeg(source, join(work, 'c'), i)));
    }
    results.push(['(c) one ffmpeg per rendition, in sequence', c]);

    const extras = await optionalSections(source, work);

    const lines = [
      '',
      `vidpipe benchmark: ${SECONDS} s ${SIZE} ${FPS} fps source, 4-rung H.264 ladder (${LADDER.map((r) => `${r.name} ${r.kbps}k`).join(', ')}) + AAC, preset ${PRESET}`,
      `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}`,
      '',
      `${'run'.padEnd(46)} ${'wall'.padStart(9)} ${'cpu'.padStart(10)} ${'peak mem'.padStart(12)}`,
      ...results.map(([label, cost]) => row(label, cost)),
      '',
      `a/b wall ${(a.wallSeconds / b.wallSeconds).toFixed(3)}  (target ≤ 1.05; vidpipe also writes DASH, poster, storyboard, metadata)`,
      `a/b cpu  ${(a.cpuSeconds / b.cpuSeconds).toFixed(3)}`,
      `c/a wall ${(c.wallSeconds / a.wallSeconds).toFixed(3)}  (target ≥ 1.8)`,
      ...extras,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if ([a, b, c].some((r) => r.exitCode !== 0)) process.exitCode = 1;
  } finally {
    if (!process.env.BENCH_KEEP) await rm(work, { recursive: true, force: true });
  }
}

/** Sections contributed by other modules (resume cost, queue throughput) when present. */
async function optionalSections(source: string, work: string): Promise<string[]> {
  const lines: string[] = [];
  for (const [file, exportName] of [['./resume-bench.js', 'benchResume'], ['./queue-bench.js', 'benchQueue']] as const) {
    let module: Record<string, unknown>;
    try {
      module = (await import(file)) as Record<string, unknown>;
    } catch {
      continue;
    }
    const fn = module[exportName];
    if (typeof fn === 'function') lines.push('', ...((await fn({ source, work, vidpipe: VIDPIPE, preset: PRESET })) as string[]));
  }
  return lines;
}

await main();
