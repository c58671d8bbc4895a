import { openMetadata, printableMetadataTarget } from '../../db/engines.js';
import { startCatalogueServer } from '../../serve/catalogue.js';
import { startServer, type RunningServer } from '../../serve/server.js';
import type { GlobalOptions, ServeOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';
import { installInterruptHandler } from '../signals.js';

/** `vidpipe serve <dir>`: serves a package and its player page until Ctrl-C. */
export async function runServe(dir: string, options: ServeOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  const running = await startServer({ dir, port: options.port, host: options.host, clearKeys: options.clearKeys });
  if (global.json) io.stdout(JSON.stringify({ url: running.url, dir }));
  else io.stdout(`vidpipe: serving ${dir} at ${running.url}  (Ctrl-C to stop)`);
  return untilInterrupted(running, global, io);
}

/** `vidpipe serve --db <target>` (no folder): every published video of the metadata records, until Ctrl-C. */
export async function runServeCatalogue(options: ServeOptions, global: GlobalOptions & { db: string }, io: CliIO): Promise<number> {
  // Opening checks the database at once: an unreachable server fails here (exit 1, its host and reason), not on the first page.
  const db = await openMetadata(global.db);
  try {
    const shown = printableMetadataTarget(global.db);
    const running = await startCatalogueServer({
      db,
      title: shown,
      storage: { s3: { endpoint: options.s3Endpoint, region: options.s3Region, timeoutSeconds: options.s3TimeoutSeconds } },
      port: options.port,
      host: options.host,
      clearKeys: options.clearKeys,
    });
    if (global.json) io.stdout(JSON.stringify({ url: running.url, db: shown }));
    else io.stdout(`vidpipe: serving the videos of ${shown} at ${running.url}  (Ctrl-C to stop)`);
    return await untilInterrupted(running, global, io);
  } finally {
    await db.close();
  }
}

async function untilInterrupted(running: RunningServer, global: GlobalOptions, io: CliIO): Promise<number> {
  await new Promise<void>((resolve) => {
    const uninstall = installInterruptHandler(() => {
      uninstall();
      void running.close().then(resolve);
    }, () => undefined);
  });
  if (!global.quiet) io.stderr('vidpipe: server stopped');
  return 0;
}
