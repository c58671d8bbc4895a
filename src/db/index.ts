/** The database layer's public surface: import from here rather than from its modules. */
export { defaultDatabasePath, openConnection, openDatabase, withDatabase } from './database.js';
export { MIGRATIONS, migrate, schemaVersion, type Migration } from './migrations.js';
export type * from './records.js';
export { VidpipeDb, type VidpipeDbOptions } from './vidpipe-db.js';
