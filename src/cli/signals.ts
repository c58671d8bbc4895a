/**
 * Ctrl-C handling owned by vidpipe (listr2's own handler would call process.exit and leave
 * ffmpeg running and the job marked running). The first SIGINT/SIGTERM aborts the job: ffmpeg
 * children are terminated, temporary files removed, the job marked interrupted. A second
 * one exits at once.
 */
export function installInterruptHandler(onFirst: () => void, write: (text: string) => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1) {
      write(`\nvidpipe: ${signal} received, stopping (press Ctrl-C again to force)…`);
      onFirst();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
