import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { GLOBAL_OPTIONS, STATUS_OPTIONS, TRANSCODE_OPTIONS, WATCH_OPTIONS, WORKER_OPTIONS, type OptionSpec, type RawTranscodeOptions, type RawWatchOptions } from './options.js';
import type { SampleOptions } from './commands/sample.js';
import type { RawServeOptions } from './commands/serve.js';
import type { RawMetricsOptions } from './commands/metrics.js';
import type { RawReportOptions } from './commands/report.js';
import type { RawWorkerOptions } from './commands/worker.js';

export interface GlobalOptions {
  ffmpeg?: string;
  ffprobe?: string;
  db?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: string;
}

/** What each command does once its arguments are parsed; injected so parsing is testable alone. */
export interface CommandHandlers {
  transcode: (inputs: string[], options: RawTranscodeOptions, global: GlobalOptions) => Promise<number>;
  doctor: (global: GlobalOptions) => Promise<number>;
  sample: (output: string, options: SampleOptions, global: GlobalOptions) => Promise<number>;
  list: (options: { limit?: string }, global: GlobalOptions) => Promise<number>;
  show: (id: string, global: GlobalOptions) => Promise<number>;
  serve: (dir: string, options: RawServeOptions, global: GlobalOptions) => Promise<number>;
  metrics: (id: string, options: RawMetricsOptions, global: GlobalOptions) => Promise<number>;
  report: (target: string, options: RawReportOptions, global: GlobalOptions) => Promise<number>;
  validate: (target: string, options: { source?: string }, global: GlobalOptions) => Promise<number>;
  watch: (target: string, options: RawWatchOptions, global: GlobalOptions) => Promise<number>;
  worker: (options: RawWorkerOptions, global: GlobalOptions) => Promise<number>;
  status: (jobId: string, options: { redis?: string }, global: GlobalOptions) => Promise<number>;
}

const require = createRequire(import.meta.url);
const { version } = require('../../../package.json') as { version: string };

function addOptions(command: Command, specs: OptionSpec[]): Command {
  for (const spec of specs) {
    const option = new Option(spec.flags, spec.description);
    if (spec.defaultValue !== undefined) option.default(spec.defaultValue);
    if (spec.env) option.env(spec.env);
    if (spec.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    command.addOption(option);
  }
  return command;
}

/**
 * Builds the commander program. `exitOverride` turns commander's own exits into
 * CommanderErrors, so the one top-level catch in src/cli/index.ts decides exit codes.
 */
export function createProgram(handlers: CommandHandlers, result: { exitCode?: number } = {}): Command {
  const program = new Command('vidpipe')
    .description('Transcode video and audio into adaptive-bitrate HLS and DASH (CMAF) packages')
    .version(version)
    .exitOverride()
    .showHelpAfterError('(run vidpipe --help for usage)')
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  addOptions(program, GLOBAL_OPTIONS);
  const global = () => program.opts<GlobalOptions>();
  const done = (code: number) => {
    result.exitCode = code;
  };

  addOptions(
    program.command('transcode').description('transcode files (or s3:// objects) into HLS + DASH packages').argument('<inputs...>', 'media files or s3://bucket/key URIs'),
    TRANSCODE_OPTIONS,
  ).action(async (inputs: string[], options: RawTranscodeOptions) => done(await handlers.transcode(inputs, options, global())));

  program
    .command('doctor')
    .description('show the ffmpeg/ffprobe in use, their versions and the encoders available')
    .action(async () => done(await handlers.doctor(global())));

  program
    .command('sample')
    .description('generate a synthetic test clip with ffmpeg (testsrc2 + tone)')
    .argument('[output]', 'file to write', 'vidpipe-sample.mp4')
    .option('--duration <seconds>', 'length', '12')
    .option('--size <WxH>', 'picture size', '1280x720')
    .option('--rate <fps>', 'frame rate', '30')
    .action(async (output: string, options: SampleOptions) => done(await handlers.sample(output, options, global())));

  program
    .command('list')
    .description('list transcoded videos recorded in the database')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (options: { limit?: string }) => done(await handlers.list(options, global())));

  program
    .command('show')
    .description('show one video: metadata, renditions, outputs and tasks of its latest job')
    .argument('<id>', 'video id (or a unique prefix)')
    .action(async (id: string) => done(await handlers.show(id, global())));

  program
    .command('validate')
    .description('check an HLS/DASH package (any, not only vidpipe\'s) against the HLS and DASH rules; exit 1 when a check fails')
    .argument('<target>', 'package folder, master.m3u8 / media playlist, or manifest.mpd (path or http(s) URL)')
    .option('--source <file>', 'the source file: playlist durations must match its duration')
    .action(async (target: string, options: { source?: string }) => done(await handlers.validate(target, options, global())));

  addOptions(
    program
      .command('watch')
      .description('transcode every upload that appears in a bucket (polling ListObjectsV2, or S3 notifications via SQS)')
      .argument('<bucket>', 'bucket name or s3://bucket/prefix'),
    WATCH_OPTIONS,
  ).action(async (target: string, options: RawWatchOptions) => done(await handlers.watch(target, options, global())));

  addOptions(
    program.command('worker').description('run queued tasks (transcode --queue) from Redis until stopped; needs ffmpeg and S3 access'),
    WORKER_OPTIONS,
  ).action(async (options: RawWorkerOptions) => done(await handlers.worker(options, global())));

  addOptions(
    program.command('status').description('show a queued job (transcode --queue): its tasks, workers, attempts; exit 1 if it failed').argument('<job>', 'job id'),
    STATUS_OPTIONS,
  ).action(async (jobId: string, options: { redis?: string }) => done(await handlers.status(jobId, options, global())));

  program
    .command('serve')
    .description('serve a package on loopback with a player page (hls.js and dash.js), storyboard and job report')
    .argument('<dir>', 'package folder, e.g. out/talk')
    .option('--port <n>', 'TCP port (0: any free port)', '8080')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .action(async (dir: string, options: RawServeOptions) => done(await handlers.serve(dir, options, global())));

  program
    .command('metrics')
    .description('measure PSNR and SSIM of a video\'s published renditions against its source and store them')
    .argument('<id>', 'video id (or a unique prefix)')
    .option('--source <file>', 'the source file, when it moved since the transcode')
    .option('--package <dir>', 'a local copy of the package, when it was published elsewhere')
    .action(async (id: string, options: RawMetricsOptions) => done(await handlers.metrics(id, options, global())));

  program
    .command('report')
    .description('the job report: ladder, measured bit rates, quality metrics, task timeline')
    .argument('<id|dir>', 'video id (or a unique prefix), or a package folder with vidpipe.json')
    .option('--html <file>', 'write it as one self-contained HTML file')
    .action(async (target: string, options: RawReportOptions) => done(await handlers.report(target, options, global())));

  // Global options are accepted after the command too (vidpipe transcode x.mp4 --json).
  for (const command of program.commands) {
    command.exitOverride();
    for (const spec of GLOBAL_OPTIONS) {
      if (!command.options.some((o) => o.flags === spec.flags)) command.addOption(new Option(spec.flags, spec.description).hideHelp());
    }
    command.hook('preAction', (_this, action) => {
      const local = action.opts<Record<string, unknown>>();
      for (const spec of GLOBAL_OPTIONS) {
        const key = new Option(spec.flags).attributeName();
        if (local[key] !== undefined && program.getOptionValueSource(key) !== 'cli') program.setOptionValue(key, local[key]);
      }
    });
  }
  return program;
}
