import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { GLOBAL_OPTIONS, TRANSCODE_OPTIONS, type OptionSpec, type RawTranscodeOptions } from './options.js';
import type { SampleOptions } from './commands/sample.js';

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
