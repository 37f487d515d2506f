export { isConnectionError, isUniqueViolation, openStore, type Dialect, type Store, type StoreOptions, type Tx } from './store.js';
export { Statement, allColumns, insertStatement, type Queryable } from './statements.js';
export { appliedMigrations, migrate, migrateTo, migrationNames, type MigrationReport } from './migrate.js';
export { GENESIS_HASH } from './migrations/0001_audit.js';
export type { Database, AuditEventsTable, AuditHeadTable, AuditCheckpointsTable } from './tables.js';
