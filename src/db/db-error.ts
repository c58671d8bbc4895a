import { VidpipeError, isVidpipeError } from '../errors.js';

/**
 * Turns whatever better-sqlite3 threw into a VidpipeError('DB_FAILED') that says what
 * vidpipe was doing. VidpipeErrors (NOT_FOUND …) pass through unchanged.
 */
export function dbFailed(action: string, error: unknown): VidpipeError {
  if (isVidpipeError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new VidpipeError('DB_FAILED', `database: could not ${action}: ${message}`, {
    cause: error,
    hint: hintFor(sqliteCode(error)),
  });
}

function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function hintFor(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return 'another vidpipe process kept the database locked for more than 5 s; retry, or use a separate --db';
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM')) {
    return 'check that the database folder exists and is writable, or set --db / VIDPIPE_DB';
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return 'the database file is damaged or not a vidpipe database; point --db / VIDPIPE_DB at another file';
  }
  return undefined;
}
