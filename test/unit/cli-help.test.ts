/**
 * Every command's --help, checked against the command table it is built from: its options
 * with their defaults, the global options it reads, and examples that really parse.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { createProgram, type CommandHandlers } from '../../src/cli/program.js';
import { COMMANDS, PROGRAM_EXAMPLES, type CommandSpec } from '../../src/cli/command-table.js';
import { GLOBAL_OPTIONS } from '../../src/settings/command-options.js';
import { createRequire } from 'node:module';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

/** A program whose handlers record the call, and whose output is captured. */
function programWithCapture() {
  const calls: { command: string; args: unknown[] }[] = [];
  const handlers = new Proxy({}, { get: (_t, command: string) => async (...args: unknown[]) => (calls.push({ command, args }), 0) }) as CommandHandlers;
  const program = createProgram(handlers);
  let output = '';
  const capture = (command: Command) => command.configureOutput({ writeOut: (text) => void (output += text), writeErr: (text) => void (output += text) });
  capture(program);
  program.commands.forEach(capture);
  return { program, calls, output: () => output };
}

function helpOf(name: string): string {
  const { program, output } = programWithCapture();
  program.commands.find((command) => command.name() === name)!.outputHelp();
  return output();
}

/** Help text with line wrapping undone, so descriptions can be found whole. */
const unwrapped = (text: string) => text.replace(/\s+/g, ' ');

/** The long names listed in one section ("Global Options:") of a help text. */
function section(help: string, title: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const end = lines.findIndex((line, i) => i > start && line.trim() === '');
  return lines.slice(start + 1, end < 0 ? undefined : end).flatMap((line) => /^ {2}(?:-\w, )?--([\w-]+)/.exec(line)?.[1] ?? []);
}

const specs: CommandSpec[] = Object.values(COMMANDS);

describe('--help of every command, from the command table', () => {
  it('the program has exactly the commands of the table', () => {
    const { program } = programWithCapture();
    assert.deepEqual(program.commands.map((command) => command.name()).sort(), specs.map((spec) => spec.name).sort());
  });

  for (const spec of specs) {
    it(`vidpipe ${spec.name} --help: its options with defaults, the global options it reads, examples`, () => {
      const help = helpOf(spec.name);
      const flat = unwrapped(help);
      for (const option of spec.options) {
        assert.match(help, new RegExp(`^  ${option.flags.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'), `${spec.name}: ${option.flags}`);
        assert.ok(flat.includes(option.description), `${spec.name} ${option.flags}: "${option.description}"`);
        const shown = option.defaultDescription ?? (typeof option.defaultValue === 'string' ? `"${option.defaultValue}"` : undefined);
        // commander writes "(default: x)", or "(default: x, env: Y)" when there is both.
        if (shown !== undefined) assert.ok(flat.includes(`(default: ${shown}${option.env ? `, env: ${option.env})` : ')'}`), `${spec.name} ${option.flags} default`);
        if (option.env) assert.ok(flat.includes(`env: ${option.env}`), `${spec.name} ${option.flags} env`);
      }
      assert.deepEqual(section(help, 'Global Options'), spec.globals, `${spec.name}: the global options it reads, and only those`);
      const examples = help.slice(help.indexOf('\nExamples:\n'));
      assert.ok(spec.examples.length >= 2, `${spec.name} has at least two examples`);
      for (const example of spec.examples) assert.ok(unwrapped(examples).includes(`$ ${example.command}`), `${spec.name}: ${example.command}`);
    });
  }

  it('every example is a command line that parses into its command', async () => {
    for (const example of [...specs.flatMap((spec) => spec.examples.map((e) => ({ ...e, name: spec.name }))), ...PROGRAM_EXAMPLES.map((e) => ({ ...e, name: e.command.split(' ')[1]! }))]) {
      const { program, calls } = programWithCapture();
      const [bin, ...argv] = example.command.split(' ');
      assert.equal(bin, 'vidpipe');
      await program.parseAsync(argv, { from: 'user' });
      assert.equal(calls.length, 1, example.command);
      assert.equal(calls[0]!.command, example.name, example.command);
    }
  });

  it('every global option is declared for at least one command, and each one a command reads exists', () => {
    const names = GLOBAL_OPTIONS.map((option) => /--([\w-]+)/.exec(option.flags)![1]);
    for (const spec of specs) for (const global of spec.globals) assert.ok(names.includes(global), `${spec.name}: ${global}`);
    for (const name of names) assert.ok(specs.some((spec) => (spec.globals as string[]).includes(name)), name);
  });

  it('watch lists --queue (its uploads run on workers) but not --detach, which it refuses', async () => {
    const sections = section(helpOf('watch'), 'Options');
    assert.ok(sections.includes('queue'));
    assert.ok(!sections.includes('detach'));
    const { program } = programWithCapture();
    await assert.rejects(program.parseAsync(['watch', 'bucket', '--detach'], { from: 'user' }), (e: { code: string }) => e.code === 'commander.unknownOption');
  });

  it('-v and --version print the version, and the program help has examples', async () => {
    for (const flag of ['-v', '--version']) {
      const { program, output } = programWithCapture();
      await assert.rejects(program.parseAsync([flag], { from: 'user' }), (e: { code: string }) => e.code === 'commander.version');
      assert.equal(output(), `${version}\n`);
    }
    const { program, output } = programWithCapture();
    program.outputHelp();
    assert.deepEqual(section(output(), 'Options'), ['version', ...GLOBAL_OPTIONS.map((o) => /--([\w-]+)/.exec(o.flags)![1]), 'help']);
    for (const example of PROGRAM_EXAMPLES) assert.ok(output().includes(`$ ${example.command}`));
  });
});
