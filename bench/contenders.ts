/**
 * What the bench runs: the sources it generates, and the three ways of making the same ladder
 * from them — vidpipe, the one-command expert ladder and one ffmpeg per rendition. The two
 * ffmpeg contenders take their rungs, rates, GOP and preset from vidpipe's own plan
 * (`transcode --plan --json`), so all three encode the same thing.
 */
import { execFile } from 'node:child_process';
import { mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface SourceSpec {
  /** Short name used in the report and the JSON ("20s-1080p"). */
  id: string;
  seconds: number;
  width: number;
  height: number;
  fps: number;
  /** The four rungs every contender encodes (vidpipe's --ladder). */
  ladder: string;
}

/** The sources of the issue's targets, and shorter ones for `--quick`. */
export const SOURCES: Record<'short' | 'long', { full: SourceSpec; quick: SourceSpec }> = {
  short: {
    full: { id: '20s-1080p', seconds: 20, width: 1920, height: 1080, fps: 30, ladder: '1080p,720p,540p,360p' },
    quick: { id: '6s-1080p', seconds: 6, width: 1920, height: 1080, fps: 30, ladder: '1080p,720p,540p,360p' },
  },
  long: {
    full: { id: '120s-720p', seconds: 120, width: 1280, height: 720, fps: 30, ladder: '720p,540p,432p,360p' },
    quick: { id: '24s-720p', seconds: 24, width: 1280, height: 720, fps: 30, ladder: '720p,540p,432p,360p' },
  },
};

/**
 * The source file, generated once with `vidpipe sample` (moving test pattern with noise, a tone,
 * long GOPs with scene-cut key frames, like an upload) and kept in `cacheDir`: a 2-minute noisy
 * source takes minutes to make.
 */
export async function ensureSource(spec: SourceSpec, cacheDir: string, vidpipe: string, fresh: boolean): Promise<string> {
  const path = join(cacheDir, `${spec.id}-${spec.fps}fps.mp4`);
  if (!fresh && (await stat(path).catch(() => undefined))?.size) return path;
  await mkdir(cacheDir, { recursive: true });
  const partial = `${path}.partial.mp4`;
  process.stderr.write(`bench: generating the ${spec.seconds} s ${spec.width}x${spec.height} source (once; kept in ${cacheDir})…\n`);
  await exec(process.execPath, [vidpipe, 'sample', partial, '--duration', String(spec.seconds), '--size', `${spec.width}x${spec.height}`, '--rate', String(spec.fps), '--quiet']);
  await rename(partial, path);
  return path;
}

export interface PlannedRung {
  id: string;
  width: number;
  height: number;
  bitrateKbps: number;
  maxrateKbps: number;
  bufsizeKbps: number;
  profile: string;
  level: string;
}

export interface PlannedChunk {
  index: number;
  startFrame: number;
  endFrame: number;
  prerollFrame: number;
}

/** The part of vidpipe's plan the bench uses. */
export interface BenchPlan {
  rungs: PlannedRung[];
  gopFrames: number;
  frameRate: { num: number; den: number };
  totalFrames: number;
  segmentSeconds: number;
  chunks: PlannedChunk[];
  audioKbps: number;
  /** The graph's tasks, by id. */
  taskIds: string[];
}

export function vidpipeTranscodeArgs(vidpipe: string, source: string, spec: SourceSpec, preset: string, out: { dir: string; db: string; work: string }): string[] {
  return [vidpipe, 'transcode', source, '--out', out.dir, '--name', 'bench', '--db', out.db, '--work-dir', out.work, '--ladder', spec.ladder, '--preset', preset, '--quiet'];
}

/** vidpipe's plan for the source, as `--plan --json` prints it (no work done). */
export async function readPlan(vidpipe: string, source: string, spec: SourceSpec, preset: string, scratch: string): Promise<BenchPlan> {
  const args = vidpipeTranscodeArgs(vidpipe, source, spec, preset, { dir: join(scratch, 'plan-out'), db: join(scratch, 'plan.db'), work: join(scratch, 'plan-work') });
  const { stdout } = await exec(process.execPath, [...args, '--plan', '--json'], { maxBuffer: 64 * 1024 * 1024 });
  const view = JSON.parse(stdout) as {
    plan: { segmentDurationSeconds: number; video: { gopFrames: number; frameRate: { num: number; den: number }; totalFrames: number; chunks: PlannedChunk[]; renditions: PlannedRung[] }; audio: { bitrateKbps: number }[] };
    tasks: { id: string }[];
  };
  const video = view.plan.video;
  return {
    rungs: video.renditions,
    gopFrames: video.gopFrames,
    frameRate: video.frameRate,
    totalFrames: video.totalFrames,
    segmentSeconds: view.plan.segmentDurationSeconds,
    chunks: video.chunks,
    audioKbps: view.plan.audio[0]?.bitrateKbps ?? 128,
    taskIds: view.tasks.map((t) => t.id),
  };
}

/** x264 settings of one rung, as vidpipe sets them; `stream` adds ffmpeg's per-stream specifier. */
function rungArgs(rung: PlannedRung, stream?: number): string[] {
  const s = stream === undefined ? '' : `:${stream}`;
  return [
    `-b:v${s}`, `${rung.bitrateKbps}k`, `-maxrate:v${s}`, `${rung.maxrateKbps}k`, `-bufsize:v${s}`, `${rung.bufsizeKbps}k`,
    `-profile:v${s}`, rung.profile, `-level:v${s}`, rung.level,
  ];
}

function commonVideoArgs(plan: BenchPlan, preset: string): string[] {
  const gop = String(plan.gopFrames);
  return [
    '-c:v', 'libx264', '-preset', preset, '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
    '-force_key_frames', `expr:eq(mod(n,${gop}),0)`, '-x264-params', `keyint=${gop}:min-keyint=${gop}:scenecut=0:open-gop=0`,
  ];
}

function audioArgs(plan: BenchPlan): string[] {
  return ['-c:a', 'aac', '-b:a', `${plan.audioKbps}k`, '-ac', '2', '-ar', '48000'];
}

function hlsArgs(plan: BenchPlan): string[] {
  return ['-f', 'hls', '-hls_time', String(plan.segmentSeconds), '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4', '-hls_flags', 'independent_segments'];
}

const scale = (rung: PlannedRung) => `scale=${rung.width}:${rung.height}:flags=bicubic,setsar=1,format=yuv420p`;

/**
 * The ladder as a person fluent in ffmpeg writes it: one process decodes once, splits, runs one
 * x264 per rung (default threads) and writes HLS fMP4 with a master playlist. Rendition i goes
 * to <out>/v<i>/index.m3u8.
 */
export function expertLadderArgs(source: string, out: string, plan: BenchPlan, preset: string): string[] {
  const n = plan.rungs.length;
  const graph = `[0:v:0]split=${n}${plan.rungs.map((_, i) => `[s${i}]`).join('')};` + plan.rungs.map((r, i) => `[s${i}]${scale(r)}[v${i}]`).join(';');
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', source, '-filter_complex', graph,
    ...plan.rungs.flatMap((_, i) => ['-map', `[v${i}]`]), '-map', '0:a:0',
    ...commonVideoArgs(plan, preset), ...plan.rungs.flatMap((r, i) => rungArgs(r, i)), ...audioArgs(plan), ...hlsArgs(plan),
    '-master_pl_name', 'master.m3u8',
    '-var_stream_map', `${plan.rungs.map((_, i) => `v:${i},agroup:aud`).join(' ')} a:0,agroup:aud,default:yes`,
    '-hls_segment_filename', join(out, 'v%v', 'seg_%05d.m4s'), join(out, 'v%v', 'index.m3u8'),
  ];
}

/** The playlist of rung i in the expert's output. */
export function expertPlaylist(out: string, index: number): string {
  return join(out, `v${index}`, 'index.m3u8');
}

/** One ffmpeg for one rung (each decodes the source again); the first also encodes the audio. */
export function perRenditionArgs(source: string, out: string, plan: BenchPlan, preset: string, index: number): string[] {
  const rung = plan.rungs[index]!;
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', source,
    '-map', '0:v:0', '-vf', scale(rung), ...commonVideoArgs(plan, preset), ...rungArgs(rung),
    ...(index === 0 ? ['-map', '0:a:0', ...audioArgs(plan)] : ['-an']),
    ...hlsArgs(plan), '-hls_segment_filename', join(out, rung.id, 'seg_%05d.m4s'), join(out, rung.id, 'index.m3u8'),
  ];
}
