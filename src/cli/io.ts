/** Where a command writes: results to stdout, everything else to stderr. Injected so tests can capture both. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stderrIsTTY: boolean;
  env: NodeJS.ProcessEnv;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A control character as text a reader sees: `\n`, `\r`, `\t`, `\x1b` for the other C0 controls,
 * `\u007f` and `\u009b` for DEL and the C1 controls. JSON.stringify escapes C0 controls itself but
 * leaves DEL and C1 raw; written as `\u…` they stay a valid JSON escape of the same character, so
 * `--json` lines remain JSON with the same values.
 */
function escapeControl(char: string): string {
  const code = char.charCodeAt(0);
  return NAMED[char] ?? (code < 0x20 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/**
 * One line of text with every control character escaped, line breaks included. File names,
 * object keys, tags and messages that carry them come from strangers: raw, an escape sequence
 * retitles or clears the operator's terminal, a carriage return or backspace overwrites what
 * was printed, and a line break forges a line of vidpipe's own. Apply it to each line vidpipe
 * builds (a log line, each line of a summary) or to each value put into a table.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, escapeControl);
}

/**
 * Text as it may reach a terminal: every control character escaped except the line breaks
 * between vidpipe's lines. Every write of `processIO` and of commander goes through it, so a
 * message that forgets `printable` still cannot drive the terminal. (vidpipe's own colours and
 * cursor movements are drawn by the live task list, listr2, which writes past this: its titles
 * are made `printable`.)
 */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL_BUT_NEWLINE, escapeControl);
}

/** Writes one message, ending it with a line break when it has none. */
const writeTo = (stream: NodeJS.WriteStream) => (text: string) => {
  const safe = terminalSafe(text);
  stream.write(safe.endsWith('\n') ? safe : `${safe}\n`);
};

export const processIO: CliIO = {
  stdout: writeTo(process.stdout),
  stderr: writeTo(process.stderr),
  stderrIsTTY: process.stderr.isTTY === true,
  env: process.env,
};
