import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { isVidpipeError } from '../../src/errors.js';
import { openMetadata } from '../../src/db/engines.js';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { openConnection } from '../../src/db/sqlite/connection.js';
import { migrate, schemaVersion } from '../../src/db/sqlite/migrate.js';
import { sampleStart, tempDbFile } from '../helpers/db-fixtures.js';
import type { WriterTask } from '../helpers/db-writer-worker.js';
import { describeMetadataRecords } from '../helpers/metadata-record-suite.js';

function rejectsWith(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(isVidpipeError(error), `expected a VidpipeError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** Rows in a table, read with a connection of its own (the store under test shows no SQL). */
function count(table: string): number {
  const raw = new Database(file, { readonly: true });
  try {
    return raw.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    raw.close();
  }
}

let file: string;
let cleanup: () => void;
beforeEach(() => ({ file, cleanup } = tempDbFile()));
afterEach(() => cleanup());

/** A migrated database, reopened as a bare connection (no pragmas, no migration on open). */
function withMigratedRaw(body: (raw: Database.Database) => void): void {
  openConnection(file).close();
  const raw = new Database(file);
  try {
    body(raw);
  } finally {
    raw.close();
  }
}

describe('the SQLite engine: opening and migrations', () => {
  test('creates the folder, sets the pragmas and migrates to the latest version', () => {
    const db = openConnection(file);
    try {
      assert.ok(existsSync(file));
      assert.equal(schemaVersion(db), MIGRATIONS.length);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('synchronous', { simple: true }), 1); // NORMAL
      assert.equal(db.pragma('busy_timeout', { simple: true }), 5000);
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ['jobs', 'ladder_rungs', 'ladders', 'outputs', 'renditions', 'tasks', 'videos', 'watch_objects', 'webhook_deliveries', 'webhook_messages']);
    } finally {
      db.close();
    }
  });

  test('reopening does not re-run migrations and keeps the data', async () => {
    const first = await openMetadata(file);
    await first.startJob(sampleStart('j1'));
    await first.close();
    // Step 1 uses plain CREATE TABLE: running it again would throw "table already exists".
    await (await openMetadata(`sqlite:${file}`)).close();
    withMigratedRaw((raw) => assert.equal(schemaVersion(raw), MIGRATIONS.length));
    assert.equal(count('jobs'), 1);
  });

  test('applies only the pending steps of a longer migration list', () => {
    withMigratedRaw((raw) => {
      const extra = [...MIGRATIONS, { description: 'extra', sql: { sqlite: 'CREATE TABLE extra (id INTEGER PRIMARY KEY) STRICT;', postgres: 'CREATE TABLE extra (id INTEGER PRIMARY KEY);' } }];
      assert.equal(migrate(raw, extra), MIGRATIONS.length + 1);
      assert.equal(migrate(raw, extra), MIGRATIONS.length + 1);
    });
  });

  test('a failing step rolls back entirely and leaves the version as it was', () => {
    withMigratedRaw((raw) => {
      const broken = [
        ...MIGRATIONS,
        { description: 'broken', sql: { sqlite: 'CREATE TABLE half (id INTEGER); INSERT INTO no_such_table VALUES (1);', postgres: 'CREATE TABLE half (id INTEGER); INSERT INTO no_such_table VALUES (1);' } },
      ];
      assert.throws(() => migrate(raw, broken), rejectsWith('DB_FAILED', new RegExp(`migration ${MIGRATIONS.length + 1} \\(broken\\)`)));
      assert.equal(schemaVersion(raw), MIGRATIONS.length);
      const half = raw.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").pluck().get();
      assert.equal(half, 0);
    });
  });

  test('refuses a database written by a newer vidpipe', async () => {
    withMigratedRaw((raw) => raw.pragma(`user_version = ${MIGRATIONS.length + 1}`));
    await assert.rejects(openMetadata(file), rejectsWith('DB_FAILED', /newer than this vidpipe/));
  });
});

describeMetadataRecords({
  name: 'sqlite',
  // One file per test (beforeEach makes it); every open of the test reaches the same database.
  open: (options) => openMetadata(file, options),
});

describe('concurrent writers', () => {
  function runWriter(task: WriterTask): Promise<{ ok: boolean; code?: string; message?: string }> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(new URL('../helpers/db-writer-worker.js', import.meta.url), { workerData: task });
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  }

  test('two connections writing the same file at once never fail with SQLITE_BUSY', async () => {
    openConnection(file).close(); // migrate once up front; racing migrations are covered by immediate()
    const jobs = 60;
    const results = await Promise.all([
      runWriter({ file, writer: 'a', jobs }),
      runWriter({ file, writer: 'b', jobs }),
      runWriter({ file, writer: 'c', jobs }),
    ]);
    assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: true }]);

    assert.equal(count('jobs'), 3 * jobs);
    assert.equal(count('renditions'), 3 * jobs * 2);
    const db = await openMetadata(file);
    try {
      assert.ok((await db.listVideos()).every((video) => video.status === 'ready'));
    } finally {
      await db.close();
    }
  });

  test('connections opening a brand-new file at the same time migrate it once', async () => {
    const results = await Promise.all(['a', 'b', 'c'].map((writer) => runWriter({ file, writer, jobs: 3 })));
    assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: true }]);
  });
});
