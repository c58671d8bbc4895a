import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { GLOBAL_OPTIONS, parseGlobalOptions, type GlobalOptions } from '../settings/command-options.js';
import type { OptionSpec } from '../settings/option.js';
import { COMMANDS, PROGRAM_EXAMPLES, type CommandName, type CommandSpec, type Example } from './command-table.js';
import { printable, terminalSafe } from './io.js';

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
  'add-track': (target: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  doctor: (global: GlobalOptions) => Promise<number>;
  sample: (output: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  list: (options: OptionValues, global: GlobalOptions) => Promise<number>;
  show: (id: string, global: GlobalOptions) => Promise<number>;
  serve: (dir: string | undefined, options: OptionValues, global: GlobalOptions) => Promise<number>;
  metrics: (id: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  report: (target: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  validate: (target: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  watch: (target: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  worker: (options: OptionValues, global: GlobalOptions) => Promise<number>;
  status: (jobId: string, options: OptionValues, global: GlobalOptions) => Promise<number>;
  events: (action: string | undefined, options: OptionValues, global: GlobalOptions) => Promise<number>;
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
  return command.addHelpText('after', `${formatExamples(spec.examples)}\n-- ends the options: what follows it is read as arguments, even a name that starts with a dash.\n`);
}

/** commander's own test for a negative number, which it takes as an operand rather than an option. */
const NEGATIVE_NUMBER = /^-(\d+|\d*\.\d+)([eE][+-]?\d+)?$/;

/**
 * Refuses an argument of one dash and more than one letter (`-version.mp4`, `-x.mp4`, `-vfoo`,
 * `-out.mp4`) before any option acts. commander reads such an argument as a group of short
 * options and acts on the first letter it knows at once, so `-version.mp4` printed the version
 * and exited 0 without reading the rest, and `-out.mp4` became `-o ut.mp4`: a file whose name
 * starts with a dash was taken for options. vidpipe's short options are one letter each, written
 * apart (`-q -o dir`); a value that starts with a dash is read where an option expects one, and
 * everything after `--` is an operand.
 */
function refuseGluedShortOptions(program: Command, args: readonly string[]): void {
  const commandName = args.find((arg, i) => !arg.startsWith('-') && !takesValue(program.options, args[i - 1], arg));
  const command = program.commands.find((c) => c.name() === commandName || c.aliases().includes(commandName ?? ''));
  const options = [...program.options, ...(command?.options ?? [])];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return;
    if (takesValue(options, arg, args[i + 1])) {
      i++;
      continue;
    }
    const knownShort = arg === '-h' || options.some((o) => o.short === arg);
    if (/^-[^-]/.test(arg) && !knownShort && !NEGATIVE_NUMBER.test(arg)) {
      // `-o/srv/out` is most likely an option glued to its value; it could also be a file's name.
      const gluedTo = options.find((o) => o.short === arg.slice(0, 2) && (o.required || o.optional));
      const asFile = `put it after --, which ends the options: vidpipe ${command?.name() ?? '<command>'} -- ${printable(arg)}`;
      program.error(
        gluedTo
          ? `error: '${printable(arg)}' is not an option: write ${gluedTo.short} ${printable(arg.slice(2))} (an option and its value are written apart).\n` +
              `If it is a file, write ./${printable(arg)}, or ${asFile}`
          : `error: '${printable(arg)}' is not an option (vidpipe's short options are one letter each, written apart: -q -o <dir>).\n` +
              `If it is a file, write ./${printable(arg)}, or ${asFile}`,
        { exitCode: 2, code: 'vidpipe.notAnOption' },
      );
    }
  }
}

/** Whether `arg` is exactly an option of `options` that reads `next` as its value (commander's rule: an optional value is never one that starts with a dash). */
function takesValue(options: readonly Option[], arg: string | undefined, next: string | undefined): boolean {
  const option = arg === undefined ? undefined : options.find((o) => o.short === arg || o.long === arg);
  return option !== undefined && (option.required || (option.optional && next !== undefined && !next.startsWith('-')));
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
    .configureOutput({ writeOut: (text) => process.stdout.write(terminalSafe(text)), writeErr: (text) => process.stderr.write(terminalSafe(text)) })
    .addHelpText('after', `${formatExamples(PROGRAM_EXAMPLES)}\n-- ends the options: vidpipe transcode -- -clip.mp4 reads a file whose name starts with a dash (so does ./-clip.mp4).\nEvery command has its own help: vidpipe <command> --help. Reference: ${DOCS_URL}\n`);
  addOptions(program, GLOBAL_OPTIONS);
  // The program parses first and sees every argument, subcommands' included.
  const parseOptions = program.parseOptions.bind(program);
  program.parseOptions = (args: string[]) => {
    refuseGluedShortOptions(program, args);
    return parseOptions(args);
  };
  const global = () => parseGlobalOptions(program.opts());
  const done = (code: number) => {
    result.exitCode = code;
  };

  defineCommand(program, 'transcode').action(async (inputs: string[], options: OptionValues) => done(await handlers.transcode(inputs, options, global())));
  defineCommand(program, 'add-track').action(async (target: string, options: OptionValues) => done(await handlers['add-track'](target, options, global())));
  defineCommand(program, 'doctor').action(async () => done(await handlers.doctor(global())));
  defineCommand(program, 'sample').action(async (output: string, options: OptionValues) => done(await handlers.sample(output, options, global())));
  defineCommand(program, 'list').action(async (options: OptionValues) => done(await handlers.list(options, global())));
  defineCommand(program, 'show').action(async (id: string) => done(await handlers.show(id, global())));
  defineCommand(program, 'validate').action(async (target: string, options: OptionValues) => done(await handlers.validate(target, options, global())));
  defineCommand(program, 'watch').action(async (target: string, options: OptionValues) => done(await handlers.watch(target, options, global())));
  defineCommand(program, 'worker').action(async (options: OptionValues) => done(await handlers.worker(options, global())));
  defineCommand(program, 'status').action(async (jobId: string, options: OptionValues) => done(await handlers.status(jobId, options, global())));
  defineCommand(program, 'events').action(async (action: string | undefined, options: OptionValues) => done(await handlers.events(action, options, global())));
  defineCommand(program, 'serve').action(async (dir: string | undefined, options: OptionValues) => done(await handlers.serve(dir, options, global())));
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
