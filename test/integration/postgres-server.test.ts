/**
 * The test PostgreSQL server itself: the shared server of a run answers, each file's database is
 * its own, and a server of one's own stops and leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { sharedPostgres, startPostgresServer } from '../helpers/postgres-server.js';

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

test('the shared server gives each caller a fresh database of its own', async () => {
  const shared = await sharedPostgres();
  const [a, b] = await Promise.all([shared.createDatabase(), shared.createDatabase()]);
  assert.notEqual(a, b);
  await query(a, 'CREATE TABLE t (x int)');
  await query(a, 'INSERT INTO t VALUES (1)');
  assert.equal((await query(a, 'SELECT count(*)::int AS n FROM t')).rows[0].n, 1);
  await assert.rejects(query(b, 'SELECT * FROM t'), /relation "t" does not exist/);
  // The same server for every file of the run (and for a second call in this one).
  assert.equal((await sharedPostgres()).url, shared.url);
});

test('a server of its own needs its password, and stop() ends it and removes its cluster', async () => {
  const server = await startPostgresServer();
  const url = await server.createDatabase('own_db');
  assert.equal((await query(url, 'SELECT current_database() AS d')).rows[0].d, 'own_db');
  const wrong = new URL(url);
  wrong.password = 'wrong';
  await assert.rejects(query(wrong.toString(), 'SELECT 1'), /password authentication failed/);
  assert.ok(server.pid !== undefined);
  await server.stop();
  assert.throws(() => process.kill(server.pid!, 0), /ESRCH/);
  await assert.rejects(query(url, 'SELECT 1'), /ECONNREFUSED/);
  await server.stop();
});
