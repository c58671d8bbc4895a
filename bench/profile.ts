/**
 * Where a vidpipe run's time and CPU went: its task rows in SQLite (when each task ran), the
 * exec-log records (the exact CPU of every ffmpeg/ffprobe child and what it was for) and the CPU
 * curve sampled from /proc (measure.ts) — per stage kind, per piece of work, per chunk, and over
 * the three phases of a job: the head (start to the first encode), the encodes, and the tail
 * (the last encode's end to the exit).
 */
import Database from 'better-sqlite3';
import type { ChildRecord } from './exec-log.js';
import { cpuAt, type RunCost } from './measure.js';

export interface TaskRow {
  id: string;
  kind: string;
  /** Seconds from the start of the process. */
  start: number;
  end: number;
}

export interface StageRow {
  kind: string;
  tasks: number;
  /** First start and last end, seconds from the start of the process. */
  spanStart: number;
  spanEnd: number;
  /** Sum of its tasks' durations. */
  busySeconds: number;
  /** CPU of the children that served it (see STAGE_OF_WORK); node's own time is in the phases. */
  cpuSeconds: number;
}

export interface WorkRow {
  work: string;
  processes: number;
  cpuSeconds: number;
  /** Sum of the children's wall times. */
  wallSeconds: number;
  maxRssMiB: number;
}

export interface PhaseRow {
  phase: 'head' | 'encode' | 'tail';
  start: number;
  end: number;
  seconds: number;
  /** CPU of the whole tree in the phase (interpolated from the samples). */
  cpuSeconds: number;
  /** Core-seconds nobody in the tree used: cores × seconds − CPU. */
  idleCoreSeconds: number;
  /** vidpipe's node process alone. */
  nodeCpuSeconds: number;
  /** Highest resident memory of the node process in the phase (sampled), MiB. */
  nodePeakRssMiB: number;
}

export interface ChunkRow {
  index: number;
  /** Frames encoded: the chunk's own and its warm-up's. */
  frames: number;
  /** From the encode's arguments: the chunk's first frame, where its decode starts (the seek), its warm-up frames. */
  startFrame: number;
  prerollFrame: number;
  warmupFrames: number;
  /** The part of the chunk's encoded pixels whose renditions warm up (rateWarmupFrames: not every rendition does). */
  warmupPixelShare: number;
  /** Source frames decoded before the chunk's first frame (from the key frame before the seek). */
  framesDecodedBefore?: number;
  wallSeconds: number;
  /** The chunk's ffmpeg alone (its frame counts are under their own work row). */
  cpuSeconds: number;
}

export interface VidpipeProfile {
  tasks: TaskRow[];
  stages: StageRow[];
  work: WorkRow[];
  phases: PhaseRow[];
  chunks: ChunkRow[];
  nodeCpuSeconds: number;
  childrenCpuSeconds: number;
}

/** Which stage each kind of child works for (children not listed belong to `probe`, the job's start). */
const STAGE_OF_WORK: Record<string, string> = {
  'encode-video': 'encode-video',
  'frame count (chunks)': 'encode-video',
  'warm-up cut': 'encode-video',
  'probe (hdr metadata)': 'encode-video',
  assemble: 'assemble',
  'frame count (renditions)': 'assemble',
  'package (video)': 'package',
  'package (audio)': 'package',
  'package (ts)': 'package',
  'poster candidates': 'poster',
  poster: 'poster',
  'probe (smallest rendition)': 'poster+storyboard',
  'probe (smallest rendition, field order)': 'poster+storyboard',
  storyboard: 'storyboard',
  'encode-audio': 'encode-audio',
  loudness: 'loudness',
};

/** The task rows of the newest job in a vidpipe database, relative to `t0` (epoch ms). */
export function readTasks(dbFile: string, t0: number): TaskRow[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const job = db.prepare('SELECT id FROM jobs ORDER BY started_at DESC, rowid DESC LIMIT 1').pluck().get() as string | undefined;
    if (!job) return [];
    const rows = db.prepare('SELECT id, kind, started_at, finished_at FROM tasks WHERE job_id = ? AND started_at IS NOT NULL AND finished_at IS NOT NULL').all(job) as {
      id: string;
      kind: string;
      started_at: string;
      finished_at: string;
    }[];
    return rows
      .map((r) => ({ id: r.id, kind: r.kind, start: (Date.parse(r.started_at) - t0) / 1000, end: (Date.parse(r.finished_at) - t0) / 1000 }))
      .sort((a, b) => a.start - b.start);
  } finally {
    db.close();
  }
}

function sum<T>(items: T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}

/** The chunk index an encode child wrote (its output files are chunk_NNNNN.mp4, or chunk_NNNNN.mp4.warmup.mp4 before the warm-up is cut). */
function chunkIndexOf(record: ChildRecord): number | undefined {
  const match = /chunk_(\d+)\.mp4(?:\.warmup\.mp4)?$/.exec(record.args.at(-1) ?? '');
  return match ? Number(match[1]) : undefined;
}

export function profileRun(
  cost: RunCost,
  tasks: TaskRow[],
  children: ChildRecord[],
  cores: number,
  decodedBefore: Map<number, number> = new Map(),
): VidpipeProfile {
  const wall = cost.wallSeconds;
  const byStage = new Map<string, StageRow>();
  for (const task of tasks) {
    const row = byStage.get(task.kind) ?? { kind: task.kind, tasks: 0, spanStart: task.start, spanEnd: task.end, busySeconds: 0, cpuSeconds: 0 };
    row.tasks++;
    row.spanStart = Math.min(row.spanStart, task.start);
    row.spanEnd = Math.max(row.spanEnd, task.end);
    row.busySeconds += task.end - task.start;
    byStage.set(task.kind, row);
  }
  const byWork = new Map<string, WorkRow>();
  for (const child of children) {
    const row = byWork.get(child.work) ?? { work: child.work, processes: 0, cpuSeconds: 0, wallSeconds: 0, maxRssMiB: 0 };
    row.processes++;
    row.cpuSeconds += child.cpuSeconds;
    row.wallSeconds += (child.end - child.start) / 1000;
    row.maxRssMiB = Math.max(row.maxRssMiB, child.maxRssMiB);
    byWork.set(child.work, row);
    const stage = STAGE_OF_WORK[child.work] ?? 'probe';
    const stageRow = byStage.get(stage) ?? { kind: stage, tasks: 0, spanStart: 0, spanEnd: 0, busySeconds: 0, cpuSeconds: 0 };
    stageRow.cpuSeconds += child.cpuSeconds;
    byStage.set(stage, stageRow);
  }

  const encodes = tasks.filter((t) => t.kind === 'encode-video');
  const firstEncode = encodes.length ? Math.min(...encodes.map((t) => t.start)) : wall;
  const lastEncode = encodes.length ? Math.max(...encodes.map((t) => t.end)) : wall;
  const phase = (name: PhaseRow['phase'], start: number, end: number): PhaseRow => {
    const cpu = cpuAt(cost.samples, end * 1000) - cpuAt(cost.samples, start * 1000);
    const node = cpuAt(cost.samples, end * 1000, 'rootCpu') - cpuAt(cost.samples, start * 1000, 'rootCpu');
    const rss = cost.samples.filter((x) => x.t >= start * 1000 && x.t <= end * 1000).map((x) => x.rootRssMiB);
    return { phase: name, start, end, seconds: end - start, cpuSeconds: cpu, idleCoreSeconds: Math.max(0, cores * (end - start) - cpu), nodeCpuSeconds: node, nodePeakRssMiB: Math.max(0, ...rss) };
  };
  const childrenCpu = sum(children, (c) => c.cpuSeconds);

  const chunks: ChunkRow[] = [];
  for (const child of children.filter((c) => c.work === 'encode-video')) {
    const index = chunkIndexOf(child);
    if (index === undefined) continue;
    const text = child.args.join(' ');
    const trim = /trim=start_pts=(\d+):end_pts=(\d+)/.exec(text);
    const grid = /fps=fps=(\d+)(?:\/(\d+))?:start_time=([\d.]+)/.exec(text);
    const warmupFrames = Number(/gte\(n,(\d+)\)/.exec(text)?.[1] ?? 0);
    const outputs = chunkOutputs(child.args);
    const trimStart = trim ? Number(trim[1]) : 0;
    chunks.push({
      index,
      frames: trim ? Number(trim[2]) - trimStart : 0,
      startFrame: trimStart + warmupFrames,
      prerollFrame: grid ? Math.round((Number(grid[3]) * Number(grid[1])) / Number(grid[2] ?? 1)) : 0,
      warmupFrames,
      warmupPixelShare: outputs.length ? sum(outputs.filter((o) => o.warmsUp), (o) => o.pixels) / Math.max(1, sum(outputs, (o) => o.pixels)) : warmupFrames > 0 ? 1 : 0,
      framesDecodedBefore: decodedBefore.get(index),
      wallSeconds: (child.end - child.start) / 1000,
      cpuSeconds: child.cpuSeconds,
    });
  }
  chunks.sort((a, b) => a.index - b.index);

  return {
    tasks,
    stages: [...byStage.values()].sort((a, b) => a.spanStart - b.spanStart || b.cpuSeconds - a.cpuSeconds),
    work: [...byWork.values()].sort((a, b) => b.cpuSeconds - a.cpuSeconds),
    phases: [phase('head', 0, firstEncode), phase('encode', firstEncode, lastEncode), phase('tail', lastEncode, wall)],
    chunks,
    // What the tree used that no child accounts for: node itself (its own time is exact at exit).
    nodeCpuSeconds: Math.max(0, cost.cpuSeconds - childrenCpu),
    childrenCpuSeconds: childrenCpu,
  };
}

/**
 * Each output of a chunk encode's arguments: its picture's pixels (from the scale of the filter
 * graph's branch that feeds its [vN] label) and whether its encoder warms up (its forced key
 * frames count from a warm-up: gte(n,W)).
 */
export function chunkOutputs(args: readonly string[]): { pixels: number; warmsUp: boolean }[] {
  const graph = args[args.indexOf('-filter_complex') + 1] ?? '';
  const pixels = new Map<number, number>();
  for (const branch of graph.split(';')) {
    const size = /scale=(\d+):(\d+)/.exec(branch);
    if (!size) continue;
    for (const label of branch.matchAll(/\[v(\d+)\]/g)) pixels.set(Number(label[1]), Number(size[1]) * Number(size[2]));
  }
  const outputs: { pixels: number; warmsUp: boolean }[] = [];
  args.forEach((arg, i) => {
    const label = arg === '-map' ? /^\[v(\d+)\]$/.exec(args[i + 1] ?? '') : null;
    if (!label) return;
    const next = args.indexOf('-map', i + 2);
    const own = args.slice(i, next < 0 ? undefined : next).join(' ');
    outputs.push({ pixels: pixels.get(Number(label[1])) ?? 0, warmsUp: /gte\(n,\d+\)/.test(own) });
  });
  return outputs;
}

/**
 * Frames each chunk decodes before its first frame: decoding starts at the source's key frame
 * at or before the chunk's seek point (its preroll), so the frames from there to the chunk's
 * start are decoded twice (the chunk before decodes them too). `keyFrames` are frame indexes on
 * the output grid. Also what it would be without the preroll (seeking to the chunk's start).
 */
export function framesDecodedTwice(chunks: { index: number; startFrame: number; prerollFrame: number }[], keyFrames: number[]): { perChunk: Map<number, number>; total: number; withoutPreroll: number } {
  const keyAtOrBefore = (frame: number) => keyFrames.filter((k) => k <= frame).at(-1) ?? 0;
  const perChunk = new Map<number, number>();
  let withoutPreroll = 0;
  for (const chunk of chunks) {
    if (chunk.startFrame === 0) continue;
    perChunk.set(chunk.index, chunk.startFrame - keyAtOrBefore(chunk.prerollFrame));
    withoutPreroll += chunk.startFrame - keyAtOrBefore(chunk.startFrame);
  }
  return { perChunk, total: sum([...perChunk.values()], (v) => v), withoutPreroll };
}

/**
 * Where a run's CPU went, in the three parts issue 27 accounts for: the head (node's start, the
 * probe, the packet scan, the tool checks), the encode (the chunk encodes, their warm-up cuts and
 * frame counts) and the tail (audio, assembly, packaging, poster, storyboard, manifests, publish,
 * records). Children count by the stage they served (STAGE_OF_WORK), node's own CPU by the phase
 * it was spent in. Inside the encode, the two costs of cutting the timeline are estimated: the
 * warm-up frames (each chunk's CPU per frame less the decode, times its warm-up frames and the
 * share of its pixels that warm up) and the frames decoded twice at chunk starts (times the
 * source's decode CPU per frame).
 */
export interface CpuAccount {
  head: number;
  encode: number;
  /** Of the encode: rate-control warm-ups, estimated. */
  warmups: number;
  /** Of the encode: source frames decoded twice at chunk starts, estimated. */
  decodedTwice: number;
  /** Of the encode: the ffmpeg runs that cut the warm-ups off, exact. */
  warmupCuts: number;
  tail: number;
  total: number;
}

export function cpuAccount(profile: VidpipeProfile, decodeMsPerFrame: number): CpuAccount {
  const stageCpu = (inEncode: boolean) => sum(profile.work.filter((w) => ((STAGE_OF_WORK[w.work] ?? 'probe') === 'encode-video') === inEncode && (inEncode || (STAGE_OF_WORK[w.work] ?? 'probe') === 'probe')), (w) => w.cpuSeconds);
  const headChildren = stageCpu(false);
  const encodeChildren = stageCpu(true);
  const tailChildren = profile.childrenCpuSeconds - headChildren - encodeChildren;
  // node's CPU per phase is sampled; scale it to node's exact total.
  const sampled = sum(profile.phases, (p) => p.nodeCpuSeconds);
  const node = (phase: PhaseRow['phase']) => {
    const row = profile.phases.find((p) => p.phase === phase);
    return sampled > 0 && row ? (row.nodeCpuSeconds / sampled) * profile.nodeCpuSeconds : 0;
  };
  const decodeSeconds = decodeMsPerFrame / 1000;
  let warmups = 0;
  let decodedTwice = 0;
  for (const chunk of profile.chunks) {
    const warmup = chunk.warmupFrames;
    if (warmup > 0 && chunk.frames > 0) warmups += warmup * chunk.warmupPixelShare * Math.max(0, chunk.cpuSeconds / chunk.frames - decodeSeconds);
    decodedTwice += (chunk.framesDecodedBefore ?? 0) * decodeSeconds;
  }
  const head = headChildren + node('head');
  const encode = encodeChildren + node('encode');
  const tail = tailChildren + node('tail');
  return {
    head,
    encode,
    warmups,
    decodedTwice,
    warmupCuts: sum(profile.work.filter((w) => w.work === 'warm-up cut'), (w) => w.cpuSeconds),
    tail,
    total: head + encode + tail,
  };
}
