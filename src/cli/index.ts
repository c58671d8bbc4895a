import { CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE, isVidpipeError } from '../errors.js';
import {
  parseAddTrackOptions,
  parseEventsOptions,
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
import { printable, processIO, type CliIO } from './io.js';
import { defaultDatabasePath } from '../db/location.js';

/**
 * The CLI entry: parse arguments, run the command, and map whatever escaped to an exit
 * code in this one place (VidpipeError → its code, usage errors → 2, anything else → 1).
 * Each command gets its options already converted and checked by its option table (src/settings).
 */
/**
 * Each command's module is loaded when that command runs: `--version`, `--help` and a local
 * transcode do not load the queue (BullMQ, ioredis) or the AWS SDK, which cost start-up time
 * and tens of MB of memory for every job.
 */
const commands = {
  transcode: () => import('./commands/transcode.js'),
  addTrack: () => import('./commands/add-track.js'),
  doctor: () => import('./commands/doctor.js'),
  sample: () => import('./commands/sample.js'),
  list: () => import('./commands/list.js'),
  show: () => import('./commands/show.js'),
  serve: () => import('./commands/serve.js'),
  metrics: () => import('./commands/metrics.js'),
  report: () => import('./commands/report.js'),
  validate: () => import('./commands/validate.js'),
  watch: () => import('./commands/watch.js'),
  worker: () => import('./commands/worker.js'),
  status: () => import('./commands/status.js'),
  events: () => import('./commands/events.js'),
};

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const state: { exitCode?: number } = {};
  const dbOf = (db?: string) => db ?? defaultDatabasePath(io.env);
  const program = createProgram(
    {
      transcode: async (inputs, options, global) => (await commands.transcode()).runTranscode(inputs, parseTranscodeOptions(options), global, io),
      'add-track': async (target, options, global) => (await commands.addTrack()).runAddTrackCommand(target, parseAddTrackOptions(options), { ...global, db: dbOf(global.db) }, io),
      doctor: async (global) => (await commands.doctor()).runDoctor(global, io),
      sample: async (output, options, global) => (await commands.sample()).runSample(output, parseSampleOptions(options), global, io),
      list: async (options, global) => {
        await (await commands.list()).runList({ db: dbOf(global.db), json: global.json, limit: parseListOptions(options).limit }, io);
        return 0;
      },
      show: async (id, global) => {
        await (await commands.show()).runShow({ db: dbOf(global.db), json: global.json, id }, io);
        return 0;
      },
      serve: async (dir, options, global) =>
        dir === undefined
          ? (await commands.serve()).runServeCatalogue(parseServeOptions(options), { ...global, db: dbOf(global.db) }, io)
          : (await commands.serve()).runServe(dir, parseServeOptions(options), global, io),
      metrics: async (id, options, global) => (await commands.metrics()).runMetrics(id, parseMetricsOptions(options), { ...global, dbPath: dbOf(global.db) }, io),
      report: async (target, options, global) => (await commands.report()).runReport(target, parseReportOptions(options), { ...global, dbPath: dbOf(global.db) }, io),
      validate: async (target, options, global) => (await commands.validate()).runValidate(target, parseValidateOptions(options), global, io),
      watch: async (target, options, global) => (await commands.watch()).runWatch(target, { ...parseTranscodeOptions(options, { keysWithoutScheme: true }), watch: parseWatchOptions(options) }, global, io),
      worker: async (options, global) => (await commands.worker()).runWorker(parseWorkerOptions(options), global, io),
      status: async (jobId, options, global) => (await commands.status()).runStatus(jobId, parseStatusOptions(options), global, io),
      events: async (action, options, global) => (await commands.events()).runEvents(action, parseEventsOptions(options), { ...global, dbPath: dbOf(global.db) }, io),
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
      io.stderr(`vidpipe: ${printable(error.message)}`);
      if (error.hint) io.stderr(`  hint: ${printable(error.hint)}`);
      if (error.stderrTail) io.stderr(error.stderrTail.split('\n').map((l) => `  ffmpeg: ${printable(l)}`).join('\n'));
      return error.exitCode;
    }
    io.stderr(`vidpipe: unexpected error: ${(error instanceof Error ? (error.stack ?? error.message) : String(error)).split('\n').map(printable).join('\n')}`);
    io.stderr('  this is a bug in vidpipe; please report it with the command you ran');
    return EXIT_FAILURE;
  }
}
