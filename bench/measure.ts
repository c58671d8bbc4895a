/**
 * Runs one contender (an argument array, no shell) and measures what it cost the machine:
 *
 * - CPU: user + system time of the whole process tree, exact. It is the growth of this process's
 *   own cutime + cstime (/proc/self/stat), i.e. RUSAGE_CHILDREN: when the contender exits and is
 *   reaped it brings along the time of every descendant it reaped in turn (vidpipe and ffmpeg
 *   wait for their children). The bench starts nothing else while a contender runs.
 * - Memory: /proc is sampled every `intervalMs`; the peak of the summed RSS of the tree's live
 *   processes, and the peak RSS (VmHWM) of the root process alone (vidpipe's node process).
 * - The CPU curve: at each sample, the tree's CPU so far (own + reaped time of every live
 *   process), so the idle cores of any stretch of the run can be read off (samples()).
 * - The machine: busy time of all CPUs (/proc/stat) over the run, so the report can say how much
 *   of the machine other users took meanwhile.
 * Linux only.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ
const PAGE_BYTES = 4096;

export interface Sample {
  /** ms since the contender was started. */
  t: number;
  /** CPU seconds of the tree so far (own + reaped children of every live process, + what this process reaped). */
  cpu: number;
  /** CPU seconds of the root process itself (not its children). */
  rootCpu: number;
  /** Resident memory of the tree's live processes, MiB. */
  treeRssMiB: number;
  /** Resident memory of the root process alone, MiB. */
  rootRssMiB: number;
}

export interface RunCost {
  wallSeconds: number;
  cpuSeconds: number;
  /** Highest summed RSS of the live process tree, MiB (sampled). */
  peakTreeRssMiB: number;
  /** Peak RSS of the root process alone (VmHWM), MiB. */
  peakRootRssMiB: number;
  /** CPU seconds the rest of the machine used while this ran (all CPUs' busy time minus ours). */
  othersCpuSeconds: number;
  exitCode: number | null;
  /** Epoch ms at start, to line the samples up with other clocks (SQLite task rows, exec-log). */
  startedAt: number;
  samples: Sample[];
  stderrTail: string;
}

interface Stat {
  ppid: number;
  /** utime + stime, ticks. */
  self: number;
  /** cutime + cstime, ticks. */
  children: number;
  rssPages: number;
}

function readStat(pid: number | 'self'): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const field = (n: number) => Number(f[n - 3]);
    return { ppid: field(4), self: field(14) + field(15), children: field(16) + field(17), rssPages: field(24) };
  } catch {
    return undefined;
  }
}

function peakRssMiB(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Busy jiffies of all CPUs since boot. */
function machineBusyTicks(): number {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const n = values.slice(0, 8).map(Number);
  return n.reduce((a, b) => a + b, 0) - (n[3] ?? 0) - (n[4] ?? 0);
}

/** CPU seconds (utime + stime) a process has used so far; 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  return (readStat(pid)?.self ?? 0) / CLOCK_TICKS;
}

/** Children's CPU this process has reaped so far, ticks. */
export function reapedTicks(): number {
  return readStat('self')?.children ?? 0;
}

/**
 * Follows the descendants of one process through /proc. New pids are looked at once (their
 * parent decides whether they belong to the tree); pids that leave /proc are forgotten, so a
 * reused pid is looked at afresh.
 */
class ProcessTree {
  private readonly members = new Set<number>();
  private readonly strangers = new Set<number>();

  constructor(private readonly root: number) {
    this.members.add(root);
  }

  /** Live members (the root first), with their stat. */
  scan(): { pid: number; stat: Stat }[] {
    const present = new Set<number>();
    const fresh: number[] = [];
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      present.add(pid);
      if (!this.members.has(pid) && !this.strangers.has(pid)) fresh.push(pid);
    }
    for (const set of [this.members, this.strangers]) for (const pid of set) if (!present.has(pid) && pid !== this.root) set.delete(pid);
    const live: { pid: number; stat: Stat }[] = [];
    // Parents are usually older, i.e. smaller pids; a child seen before its parent is caught next time.
    fresh.sort((a, b) => a - b);
    for (const pid of fresh) {
      const stat = readStat(pid);
      if (!stat) continue;
      if (this.members.has(stat.ppid)) this.members.add(pid);
      else this.strangers.add(pid);
    }
    for (const pid of this.members) {
      const stat = readStat(pid);
      if (stat) live.push({ pid, stat });
      else if (pid !== this.root) this.members.delete(pid);
    }
    return live;
  }
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  intervalMs?: number;
  /** Print the command's stdout, or write it to an open file descriptor (default: ignored). */
  stdout?: 'inherit' | 'ignore' | number;
  cwd?: string;
}

export function measureCommand(command: string, args: string[], options: MeasureOptions = {}): Promise<RunCost> {
  return new Promise((resolve, reject) => {
    const reapedBefore = reapedTicks();
    const machineBefore = machineBusyTicks();
    const startedAt = Date.now();
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
    const tree = child.pid === undefined ? undefined : new ProcessTree(child.pid);
    const samples: Sample[] = [];
    let peakTreePages = 0;
    let peakRoot = 0;
    const sample = () => {
      if (!tree || child.pid === undefined) return;
      const live = tree.scan();
      let pages = 0;
      let ticks = reapedTicks() - reapedBefore;
      let rootSelf = 0;
      let rootPages = 0;
      for (const { pid, stat } of live) {
        pages += stat.rssPages;
        ticks += stat.self + stat.children;
        if (pid === child.pid) [rootSelf, rootPages] = [stat.self, stat.rssPages];
      }
      if (live.length === 0) return;
      peakTreePages = Math.max(peakTreePages, pages);
      peakRoot = Math.max(peakRoot, peakRssMiB(child.pid) ?? 0);
      samples.push({ t: Number(process.hrtime.bigint() - started) / 1e6, cpu: ticks / CLOCK_TICKS, rootCpu: rootSelf / CLOCK_TICKS, treeRssMiB: (pages * PAGE_BYTES) / 2 ** 20, rootRssMiB: (rootPages * PAGE_BYTES) / 2 ** 20 });
    };
    const timer = setInterval(sample, options.intervalMs ?? 100);
    child.on('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpuSeconds = (reapedTicks() - reapedBefore) / CLOCK_TICKS;
      const machineAfter = machineBusyTicks();
      samples.push({ t: wallSeconds * 1000, cpu: cpuSeconds, rootCpu: samples.at(-1)?.rootCpu ?? 0, treeRssMiB: 0, rootRssMiB: 0 });
      resolve({
        wallSeconds,
        cpuSeconds,
        peakTreeRssMiB: (peakTreePages * PAGE_BYTES) / 2 ** 20,
        peakRootRssMiB: peakRoot,
        othersCpuSeconds: Math.max(0, (machineAfter - machineBefore) / CLOCK_TICKS - cpuSeconds),
        exitCode: code ?? (signal ? -1 : null),
        startedAt,
        samples,
        stderrTail: stderr,
      });
    });
  });
}

/** Linear interpolation of the CPU curve at `t` ms. */
export function cpuAt(samples: Sample[], t: number, key: 'cpu' | 'rootCpu' = 'cpu'): number {
  if (samples.length === 0) return 0;
  if (t <= samples[0]!.t) return (samples[0]![key] * t) / Math.max(1, samples[0]!.t);
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (t <= b.t) return a[key] + ((b[key] - a[key]) * (t - a.t)) / Math.max(1e-9, b.t - a.t);
  }
  return samples.at(-1)![key];
}
