import { VidpipeError } from '../../errors.js';
import { startServer } from '../../serve/server.js';
import type { CliIO } from '../io.js';
import type { GlobalOptions } from '../program.js';
import { installInterruptHandler } from '../signals.js';

export interface RawServeOptions {
  port: string;
  host: string;
}

/** `vidpipe serve <dir>`: serves a package and its player page until Ctrl-C. */
export async function runServe(dir: string, raw: RawServeOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  const port = Number(raw.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new VidpipeError('USAGE', `--port: "${raw.port}" is not a port number (0–65535)`);
  const running = await startServer({ dir, port, host: raw.host });
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
