/**
 * The reaper process of child-guard.ts, for systems without setpriv --pdeathsig. Its stdin is a
 * pipe from vidpipe carrying "+<pid>" when a child starts and "-<pid>" when it exited. The pipe
 * closes when vidpipe ends in any way (kill -9 included: the kernel closes its descriptors); the
 * reaper then SIGKILLs the children still listed and exits.
 */
const pids = new Set<number>();

// Ctrl-C, a closed terminal or a stop of the whole process group reach the reaper too: vidpipe
// decides what happens to its children, and the reaper outlives it to catch what it leaves.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);

let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const pid = Number(line.slice(1));
    if (!Number.isInteger(pid) || pid <= 0) continue;
    if (line.startsWith('+')) pids.add(pid);
    else if (line.startsWith('-')) pids.delete(pid);
  }
});

const reap = () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited meanwhile.
    }
  }
  process.exit(0);
};
process.stdin.on('end', reap);
process.stdin.on('close', reap);
process.stdin.on('error', reap);
