/**
 * The PostgreSQL metadata engine (node-postgres with its pool), registered for `postgres://`
 * and `postgresql://` targets in ../engines.ts and loaded only when one is opened. Opening
 * connects once (promptly failing with the server and the reason, never hanging: see
 * ./connection.ts) and creates or migrates the schema.
 */
import { VidpipeError, isVidpipeError } from '../../errors.js';
import type { MetadataEngine } from '../metadata-store.js';
import { redactMessage, redactedTarget } from '../redact.js';
import { connectFailed, createPool } from './connection.js';
import { migratePostgres } from './migrate.js';
import { PostgresMetadataStore } from './store.js';

export const postgresEngine: MetadataEngine = {
  async open(target, options) {
    const url = target.location;
    const pool = createPool(url);
    let client;
    try {
      client = await pool.connect();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw connectFailed(url, error);
    }
    try {
      await migratePostgres(client);
    } catch (error) {
      client.release();
      await pool.end().catch(() => undefined);
      if (isVidpipeError(error)) throw error;
      const err = error as Error & { code?: string; migrationStep?: string };
      throw new VidpipeError('DB_FAILED', `cannot prepare the vidpipe schema in ${redactedTarget(url)}${err.migrationStep ? ` (migration ${err.migrationStep})` : ''}: ${redactMessage(err.message, url)}${err.code ? ` (${err.code})` : ''}`, {
        hint: err.code === '42501' ? 'the user needs the right to create tables in this database (GRANT CREATE ON SCHEMA public …), or let an administrator run vidpipe once' : 'check the database and the user\'s rights',
      });
    }
    client.release();
    return new PostgresMetadataStore(pool, url, options);
  },
};
