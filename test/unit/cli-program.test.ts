import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProgram, type CommandHandlers } from '../../src/cli/program.js';
import { parseTranscodeOptions, TRANSCODE_OPTIONS } from '../../src/settings/job-settings.js';
import { GLOBAL_OPTIONS } from '../../src/settings/command-options.js';
import { tagsOf } from '../../src/settings/option.js';
import { chooseProgressMode } from '../../src/cli/reporters/reporter.js';
import { batchExitCode } from '../../src/cli/commands/transcode.js';
import type { TranscodeResult } from '../../src/core/result.js';
import { COMMANDS } from '../../src/cli/command-table.js';

/** Parses argv with handlers that only record what they were given. */
async function parse(argv: string[]) {
  const calls: { command: string; args: unknown[] }[] = [];
  const record = (command: string) => async (...args: unknown[]) => {
    calls.push({ command, args });
    return 0;
  };
  const handlers = { transcode: record('transcode'), doctor: record('doctor'), sample: record('sample'), list: record('list'), show: record('show') } as unknown as CommandHandlers;
  const program = createProgram(handlers);
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  await program.parseAsync(argv, { from: 'user' });
  return calls;
}

describe('command-line parsing', () => {
  it('parses transcode inputs, defaults and flags without spawning a process', async () => {
    const [call] = await parse(['transcode', 'a.mp4', 'b.mov', '--ladder', '720p,360p', '--preset', 'fast', '--tag', 'k=v', '--tag', 'x=y']);
    assert.equal(call!.command, 'transcode');
    const [inputs, options] = call!.args as [string[], Record<string, unknown>];
    assert.deepEqual(inputs, ['a.mp4', 'b.mov']);
    assert.equal(options.out, 'vidpipe-out');
    assert.equal(options.segmentDuration, '6');
    assert.deepEqual(options.tag, ['k=v', 'x=y']);
    assert.equal(options.thumbnails, true);
  });

  it('accepts global options after the command', async () => {
    const [call] = await parse(['transcode', 'a.mp4', '--json', '--db', '/tmp/x.db', '--no-thumbnails']);
    const [, options, global] = call!.args as [string[], Record<string, unknown>, Record<string, unknown>];
    assert.equal(global.json, true);
    assert.equal(global.db, '/tmp/x.db');
    assert.equal(options.thumbnails, false);
  });

  it('turns unknown options into a CommanderError (exit 2 in the entry point)', async () => {
    await assert.rejects(parse(['transcode', 'a.mp4', '--nope']), (e: { code: string }) => e.code === 'commander.unknownOption');
  });

  it('refuses a name that starts with a dash before any option acts (exit 2, no version printed, no command run), for every command', async () => {
    const names = ['-version.mp4', '-x.mp4', '-vfoo', '-hx', '-vq', '-qx', '-out.mp4', '-x'];
    for (const command of [undefined, ...Object.keys(COMMANDS)]) {
      for (const name of names) {
        const calls: string[] = [];
        let printed = '';
        const handlers = new Proxy({}, { get: (_t, c: string) => async () => (calls.push(c), 0) }) as CommandHandlers;
        const program = createProgram(handlers);
        for (const c of [program, ...program.commands]) c.configureOutput({ writeOut: (text) => void (printed += text), writeErr: (text) => void (printed += text) });
        const argv = command ? [command, 'a', name] : [name];
        await assert.rejects(
          program.parseAsync(argv, { from: 'user' }),
          (e: { code: string; exitCode: number }) => e.code === 'vidpipe.notAnOption' && e.exitCode === 2,
          argv.join(' '),
        );
        assert.deepEqual(calls, [], argv.join(' '));
        assert.ok(!printed.includes('0.1.'), `${argv.join(' ')} printed the version`);
        assert.ok(printed.includes(`./${name}`) && printed.includes(`-- ${name}`), `${argv.join(' ')}: suggests ./${name} and --: ${printed}`);
      }
    }
  });

  it('reads a short option glued to its value as that option in the refusal (-o/srv/out: write -o /srv/out), and only a name that cannot be one as a file', async () => {
    const refusal = async (argv: string[]) => {
      let printed = '';
      const program = createProgram(new Proxy({}, { get: () => async () => 0 }) as CommandHandlers);
      for (const c of [program, ...program.commands]) c.configureOutput({ writeOut: (text) => void (printed += text), writeErr: (text) => void (printed += text) });
      await assert.rejects(program.parseAsync(argv, { from: 'user' }), (e: { code: string; exitCode: number }) => e.code === 'vidpipe.notAnOption' && e.exitCode === 2, argv.join(' '));
      return printed;
    };
    const withOut = createProgram({} as CommandHandlers).commands.filter((c) => c.options.some((o) => o.short === '-o')).map((c) => c.name());
    assert.ok(withOut.includes('transcode') && withOut.includes('watch'), withOut.join(' '));
    for (const command of withOut) {
      for (const [glued, meant] of [['-o/srv/out', '-o /srv/out'], ['-oout', '-o out'], ['-os3://bucket/vod/', '-o s3://bucket/vod/']]) {
        const printed = await refusal([command, 'a', glued!]);
        assert.ok(printed.includes(`write ${meant} (an option and its value are written apart)`), `${command} ${glued}: ${printed}`);
        assert.ok(printed.indexOf('written apart') < printed.indexOf(`./${glued}`), `the option reading comes first: ${printed}`);
      }
    }
    // -q and -v take no value, -x is no option: those are names, never "write -q x".
    for (const name of ['-qx', '-vfoo', '-x.mp4']) {
      const printed = await refusal(['transcode', 'a', name]);
      assert.doesNotMatch(printed, /written apart\)/, printed);
      assert.ok(printed.includes(`If it is a file, write ./${name}`), printed);
    }
  });

  it('-- ends the options: what follows is an input, even a name that starts with a dash', async () => {
    const [call] = await parse(['transcode', '--ladder', '360p', '--', '-version.mp4', '-vfoo', '--json']);
    const [inputs, options, global] = call!.args as [string[], Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual(inputs, ['-version.mp4', '-vfoo', '--json']);
    assert.equal(options.ladder, '360p');
    assert.equal(global.json, false);
  });

  it('values that start with a dash are still read where an option expects a value', async () => {
    const [call] = await parse(['transcode', './-version.mp4', '-o', '-out', '--db', '-v.db', '--loudness', '-16', '-q']);
    const [inputs, options, global] = call!.args as [string[], Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual(inputs, ['./-version.mp4']);
    assert.equal(options.out, '-out');
    assert.equal(options.loudness, '-16');
    assert.equal(global.db, '-v.db');
    assert.equal(global.quiet, true);
  });

  it('declares every option once, as data', () => {
    const flags = [...GLOBAL_OPTIONS, ...TRANSCODE_OPTIONS].map((o) => o.flags.split(' ').find((f) => f.startsWith('--')));
    assert.equal(new Set(flags).size, flags.length);
  });
});

describe('transcode settings', () => {
  // The defaults commander fills in, taken from the option table itself.
  const defaults = Object.fromEntries(
    TRANSCODE_OPTIONS.filter((o) => o.defaultValue !== undefined).map((o) => [o.flags.match(/--([\w-]+)/)![1]!.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()), o.defaultValue]),
  );
  const raw: Record<string, unknown> = { ...defaults, out: 'o', thumbnails: true };
  const toTranscodeSettings = (record: Record<string, unknown>) => parseTranscodeOptions(record).settings;
  const parseTags = (values: string[]) => tagsOf(values, { flag: '--tag', from: 'cli' });
  it('validates numbers with the flag named in the message', () => {
    assert.throws(() => toTranscodeSettings({ ...raw, concurrency: '0' }), /--concurrency/);
    assert.throws(() => toTranscodeSettings({ ...raw, segmentDuration: 'abc' }), /--segment-duration/);
    assert.throws(() => toTranscodeSettings({ ...raw, segmentDuration: '60' }), /at most 30/);
    assert.equal(toTranscodeSettings(raw).segmentDurationSeconds, 6);
  });
  it('parses tags', () => {
    assert.deepEqual(parseTags(['a=1', 'b=x=y']), { a: '1', b: 'x=y' });
    assert.throws(() => parseTags(['nokey']), /key=value/);
  });
});

describe('progress mode', () => {
  it('uses the live list only on an interactive terminal outside CI', () => {
    assert.equal(chooseProgressMode({}, { isTTY: true }, {}), 'tty');
    assert.equal(chooseProgressMode({}, { isTTY: false }, {}), 'plain');
    assert.equal(chooseProgressMode({}, { isTTY: true }, { CI: 'true' }), 'plain');
    assert.equal(chooseProgressMode({}, { isTTY: true }, { TERM: 'dumb' }), 'plain');
    assert.equal(chooseProgressMode({ quiet: true }, { isTTY: true }, {}), 'none');
    assert.equal(chooseProgressMode({ progress: 'plain' }, { isTTY: true }, {}), 'plain');
  });
});

describe('batch exit code', () => {
  const result = (status: TranscodeResult['status'], code?: string) => ({ status, error: code ? { code, message: '' } : undefined }) as TranscodeResult;
  it('is 0 when all succeed, 130 when interrupted, 1 for processing failures, 2 for bad input only', () => {
    assert.equal(batchExitCode([result('succeeded')]), 0);
    assert.equal(batchExitCode([result('succeeded'), result('interrupted', 'INTERRUPTED')]), 130);
    assert.equal(batchExitCode([result('failed', 'INPUT_INVALID'), result('failed', 'FFMPEG_FAILED')]), 1);
    assert.equal(batchExitCode([result('failed', 'INPUT_NOT_FOUND'), result('succeeded')]), 2);
  });
});
