import { Migrator, sql, type Migration, type MigrationResultSet } from 'kysely';
import { AirlockError, messageOf } from '../errors.js';
import { auditMigration } from './migrations/0001_audit.js';
import { gateMigration } from './migrations/0002_gate.js';
import { identityMigration } from './migrations/0003_identity.js';
import { targetsMigration } from './migrations/0004_targets.js';
import { eventsMigration } from './migrations/0005_events.js';
import { workspacesMigration } from './migrations/0006_workspaces.js';
import { auditKeyRotationMigration } from './migrations/0007_audit_key_rotation.js';
import type { Dialect, Store } from './store.js';

/** Every migration, in order. The same list runs on SQLite and PostgreSQL. */
function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_audit': auditMigration(dialect),
    '0002_gate': gateMigration,
    '0003_identity': identityMigration,
    '0004_targets': targetsMigration,
    '0005_events': eventsMigration(dialect),
    '0006_workspaces': workspacesMigration(dialect),
    '0007_audit_key_rotation': auditKeyRotationMigration,
  };
}

export interface MigrationReport {
  readonly applied: string[];
  readonly total: number;
}

/** Brings the schema up to date; safe to run from several processes at once (Kysely takes a lock). */
export function migrate(store: Store): Promise<MigrationReport> {
  return runMigrator(store, (migrator) => migrator.migrateToLatest());
}

/** The names of every migration this version knows, in the order they run. */
export function migrationNames(dialect: Dialect): string[] {
  return Object.keys(migrations(dialect));
}

/**
 * Brings the schema up to the migration `name` and no further (a restore loads rows made under that
 * schema, then the later migrations run on them). Never goes back: a schema past `name` is left as is.
 */
export function migrateTo(store: Store, name: string): Promise<MigrationReport> {
  if (!migrationNames(store.dialect).includes(name)) throw new AirlockError('migration_unknown', `this version of Airlock knows no migration ${name}`);
  return runMigrator(store, (migrator) => migrator.migrateTo(name));
}

/** The migrations applied to the store, in order; none when it was never migrated. */
export async function appliedMigrations(store: Store): Promise<string[]> {
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(store.db);
    return rows.map((row) => row.name);
  } catch (error) {
    if (/no such table|relation .* does not exist/i.test(messageOf(error))) return [];
    throw error;
  }
}

async function runMigrator(store: Store, run: (migrator: Migrator) => Promise<MigrationResultSet>): Promise<MigrationReport> {
  const all = migrations(store.dialect);
  const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => all } });
  let outcome = await run(migrator);
  // Kysely's lock is a no-op on SQLite: two processes starting on one file can race; the loser retries.
  for (let attempt = 0; outcome.error && isSqliteBusy(outcome.error) && attempt < 20; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
    outcome = await run(migrator);
  }
  const { error, results } = outcome;
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
    throw new AirlockError('migration_failed', `migration ${failed} failed on ${store.description}: ${messageOf(error)}`, { cause: error });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName), total: Object.keys(all).length };
}

function isSqliteBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}
