/** What runs on this machine, read from /proc (Linux): for tests that no child outlives vidpipe. */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  args: string[];
}

/** Live (not zombie) processes with an argument that contains `text`. */
export function processesMentioning(text: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (args.some((arg) => arg.includes(text))) found.push({ pid, args });
    } catch {
      // Exited while being read.
    }
  }
  return found;
}

/** Waits until no live process mentions `text`, for at most `timeoutMs`; returns those left. */
export async function waitUntilNoneMention(text: string, timeoutMs: number): Promise<ProcessInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processesMentioning(text);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
