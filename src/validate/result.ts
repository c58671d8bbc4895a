/**
 * What every validate check returns. Checks are small named functions so each can be unit-tested
 * against a deliberately broken package; the CLI only formats these.
 */
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable id, e.g. "hls-codecs-match"; scripts key on it. */
  id: string;
  status: CheckStatus;
  /** One line: what was checked, measured vs expected. */
  message: string;
  /** Every problem found (the message shows the first few), or per-subject measurements. */
  details?: unknown;
  /** The manifest the check ran on, relative to the target (set when the report is assembled). */
  manifest?: string;
}

export interface ValidationReport {
  ok: boolean;
  target: string;
  checks: CheckResult[];
}

export const pass = (id: string, message: string, details?: unknown): CheckResult => ({ id, status: 'pass', message, ...(details === undefined ? {} : { details }) });
export const fail = (id: string, message: string, details?: unknown): CheckResult => ({ id, status: 'fail', message, ...(details === undefined ? {} : { details }) });
export const skip = (id: string, reason: string): CheckResult => ({ id, status: 'skip', message: reason });

const SHOWN_PROBLEMS = 3;

/**
 * The usual shape of a check: collect one string per problem over every subject (variant,
 * playlist, Representation), then report them together so the output stays one line per check.
 */
export function fromProblems(id: string, problems: readonly string[], passMessage: string, details?: unknown): CheckResult {
  if (problems.length === 0) return pass(id, passMessage, details);
  const shown = problems.slice(0, SHOWN_PROBLEMS).join('; ');
  const more = problems.length > SHOWN_PROBLEMS ? ` (+${problems.length - SHOWN_PROBLEMS} more)` : '';
  return fail(id, `${shown}${more}`, { problems, ...(details === undefined ? {} : { measured: details }) });
}

/** "+12.3 %" — how far a declared value is from the measured one. */
export function percentOff(declared: number, measured: number): string {
  if (measured === 0) return 'n/a';
  const off = ((declared - measured) / measured) * 100;
  return `${off >= 0 ? '+' : ''}${off.toFixed(1)} %`;
}

export function withinRatio(declared: number, measured: number, ratio: number): boolean {
  return Math.abs(declared - measured) <= ratio * measured;
}
