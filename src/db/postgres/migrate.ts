/**
 * The PostgreSQL side of the one migration history (../migrations.ts): the version is the one row
 * of `vidpipe_schema`; each missing step runs with its `sql.postgres` in one transaction, under an
 * advisory lock, so several vidpipe processes opening one new database at once apply each step
 * exactly once (the others wait for the lock, then find it applied). A database newer than this
 * vidpipe knows is refused before anything is written.
 */
import type pg from 'pg';
import { MIGRATIONS, assertKnownVersion, type Migration } from '../migrations.js';

/** Any constant shared by every vidpipe: the advisory lock that orders migrations. */
const MIGRATION_LOCK = 0x76_69_64_70; // "vidp"

export async function postgresSchemaVersion(db: pg.ClientBase): Promise<number> {
  const exists = await db.query(`SELECT to_regclass('vidpipe_schema') IS NOT NULL AS present`);
  if (!(exists.rows[0] as { present: boolean }).present) return 0;
  const { rows } = await db.query('SELECT version FROM vidpipe_schema');
  return (rows[0] as { version: number } | undefined)?.version ?? 0;
}

/** Brings the database up to the last step of `steps`; returns the resulting version. */
export async function migratePostgres(db: pg.ClientBase, steps: readonly Migration[] = MIGRATIONS): Promise<number> {
  assertKnownVersion(await postgresSchemaVersion(db), steps.length);
  if ((await postgresSchemaVersion(db)) >= steps.length) return steps.length;
  // A session lock, taken before the steps' transactions: what a transaction reads after taking
  // a lock inside it may come from a catalog snapshot older than the other process's commit.
  await db.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    for (;;) {
      // Read under the lock: another process may have applied steps meanwhile.
      const version = await postgresSchemaVersion(db);
      assertKnownVersion(version, steps.length);
      if (version >= steps.length) return version;
      await db.query('BEGIN');
      try {
        await db.query('CREATE TABLE IF NOT EXISTS vidpipe_schema (version INTEGER NOT NULL)');
        await db.query(steps[version].sql.postgres);
        await db.query('DELETE FROM vidpipe_schema');
        await db.query('INSERT INTO vidpipe_schema (version) VALUES ($1)', [version + 1]);
        await db.query('COMMIT');
      } catch (error) {
        await db.query('ROLLBACK').catch(() => undefined);
        throw Object.assign(error as Error, { migrationStep: `${version + 1} (${steps[version].description})` });
      }
    }
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
  }
}
