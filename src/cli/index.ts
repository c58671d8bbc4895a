import { CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE, isVidpipeError } from '../errors.js';
import {
  parseListOptions,
  parseMetricsOptions,
  parseReportOptions,
  parseSampleOptions,
  parseServeOptions,
  parseStatusOptions,
  parseValidateOptions,
  parseWatchOptions,
  parseWorkerOptions,
} from '../settings/command-options.js';
import { parseTranscodeOptions } from '../settings/job-settings.js';
import { createProgram } from './program.js';
import { processIO, type CliIO } from './io.js';
import { runTranscode } from './commands/transcode.js';
import { runDoctor } from './commands/doctor.js';
import { runSample } from './commands/sample.js';
import { runList } from './commands/list.js';
import { runShow } from './commands/show.js';
import { runServe } from './commands/serve.js';
import { runMetrics } from './commands/metrics.js';
import { runReport } from './commands/report.js';
import { runValidate } from './commands/validate.js';
import { runWatch } from './commands/watch.js';
import { runWorker } from './commands/worker.js';
import { runStatus } from './commands/status.js';
import { defaultDatabasePath } from '../db/database.js';

/**
 * The CLI entry: parse arguments, run the command, and map whatever escaped to an exit
 * code in this one place (VidpipeError → its code, usage errors → 2, anything else → 1).
 * Each command gets its options already converted and checked by its option table (src/settings).
 */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const state: { exitCode?: number } = {};
  const dbOf = (db?: string) => db ?? defaultDatabasePath(io.env);
  const program = createProgram(
    {
      transcode: (inputs, options, global) => runTranscode(inputs, parseTranscodeOptions(options), global, io),
      doctor: (global) => runDoctor(global, io),
      sample: (output, options, global) => runSample(output, parseSampleOptions(options), global, io),
      list: async (options, global) => {
        runList({ db: dbOf(global.db), json: global.json, limit: parseListOptions(options).limit }, io);
        return 0;
      },
      show: async (id, global) => {
        runShow({ db: dbOf(global.db), json: global.json, id }, io);
        return 0;
      },
      serve: (dir, options, global) => runServe(dir, parseServeOptions(options), global, io),
      metrics: (id, options, global) => runMetrics(id, parseMetricsOptions(options), { ...global, dbPath: dbOf(global.db) }, io),
      report: (target, options, global) => runReport(target, parseReportOptions(options), { ...global, dbPath: dbOf(global.db) }, io),
      validate: (target, options, global) => runValidate(target, parseValidateOptions(options), global, io),
      watch: (target, options, global) => runWatch(target, { ...parseTranscodeOptions(options), watch: parseWatchOptions(options) }, global, io),
      worker: (options, global) => runWorker(parseWorkerOptions(options), global, io),
      status: (jobId, options, global) => runStatus(jobId, parseStatusOptions(options), global, io),
    },
    state,
  );
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode ?? 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return EXIT_USAGE;
    }
    if (isVidpipeError(error)) {
      const global = program.opts<{ json?: boolean }>();
      if (global.json) io.stdout(JSON.stringify({ status: 'failed', error: { code: error.code, message: error.message, hint: error.hint } }));
      io.stderr(`vidpipe: ${error.message}`);
      if (error.hint) io.stderr(`  hint: ${error.hint}`);
      if (error.stderrTail) io.stderr(error.stderrTail.split('\n').map((l) => `  ffmpeg: ${l}`).join('\n'));
      return error.exitCode;
    }
    io.stderr(`vidpipe: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    io.stderr('  this is a bug in vidpipe; please report it with the command you ran');
    return EXIT_FAILURE;
  }
}
