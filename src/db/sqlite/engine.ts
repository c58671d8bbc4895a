/**
 * The SQLite metadata engine (better-sqlite3), registered for paths, `sqlite:` and `file:`
 * targets in ../engines.ts and loaded only when one is opened. The database is one file, created
 * with its folder and migrated on open (./connection.ts).
 */
import type { MetadataEngine } from '../metadata-store.js';
import { openConnection } from './connection.js';
import { SqliteMetadataStore } from './store.js';

export const engine: MetadataEngine = {
  async open(target, options) {
    return new SqliteMetadataStore(openConnection(target.location), options);
  },
};
