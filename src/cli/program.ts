import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { GLOBAL_OPTIONS, parseGlobalOptions, type GlobalOptions } from '../settings/command-options.js';
import type { OptionSpec } from '../settings/option.js';
import { COMMANDS, PROGRAM_EXAMPLES, type CommandName, type CommandSpec, type Example } from './command-table.js';

/** The reference documentation, for the end of vidpipe --help. */
export const DOCS_URL = 'https://github.com/vidpipe/vidpipe/tree/main/docs';

/** What commander hands a command: its option values by attribute name, as typed (the command parses them with its table). */
export type OptionValues = Record<string, unknown>;

/**
 * What each command does once its arguments are parsed; injected so parsing is testable alone
 * (src/cli/index.ts wires the command functions in).
 */
export interface CommandHandlers {
  transcode: (inputs: string[], options: OptionValues, global: GlobalOptions) => Promise<number>;
  doctor: (global: GlobalOptions) => Promise<number>;
  sample: (output: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  list: (options: OptionValues, global: GlobalOptions) => Promise<number>;
  show: (id: string, global: GlobalOptions) => Promise<number>;
  serve: (dir: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  metrics: (id: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  report: (target: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  validate: (target: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  watch: (target: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  worker: (options: OptionValues, global: GlobalOptions) => Promise<number>;
  status: (jobId: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
}

const require = createRequire(import.meta.url);
const { version } = require('../../../package.json') as { version: string };

function addOptions(command: Command, specs: OptionSpec[]): Command {
  for (const spec of specs) {
    const option = new Option(spec.flags, spec.description);
    if (spec.defaultValue !== undefined) option.default(spec.defaultValue, spec.defaultDescription);
    if (spec.env) option.env(spec.env);
    if (spec.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    command.addOption(option);
  }
  return command;
}

/** The examples section of a --help: each command line, then what it does. */
export function formatExamples(examples: Example[]): string {
  const width = Math.max(...examples.map((example) => example.command.length));
  return `\nExamples:\n${examples.map((example) => `  $ ${example.command.padEnd(width)}  # ${example.does}`).join('\n')}\n`;
}

/** A command from its table entry: arguments, options, the global options it reads (shown in its help) and examples. */
function defineCommand(program: Command, name: CommandName): Command {
  const spec: CommandSpec = COMMANDS[name];
  const command = program.command(spec.name).description(spec.description);
  for (const argument of spec.arguments) command.argument(argument.syntax, argument.description, argument.defaultValue);
  addOptions(command, spec.options);
  command.configureHelp({
    showGlobalOptions: true,
    visibleGlobalOptions: () => spec.globals.map((global) => program.options.find((option) => option.long === `--${global}`)!),
  });
  return command.addHelpText('after', formatExamples(spec.examples));
}

/**
 * Builds the commander program from the command table (src/cli/command-table.ts).
 * `exitOverride` turns commander's own exits into CommanderErrors, so the one top-level catch
 * in src/cli/index.ts decides exit codes.
 */
export function createProgram(handlers: CommandHandlers, result: { exitCode?: number } = {}): Command {
  const program = new Command('vidpipe')
    .description('Transcode video and audio into adaptive-bitrate HLS and DASH (CMAF) packages')
    .version(version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .showHelpAfterError('(run vidpipe --help for usage)')
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .addHelpText('after', `${formatExamples(PROGRAM_EXAMPLES)}\nEvery command has its own help: vidpipe <command> --help. Reference: ${DOCS_URL}\n`);
  addOptions(program, GLOBAL_OPTIONS);
  const global = () => parseGlobalOptions(program.opts());
  const done = (code: number) => {
    result.exitCode = code;
  };

  defineCommand(program, 'transcode').action(async (inputs: string[], options: OptionValues) => done(await handlers.transcode(inputs, options, global())));
  defineCommand(program, 'doctor').action(async () => done(await handlers.doctor(global())));
  defineCommand(program, 'sample').action(async (output: string, options: OptionValues) => done(await handlers.sample(output, options, global())));
  defineCommand(program, 'list').action(async (options: OptionValues) => done(await handlers.list(options, global())));
  defineCommand(program, 'show').action(async (id: string) => done(await handlers.show(id, global())));
  defineCommand(program, 'validate').action(async (target: string, options: OptionValues) => done(await handlers.validate(target, options, global())));
  defineCommand(program, 'watch').action(async (target: string, options: OptionValues) => done(await handlers.watch(target, options, global())));
  defineCommand(program, 'worker').action(async (options: OptionValues) => done(await handlers.worker(options, global())));
  defineCommand(program, 'status').action(async (jobId: string, options: OptionValues) => done(await handlers.status(jobId, options, global())));
  defineCommand(program, 'serve').action(async (dir: string, options: OptionValues) => done(await handlers.serve(dir, options, global())));
  defineCommand(program, 'metrics').action(async (id: string, options: OptionValues) => done(await handlers.metrics(id, options, global())));
  defineCommand(program, 'report').action(async (target: string, options: OptionValues) => done(await handlers.report(target, options, global())));

  // Global options are accepted after the command too (vidpipe transcode x.mp4 --json).
  for (const command of program.commands) {
    command.exitOverride();
    command.helpOption('-h, --help', 'show this help');
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
