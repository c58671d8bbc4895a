/** The metadata layer's public surface: import from here rather than from its modules. */
export { openMetadata, printableMetadataTarget, registerMetadataEngine, resolveMetadataTarget, withMetadata } from './engines.js';
export { defaultDatabasePath } from './location.js';
export type { MetadataEngine, MetadataEngineInfo, MetadataStore, MetadataStoreOptions, MetadataTarget } from './metadata-store.js';
export { MIGRATIONS, assertKnownVersion, type Migration, type MigrationDialect } from './migrations.js';
export type * from './records.js';
