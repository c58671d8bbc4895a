import { accessSync, constants, statSync, type Stats } from 'node:fs';
import path from 'node:path';
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

/** Filesystem calls the diagnosis makes; a seam so tests (which run as root) can answer EACCES. */
export interface PathProbe {
  stat(file: string): Stats;
  access(file: string, mode: number): void;
}

const realProbe: PathProbe = { stat: (file) => statSync(file), access: (file, mode) => accessSync(file, mode) };

const DB_HINT = 'point --db (or VIDPIPE_DB) at a database file in a folder you can write to';

/**
 * Why a database file could not be opened, when the reason is the user's to fix: SQLite
 * answers "unable to open database file" alike for a directory, a read-only filesystem, a
 * missing permission and a file in the way of its folder, so the path is examined here.
 * A locked, damaged or failing database and an unexplained failure stay DB_FAILED (exit 1) with
 * SQLite's message: retrying or repairing may help, the path is not the cause.
 */
export function dbOpenFailed(file: string, error: unknown, probe: PathProbe = realProbe): VidpipeError {
  // A failed migration arrives wrapped already; what SQLite said is its cause.
  const code = sqliteCode(isVidpipeError(error) ? error.cause : error);
  if (isVidpipeError(error) && code === undefined) return error;
  if (file === ':memory:' || file === '' || file.startsWith('file:')) return dbFailed(`open ${file}`, error);
  const reason = mayBeThePath(code) ? pathProblem(file, probe) : undefined;
  if (reason !== undefined) {
    return new VidpipeError('USAGE', `database ${file}: ${reason}`, { cause: error, hint: DB_HINT });
  }
  if (code === 'SQLITE_NOTADB') {
    return new VidpipeError('USAGE', `database ${file}: the file is not a SQLite database`, {
      cause: error,
      hint: 'point --db (or VIDPIPE_DB) at a vidpipe database, or at a file that does not exist yet (vidpipe creates it)',
    });
  }
  return isVidpipeError(error) ? error : dbFailed(`open ${file}`, error);
}

/**
 * Whether the path may explain the failure: SQLite could not open or write the file, or
 * creating its folder failed (a filesystem error, not SQLite's). A damaged file, a failing disk
 * or a lock says nothing of the path; those keep SQLite's own message.
 */
function mayBeThePath(code: string | undefined): boolean {
  if (code === undefined || !code.startsWith('SQLITE_')) return true;
  return ['SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH'].some((kind) => code === kind || code.startsWith(`${kind}_`));
}

/** What stops this process from using `file` as a database (a WAL database also needs its folder writable), or undefined. */
function pathProblem(file: string, probe: PathProbe): string | undefined {
  const target = path.resolve(file);
  const info = statOrUndefined(target, probe);
  if (info !== undefined) {
    if (info.isDirectory()) return 'is a directory, not a database file';
    if (!info.isFile()) return 'is not a regular file';
    const denied = accessProblem(target, constants.R_OK | constants.W_OK, probe);
    if (denied !== undefined) return `the file ${denied}`;
    return folderProblem(path.dirname(target), probe);
  }
  // The nearest existing folder above it is where vidpipe creates what is missing.
  let folder = path.dirname(target);
  for (;;) {
    const above = statOrUndefined(folder, probe);
    if (above !== undefined) {
      if (!above.isDirectory()) return `cannot be created: ${folder} is not a folder`;
      const problem = folderProblem(folder, probe);
      return problem === undefined ? undefined : `cannot be created: ${problem}`;
    }
    const parent = path.dirname(folder);
    if (parent === folder) return undefined;
    folder = parent;
  }
}

function folderProblem(folder: string, probe: PathProbe): string | undefined {
  const denied = accessProblem(folder, constants.W_OK | constants.X_OK, probe);
  return denied === undefined ? undefined : `the folder ${folder} ${denied}`;
}

function accessProblem(target: string, mode: number, probe: PathProbe): string | undefined {
  try {
    probe.access(target, mode);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return 'is on a read-only filesystem';
    if (code === 'EACCES' || code === 'EPERM') return mode & constants.R_OK ? 'may not be read and written by this user (permissions)' : 'may not be written by this user (permissions)';
    return undefined;
  }
}

function statOrUndefined(target: string, probe: PathProbe): Stats | undefined {
  try {
    return probe.stat(target);
  } catch {
    return undefined;
  }
}
