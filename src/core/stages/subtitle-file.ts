import { readFileSync, statSync } from 'node:fs';
import { VidpipeError } from '../../errors.js';

/**
 * A sidecar subtitle file read strictly, before any encode: ffmpeg takes a timing line it cannot
 * read (`00:00:61,000`, `xx`) for cue text and publishes it, and fails with only "exited with
 * code 1" on bytes that are not text. So the file is decoded and its cues checked here: a file
 * with no valid cue is refused (exit 2) naming the line; single bad cues are left out, each with
 * a note naming its line, and ffmpeg converts what remains (`text`, UTF-8).
 */
export interface CheckedSubtitleFile {
  format: 'srt' | 'vtt' | 'ass';
  /** The file as ffmpeg should read it: UTF-8, timing lines written canonically, without the cues that were left out. */
  text: string;
  cues: number;
  /** One line per decision: a cue left out, an encoding converted. */
  notes: string[];
}

/** Far larger than any subtitle file (a feature film's SRT is about 100 KB): a video given by mistake. */
const MAX_BYTES = 32 * 1024 * 1024;

/**
 * Recent checks in this process, by path, each with the file's state when it was read: planning
 * checks every sidecar (a bad one is refused before any encode) and the subtitles stage converts
 * the same check's text, so each file is read and decoded once. A queue worker, another process,
 * checks again. At most a few files' text is kept (a sidecar is usually about 100 KB).
 */
const recentChecks = new Map<string, { state: string; checked: CheckedSubtitleFile }>();
const RECENT_CHECKS = 8;
const RECENT_CHARS = MAX_BYTES;

/** The check of `file`, reused while its size, times and inode are those it was read with. */
export function checkSubtitleFile(file: string): CheckedSubtitleFile {
  const info = statSync(file, { bigint: true });
  const state = `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
  const recent = recentChecks.get(file);
  if (recent?.state === state) return recent.checked;
  const checked = readSubtitleFile(file, Number(info.size));
  recentChecks.delete(file);
  recentChecks.set(file, { state, checked });
  let chars = [...recentChecks.values()].reduce((sum, entry) => sum + entry.checked.text.length, 0);
  for (const [path, entry] of recentChecks) {
    if (recentChecks.size <= 1 || (recentChecks.size <= RECENT_CHECKS && chars <= RECENT_CHARS)) break;
    recentChecks.delete(path);
    chars -= entry.checked.text.length;
  }
  return checked;
}

function readSubtitleFile(file: string, size: number): CheckedSubtitleFile {
  const refuse = (reason: string, hint?: string) => new VidpipeError('INPUT_INVALID', `--subtitles ${file}: ${reason}`, { hint: hint ?? 'give an SRT, WebVTT or ASS subtitle file (UTF-8 text)' });
  if (size > MAX_BYTES) throw refuse(`${size} bytes is far too large for a subtitle file (at most ${MAX_BYTES})`);
  const bytes = readFileSync(file);
  const notes: string[] = [];
  const decoded = decodeText(bytes, (note) => notes.push(`--subtitles ${file}: ${note}`), refuse);
  const text = decoded.replace(/\r\n?/g, '\n');
  if (text.trim() === '') throw refuse('the file is empty');
  if (/^\[Script Info\]/im.test(text.slice(0, 4096))) return { format: 'ass', text, cues: -1, notes };
  const format = /^WEBVTT(?:[ \t\n]|$)/.test(text) ? 'vtt' : 'srt';
  const parsed = parseCues(text.split('\n'), format);
  const described = parsed.problems.map((problem) => `--subtitles ${file}: line ${problem.line}: ${problem.reason}; the cue is left out`);
  if (parsed.kept.length === 0) {
    const first = parsed.problems[0];
    throw refuse(first ? `no valid cue; line ${first.line}: ${first.reason}` : 'no subtitle cue in the file');
  }
  const header = format === 'vtt' ? 'WEBVTT\n\n' : '';
  return { format, text: header + parsed.kept.join('\n\n') + '\n', cues: parsed.kept.length, notes: [...notes, ...described] };
}

function decodeText(bytes: Buffer, note: (text: string) => void, refuse: (reason: string, hint?: string) => VidpipeError): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return strictUtf8(bytes.subarray(3), refuse);
  const utf16 = bytes[0] === 0xff && bytes[1] === 0xfe ? 'utf-16le' : bytes[0] === 0xfe && bytes[1] === 0xff ? 'utf-16be' : undefined;
  if (utf16 !== undefined) {
    let text: string;
    try {
      text = new TextDecoder(utf16, { fatal: true }).decode(bytes.subarray(2));
    } catch {
      throw refuse(`the file starts with a ${utf16.toUpperCase()} byte-order mark but is not ${utf16.toUpperCase()} text`);
    }
    note(`read as ${utf16.toUpperCase()} (byte-order mark) and converted to UTF-8`);
    return assertText(text, refuse);
  }
  const sample = bytes.subarray(0, 4096);
  const nulAt = (parity: number) => sample.filter((_, i) => i % 2 === parity).every((b) => b === 0);
  if (sample.length >= 8 && (nulAt(0) || nulAt(1))) {
    throw refuse('the file looks like UTF-16 text without a byte-order mark', 'save it as UTF-8 (or UTF-16 with a byte-order mark)');
  }
  return strictUtf8(bytes, refuse);
}

function strictUtf8(bytes: Buffer, refuse: (reason: string, hint?: string) => VidpipeError): string {
  try {
    return assertText(new TextDecoder('utf-8', { fatal: true }).decode(bytes), refuse);
  } catch (error) {
    if (error instanceof VidpipeError) throw error;
  }
  // Not UTF-8: binary, or text in a legacy single-byte encoding.
  assertText(new TextDecoder('latin1').decode(bytes), refuse);
  const lenient = new TextDecoder('utf-8').decode(bytes);
  const line = lenient.slice(0, lenient.indexOf('\uFFFD')).split('\n').length;
  throw refuse(`the file is not UTF-8 text (line ${line} has a byte UTF-8 does not allow there)`, 'save the subtitles as UTF-8 (for example: iconv -f WINDOWS-1252 -t UTF-8 in.srt > out.srt)');
}

/** Binary data has NULs and other control characters that text never has. */
function assertText(text: string, refuse: (reason: string, hint?: string) => VidpipeError): string {
  // eslint-disable-next-line no-control-regex
  const controls = text.match(/[\u0000-\u0008\u000B\u000E-\u001F\u007F]/g)?.length ?? 0;
  if (text.includes('\u0000') || controls > Math.max(2, text.length / 1000)) throw refuse('the file is not text (binary data)');
  return text;
}

interface ParsedCues {
  /** Each valid cue's lines as written (identifier, timing line, text). */
  kept: string[];
  problems: { line: number; reason: string }[];
}

/**
 * SRT timestamps as written in the wild: HH:MM:SS,mmm with hours of any width (or none), minutes
 * and seconds of one or two digits, a fraction of one to three (",5" is half a second) after ','
 * or '.'. ffmpeg would read ",5" as 5 ms, so what it is given is written in full (readTiming).
 */
const SRT_STAMP = /^(?:(\d+):)?(\d{1,2}):(\d{1,2})[,.](\d{1,3})$/;
/** WebVTT's, as its spec says: [HH:]MM:SS.mmm, exactly three fraction digits. */
const VTT_STAMP = /^(?:(\d{2,}):)?(\d{2}):(\d{2})\.(\d{3})$/;
const TIMING = /^\s*(\S+)\s*-->\s*(\S+)(.*)$/;
/** Two timestamps with no arrow between them: a damaged timing line. */
const ARROWLESS = /^\s*\d+:\d+:\d+[,.]\d+\s+\d+:\d+:\d+[,.]\d+\s*$/;

/**
 * A line of cue text that is a timing line all the same: two timestamps of digits around the
 * arrow. SRT files often lack the blank line between cues, and ffmpeg starts a new cue at such a
 * line; any other text may hold "-->" ("Next --> exit").
 */
const TIMING_SHAPE = /^\s*(?:\d+:)?\d+:\d+[,.]\d+\s*-->\s*(?:\d+:)?\d+:\d+[,.]\d+/;

/**
 * Cues separated by blank lines: an optional identifier line (an SRT index: digits only), a
 * timing line, the text. The timing line is the block's first line or the one after its
 * identifier; whatever it holds, a line there with "-->" is read as one (and refused if broken).
 */
function parseCues(lines: string[], format: 'srt' | 'vtt'): ParsedCues {
  const kept: string[] = [];
  const problems: ParsedCues['problems'] = [];
  let index = 0;
  if (format === 'vtt') while (index < lines.length && lines[index]!.trim() !== '') index++; // the WEBVTT header block
  while (index < lines.length) {
    while (index < lines.length && lines[index]!.trim() === '') index++;
    if (index >= lines.length) break;
    const start = index;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '') end++;
    index = end;
    const block = lines.slice(start, end);
    if (format === 'vtt' && /^(NOTE|STYLE|REGION)(\s|$)/.test(block[0]!)) continue;
    // Split the block at each timing line, taking an index line just above it along.
    const isIndex = (i: number) => /^\d+$/.test(block[i]!.trim());
    const hasArrow = (i: number) => block[i]!.includes('-->');
    const inTimingPlace = (i: number) => hasArrow(i) && (i === 0 || (i === 1 && !hasArrow(0) && (format === 'vtt' || isIndex(0))));
    const timings = block.flatMap((line, i) => (inTimingPlace(i) || TIMING_SHAPE.test(line) ? [i] : []));
    if (timings.length === 0) {
      const arrowless = block.slice(0, 2).findIndex((line) => ARROWLESS.test(line));
      problems.push(arrowless >= 0 ? { line: start + arrowless + 1, reason: "the timing line has no '-->'" } : { line: start + 1, reason: 'text without a timing line above it' });
      continue;
    }
    const starts = timings.map((t, k) => {
      if (k === 0) return t === 0 ? 0 : (t === 1 && format === 'vtt') || isIndex(t - 1) ? t - 1 : t;
      return t - 1 > timings[k - 1]! && isIndex(t - 1) ? t - 1 : t;
    });
    if (starts[0]! > 0) problems.push({ line: start + 1, reason: 'text without a timing line above it' });
    for (const [k, cueStart] of starts.entries()) {
      const timingAt = timings[k]!;
      const cueEnd = k + 1 < starts.length ? starts[k + 1]! : block.length;
      const timing = readTiming(block[timingAt]!, format);
      if ('problem' in timing) {
        problems.push({ line: start + timingAt + 1, reason: timing.problem });
        continue;
      }
      if (cueEnd - timingAt <= 1) continue; // a cue with no text shows nothing
      kept.push([...block.slice(cueStart, timingAt), timing.canonical, ...block.slice(timingAt + 1, cueEnd)].join('\n'));
    }
  }
  return { kept, problems };
}

/** The timing line written canonically (HH:MM:SS,mmm or HH:MM:SS.mmm, settings kept), or what is wrong with it. */
function readTiming(line: string, format: 'srt' | 'vtt'): { canonical: string } | { problem: string } {
  const match = TIMING.exec(line);
  if (!match) return { problem: `unreadable timing line "${line.trim()}"` };
  const start = stampMillis(match[1]!, format);
  const end = stampMillis(match[2]!, format);
  if (typeof start === 'string') return { problem: `${start} in "${line.trim()}"` };
  if (typeof end === 'string') return { problem: `${end} in "${line.trim()}"` };
  if (end < start) return { problem: `the cue ends (${match[2]}) before it starts (${match[1]})` };
  return { canonical: `${stampText(start, format)} --> ${stampText(end, format)}${match[3]!}` };
}

/** Milliseconds, or what is wrong with the timestamp. */
function stampMillis(stamp: string, format: 'srt' | 'vtt'): number | string {
  const match = (format === 'srt' ? SRT_STAMP : VTT_STAMP).exec(stamp);
  if (!match) return `"${stamp}" is not a timestamp (${format === 'srt' ? 'HH:MM:SS,mmm' : 'HH:MM:SS.mmm or MM:SS.mmm'})`;
  const [hours, minutes, seconds] = [Number(match[1] ?? 0), Number(match[2]), Number(match[3])];
  if (minutes >= 60 || seconds >= 60) return `"${stamp}" has ${minutes >= 60 ? 'minutes' : 'seconds'} past 59`;
  return ((hours * 60 + minutes) * 60 + seconds) * 1000 + Number(match[4]!.padEnd(3, '0'));
}

function stampText(millis: number, format: 'srt' | 'vtt'): string {
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  const seconds = Math.floor(millis / 1000);
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}${format === 'srt' ? ',' : '.'}${pad(millis % 1000, 3)}`;
}
