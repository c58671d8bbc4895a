import { startServer } from '../../serve/server.js';
import type { GlobalOptions, ServeOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';
import { installInterruptHandler } from '../signals.js';

/** `vidpipe serve <dir>`: serves a package and its player page until Ctrl-C. */
export async function runServe(dir: string, options: ServeOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  const running = await startServer({ dir, port: options.port, host: options.host, clearKeys: options.clearKeys });
  if (global.json) io.stdout(JSON.stringify({ url: running.url, dir }));
  else io.stdout(`vidpipe: serving ${dir} at ${running.url}  (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const uninstall = installInterruptHandler(() => {
      uninstall();
      void running.close().then(resolve);
    }, () => undefined);
  });
  if (!global.quiet) io.stderr('vidpipe: server stopped');
  return 0;
}
