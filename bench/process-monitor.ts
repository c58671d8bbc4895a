import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** What one measured command cost. */
export interface RunCost {
  wallSeconds: number;
  /** User + system CPU of the command and every child it waited for. */
  cpuSeconds: number;
  /** Highest sum of resident memory over the command's whole process tree, MiB. */
  peakRssMiB: number;
  exitCode: number | null;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux
const PAGE_KIB = 4;

function readStat(pid: number): { ppid: number; cpuTicks: number; rssPages: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: split after its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const num = (i: number) => Number(fields[i - 3]);
    return { ppid: num(4), cpuTicks: num(14) + num(15) + num(16) + num(17), rssPages: num(24) };
  } catch {
    return undefined;
  }
}

function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * Runs a command (argument array, no shell) and samples /proc every `intervalMs`: CPU is the
 * root's own time plus the time of children it reaped (cutime/cstime) plus live children,
 * taken at the last sample; memory is the peak of the summed RSS of the process tree.
 * Linux only.
 */
export function measureCommand(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; intervalMs?: number; quiet?: boolean } = {}): Promise<RunCost> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', options.quiet === false ? 'inherit' : 'ignore', 'pipe'], env: options.env ?? process.env });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    let lastCpuTicks = 0;
    let peakPages = 0;
    const liveCpu = new Map<number, number>();
    const sample = () => {
      if (child.pid === undefined) return;
      const root = readStat(child.pid);
      if (!root) return;
      let pages = root.rssPages;
      let liveTicks = 0;
      for (const pid of descendants(child.pid)) {
        const stat = readStat(pid);
        if (!stat) continue;
        pages += stat.rssPages;
        // Only own time of live children: their own children's time shows in their cutime once reaped.
        liveTicks += stat.cpuTicks;
        liveCpu.set(pid, stat.cpuTicks);
      }
      peakPages = Math.max(peakPages, pages);
      lastCpuTicks = Math.max(lastCpuTicks, root.cpuTicks + liveTicks);
    };
    const timer = setInterval(sample, options.intervalMs ?? 50);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) process.stderr.write(`bench: ${command} exited ${code}\n${stderr}\n`);
      resolve({ wallSeconds, cpuSeconds: lastCpuTicks / CLOCK_TICKS, peakRssMiB: (peakPages * PAGE_KIB) / 1024, exitCode: code });
    });
  });
}
