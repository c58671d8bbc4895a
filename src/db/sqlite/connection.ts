import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { dbOpenFailed } from '../db-error.js';
import { migrate } from './migrate.js';

const BUSY_TIMEOUT_MS = 5000;

/**
 * The better-sqlite3 connection under the SQLite engine (./engine.ts): opens (creating it and its folder
 * if needed) a vidpipe database and migrates it to the current schema. `watch`,
 * `transcode` and workers may hold the same file open at once, so: WAL lets readers run
 * beside one writer, busy_timeout makes a writer wait for the lock instead of failing at
 * once, synchronous=NORMAL is durable enough under WAL (a power cut can lose the last
 * commits, never corrupt the file), and foreign_keys because SQLite leaves it off.
 */
export function openConnection(file: string): Database.Database {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    let db: Database.Database | undefined;
    try {
      ensureParentFolder(file);
      db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
      // busy_timeout first: switching to WAL needs a lock another process may hold right now.
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db);
      return db;
    } catch (error) {
      db?.close();
      // Connections opening a brand-new file together can get SQLITE_BUSY at once, without the
      // busy handler (one of them is still turning the file into WAL): open again, within the
      // same bound a busy writer gets.
      if (isBusy(error) && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25 + Math.random() * 50);
        continue;
      }
      throw dbOpenFailed(file, error);
    }
  }
}

function isBusy(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** ':memory:' and '' (a private temporary database) live nowhere on disk. */
function ensureParentFolder(file: string): void {
  if (file === ':memory:' || file === '' || file.startsWith('file:')) return;
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
}
