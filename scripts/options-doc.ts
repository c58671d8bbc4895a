/**
 * docs/options.md, generated from the command table (src/cli/command-table.ts) and the option
 * tables it uses (src/settings/job-settings.ts, src/settings/command-options.ts), so the
 * reference never drifts from the parser:
 *   npm run docs            rewrites docs/options.md
 *   node dist/scripts/options-doc.js   exits 1 when docs/options.md is out of date
 * test/unit/options-doc.test.ts fails when the committed file differs from renderOptionsDoc().
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { COMMANDS, type CommandSpec, type GlobalName } from '../src/cli/command-table.js';
import { GLOBAL_OPTIONS } from '../src/settings/command-options.js';
import { TRANSCODE_OPTIONS } from '../src/settings/job-settings.js';
import type { OptionSpec } from '../src/settings/option.js';

export const OPTIONS_DOC = fileURLToPath(new URL('../../docs/options.md', import.meta.url));

/**
 * What an option's one-line description cannot hold: details for the reference only, by
 * command and flag. test/unit/options-doc.test.ts checks that each names an existing option.
 */
export const OPTION_NOTES: Record<string, Record<string, string>> = {
  transcode: {
    '--out': 'The layout of a package: [output.md](output.md).',
    '--ladder':
      'Rungs by their short side: `1080p,720p,360p`; with explicit kb/s: `480p:1500`; or a JSON file `{"rungs":[{"size":720,"kbps":3000}]}`. ' +
      "Default: Apple's authoring table (1080p 6000k, 720p 3000k, 540p 2000k, 432p 1100k, 360p 730k, 234p 145k; HEVC and AV1 also 2160p and 1440p, at Apple's HEVC rates), never taller than the source. " +
      '`auto` (also `{"rungs":"auto"}`): per-title rates from probe encodes of the content, see [per-title.md](per-title.md). ' +
      'Every ladder is checked after the encodes: a rung that measures at or above the rung over it is dropped.',
    '--quality-target': 'What the target means and how it was chosen: [per-title.md](per-title.md).',
    '--codecs': 'Parallel ladders in one package; see [codecs.md](codecs.md).',
    '--preset': 'x264/x265 names (`ultrafast` … `veryslow`), mapped to SVT-AV1 presets 0–13 or libaom `cpu-used` for AV1.',
    '--concurrency': 'Tasks are ffmpeg processes; chunk encodes are scheduled first.',
    '--chunk-duration': 'A multiple of the segment duration; shorter chunks make a resume after a kill cheaper.',
    '--audio-bitrate': 'AAC-LC, for each audio stream of a video.',
    '--audio-only': 'See [audio.md](audio.md).',
    '--sample-rate': "Audio-only jobs keep the source's 44.1 or 48 kHz (88.2 → 44.1, 96/32 → 48); video jobs use 48000.",
    '--opus': 'Opus in fMP4, in the DASH MPD only (Apple\'s HLS spec does not list Opus).',
    '--loudness': 'E.g. `-16` for speech; see [audio.md](audio.md#loudness).',
    '--hls-segments': '`ts`: `master.m3u8` is MPEG-TS HLS (H.264 + AAC muxed) for legacy players; `both`: fMP4 in `master.m3u8` and TS in `master-ts.m3u8`.',
    '--subtitles': 'E.g. `--subtitles talk.fr.srt:fr`.',
    '--metrics': 'See [metrics.md](metrics.md).',
    '--download': 'Refused (exit 2) for audio-only jobs and ladders without H.264. See [output.md](output.md#a-file-to-download---download).',
    '--plan': 'Text, or JSON with `--json`.',
    '--stall-timeout': 'The stalled task runs once more; a second stall fails the job (`FFMPEG_STALLED`, exit 1).',
    '--work-dir': 'Default `~/.cache/vidpipe/work` (`$XDG_CACHE_HOME`); removed when a job succeeds, kept for a resume when it does not.',
    '--s3-endpoint': 'Path-style addressing and only the checksums an operation requires; see [s3.md](s3.md).',
    '--queue': 'See [workers.md](workers.md).',
  },
  watch: {
    '--out': 'Name from the key below the prefix: `uploads/talks/intro.mp4` → `talks-intro`; see [s3.md](s3.md#vidpipe-watch).',
  },
};

/** Table-cell text: pipes escaped, and `<` outside code spans, which Markdown would read as HTML. */
const cell = (text: string) =>
  text
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ')
    .split('`')
    .map((part, index) => (index % 2 === 0 ? part.replace(/</g, '&lt;') : part))
    .join('`');
const code = (text: string) => `\`${text.replace(/\|/g, '\\|')}\``;
const longName = (flags: string) => /--([\w-]+)/.exec(flags)![1]!;

/** "… (default: x)" at the end of a description goes into the default column. */
function splitDefault(option: OptionSpec): { meaning: string; defaultText: string } {
  if (option.defaultDescription) return { meaning: option.description, defaultText: option.defaultDescription };
  if (option.defaultValue !== undefined && option.defaultValue !== false) return { meaning: option.description, defaultText: `\`${option.defaultValue}\`` };
  const inline = /^(.*?)\s*\(default: ([^()]*(?:\([^()]*\)[^()]*)*)\)(.*)$/.exec(option.description);
  if (inline) return { meaning: `${inline[1]}${inline[3]}`.trim(), defaultText: inline[2]! };
  return { meaning: option.description, defaultText: '' };
}

function optionTable(options: OptionSpec[], notes: Record<string, string> = {}): string {
  const rows = options.map((option) => {
    const { meaning, defaultText } = splitDefault(option);
    const note = notes[`--${longName(option.flags)}`];
    return `| ${code(option.flags)} | ${cell(defaultText)} | ${option.env ? code(option.env) : ''} | ${cell(meaning)}${note ? `. ${cell(note)}` : ''} |`;
  });
  return ['| option | default | environment | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

function commandSection(spec: CommandSpec): string {
  const usage = ['vidpipe', spec.name, ...spec.arguments.map((argument) => argument.syntax), ...(spec.options.length ? ['[options]'] : [])].join(' ');
  const parts = [`## vidpipe ${spec.name}`, '', `\`${usage}\``, '', `${spec.description[0]!.toUpperCase()}${spec.description.slice(1)}.`];
  if (spec.arguments.length) {
    parts.push('', '| argument | meaning |', '|---|---|', ...spec.arguments.map((a) => `| ${code(a.syntax)} | ${cell(a.description)}${a.defaultValue ? ` (default: ${code(a.defaultValue)})` : ''} |`));
  }
  // A command that takes over most of `transcode`'s options (watch) names them instead of repeating them.
  const shared = spec.name === 'transcode' ? [] : spec.options.filter((option) => TRANSCODE_OPTIONS.includes(option));
  const inherited = shared.length > TRANSCODE_OPTIONS.length / 2 ? shared : [];
  const own = spec.options.filter((option) => !inherited.includes(option));
  if (own.length) parts.push('', optionTable(own, OPTION_NOTES[spec.name]));
  if (inherited.length) parts.push('', `Also every option of [\`vidpipe transcode\`](#vidpipe-transcode) but ${TRANSCODE_OPTIONS.filter((o) => !inherited.includes(o) && !own.some((m) => longName(m.flags) === longName(o.flags))).map((o) => code(`--${longName(o.flags)}`)).join(', ')}: ${inherited.map((o) => code(`--${longName(o.flags)}`)).join(', ')}.`);
  parts.push('', `Global options it reads: ${spec.globals.map((g) => `[${code(`--${g}`)}](#global-options)`).join(', ') || 'none'}.`);
  parts.push('', '```sh', ...alignedExamples(spec), '```');
  return parts.join('\n');
}

function alignedExamples(spec: CommandSpec): string[] {
  const width = Math.max(...spec.examples.map((e) => e.command.length));
  return spec.examples.map((e) => `${e.command.padEnd(width)}  # ${e.does}`);
}

export function renderOptionsDoc(): string {
  const specs: CommandSpec[] = Object.values(COMMANDS);
  const readers = (name: GlobalName) => specs.filter((spec) => spec.globals.includes(name)).map((spec) => spec.name);
  const globals = GLOBAL_OPTIONS.map((option) => {
    const name = longName(option.flags) as GlobalName;
    const users = readers(name);
    return { ...option, description: `${option.description}. Read by ${users.length === specs.length ? 'every command' : users.map((u) => `\`${u}\``).join(', ')}` };
  });
  return [
    '# Command-line reference',
    '',
    '<!-- Generated by `npm run docs` from src/cli/command-table.ts and the option tables of src/settings/. Do not edit: change those and run it again. -->',
    '',
    'Every command has `--help` with the same information and examples, and `vidpipe -v` prints the version.',
    'Short options are one letter each, written apart (`-q -o <dir>`). `--` ends the options: what follows is read as arguments, so `vidpipe transcode -- -clip.mp4` (or `vidpipe transcode ./-clip.mp4`) reads a file whose name starts with a dash. Any other argument of one dash and several letters (`-version.mp4`, `-vfoo`) is refused with exit 2, never taken for a group of short options; so is an option glued to its value (`-o/srv/out`: write `-o /srv/out`).',
    'Exit codes and the `--json` output are described in the [README](../README.md#exit-codes-and---json).',
    '',
    '## Global options',
    '',
    'Accepted before or after the command (`vidpipe --json list` and `vidpipe list --json` are the same); a command ignores the ones it does not read.',
    '',
    optionTable(globals),
    '',
    ...specs.flatMap((spec) => [commandSection(spec), '']),
  ].join('\n');
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const wanted = renderOptionsDoc();
  if (process.argv.includes('--write')) {
    writeFileSync(OPTIONS_DOC, wanted);
    process.stderr.write(`wrote ${OPTIONS_DOC}\n`);
  } else {
    const current = (() => {
      try {
        return readFileSync(OPTIONS_DOC, 'utf8');
      } catch {
        return '';
      }
    })();
    if (current !== wanted) {
      process.stderr.write(`${OPTIONS_DOC} is out of date: run npm run docs\n`);
      process.exitCode = 1;
    }
  }
}
