import type Database from 'better-sqlite3';
import { dbFailed } from '../db-error.js';
import { MIGRATIONS, assertKnownVersion, type Migration } from '../migrations.js';

/** SQLite keeps the schema version in the file's header: `PRAGMA user_version`. */
export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database up to the last step of `steps` with their SQLite SQL, one IMMEDIATE
 * transaction per step, so a crash or a failing step leaves the database at the previous
 * version, and a second vidpipe process migrating the same file at the same moment waits instead
 * of applying a step twice. Returns the resulting version.
 */
export function migrate(db: Database.Database, steps: readonly Migration[] = MIGRATIONS): number {
  assertKnownVersion(schemaVersion(db), steps.length);
  const applyStep = db.transaction((index: number) => {
    // Re-read under the write lock: another process may have applied this step meanwhile.
    if (schemaVersion(db) > index) return;
    db.exec(steps[index].sql.sqlite);
    // PRAGMA takes no bound parameters; the value is our own loop index, never input.
    db.pragma(`user_version = ${index + 1}`);
  });
  for (let index = schemaVersion(db); index < steps.length; index++) {
    try {
      applyStep.immediate(index);
    } catch (error) {
      throw dbFailed(`apply migration ${index + 1} (${steps[index].description})`, error);
    }
  }
  return schemaVersion(db);
}
