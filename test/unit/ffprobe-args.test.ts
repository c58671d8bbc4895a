/**
 * The ffprobe argument lists, all built in src/ffmpeg/args/ and all passing their input through
 * `safeInputPath`: a file named like an option ("-evil.mp4") or a protocol ("concat:a|b") must
 * reach ffprobe as a file name, never as an option or a protocol. And no ffmpeg/ffprobe argument
 * list is written anywhere else in src/, so a new one gets the same guard.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildFieldOrderArgs,
  buildFirstFrameSideDataArgs,
  buildPacketListArgs,
  buildProbeArgs,
  buildSegmentPacketsArgs,
  buildVideoPacketCountArgs,
  buildVideoPacketPositionsArgs,
  buildVideoPacketTimesArgs,
} from '../../src/ffmpeg/args/inspect.js';
import { safeInputPath } from '../../src/ffmpeg/args/input-path.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const BUILDERS: Record<string, (input: string) => string[]> = {
  buildProbeArgs,
  buildFieldOrderArgs: (input) => buildFieldOrderArgs(input, 0),
  buildFirstFrameSideDataArgs: (input) => buildFirstFrameSideDataArgs(input, 0),
  buildPacketListArgs: (input) => buildPacketListArgs(input, ['pts_time', 'flags']),
  buildVideoPacketCountArgs,
  buildVideoPacketPositionsArgs,
  buildVideoPacketTimesArgs,
  buildSegmentPacketsArgs,
};

/** Names that are options or protocols to ffprobe when passed as they are. */
const HOSTILE = ['-evil.mp4', '-i', 'concat:a.ts|b.ts', 'subfile:x.mp4', 'seg:1.ts', '/srv/in/a:b.mp4'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('ffprobe argument lists', () => {
  for (const [name, build] of Object.entries(BUILDERS)) {
    it(`${name} passes a hostile file name as a guarded file name`, () => {
      for (const input of HOSTILE) {
        const args = build(input);
        const guarded = safeInputPath(input);
        assert.notEqual(guarded, input, `the guard changes ${input}`);
        assert.equal(args.at(-1), guarded, `${name}(${JSON.stringify(input)}) ends with its guarded input`);
        assert.ok(!args.includes(input), `${name}(${JSON.stringify(input)}) carries the raw name: ${JSON.stringify(args)}`);
        assert.ok(!guarded.startsWith('-') && !/^[a-z]+:(?!\/)/i.test(guarded.replace(/^file:/, '')), guarded);
      }
    });
  }

  it('leaves an ordinary absolute path as it is', () => {
    for (const [name, build] of Object.entries(BUILDERS)) assert.equal(build('/srv/in/talk.mp4').at(-1), '/srv/in/talk.mp4', name);
  });

  it('are written only in src/ffmpeg/args/: no argument list with an input elsewhere in src/', () => {
    // The options that read an input, as the literals an argument array would hold.
    const inputOptions = /'(-i|-show_entries|-show_streams|-show_format|-print_format|-select_streams|-count_packets)'/;
    const outside = sourceFiles(join(ROOT, 'src'))
      .filter((file) => !relative(join(ROOT, 'src'), file).startsWith(join('ffmpeg', 'args')))
      .flatMap((file) => readFileSync(file, 'utf8').split('\n').map((line, i) => ({ file: relative(ROOT, file), line: i + 1, text: line })))
      .filter(({ text }) => inputOptions.test(text))
      .map(({ file, line, text }) => `${file}:${line}: ${text.trim()}`);
    assert.deepEqual(outside, []);
  });
});
