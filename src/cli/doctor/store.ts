import { existsSync } from 'node:fs';
import { describeStore, type ResolvedConfig } from '../../config/index.js';
import { messageOf } from '../../errors.js';
import { appliedMigrations, migrationNames, openStore, type Store } from '../../store/index.js';
import { clockFinding } from './clock.js';
import { fail, ok, skip, type Finding } from './finding.js';

/**
 * The store answers, its schema is the one this version expects, and its clock agrees with this
 * machine's. Nothing is created: a SQLite file that does not exist is reported, not made.
 */
export async function storeFindings(config: ResolvedConfig): Promise<{ findings: Finding[]; usable: boolean }> {
  const where = describeStore(config);
  if (config.store.dialect === 'sqlite' && !existsSync(config.store.file)) {
    return {
      findings: [fail('store', `${where} does not exist yet`, '`airlock init` creates it (with the keys and the first admin); `airlock serve` does too on its first start'), skip('schema', 'no store'), skip('clock', 'no store')],
      usable: false,
    };
  }
  let store: Store;
  try {
    store = await openStore(config.store, { poolSize: 1, connectTimeoutMs: config.database.connectTimeoutMs });
  } catch (error) {
    const message = messageOf(error);
    return {
      findings: [
        fail('store', message.includes(where) ? message : `cannot reach ${where}: ${message}`, 'check database.url (AIRLOCK_DATABASE_URL), that the database runs and accepts this machine, and AIRLOCK_DATABASE_CONNECT_TIMEOUT_MS'),
        skip('schema', 'the store is unreachable'),
        skip('clock', 'the store is unreachable'),
      ],
      usable: false,
    };
  }
  try {
    const schema = await schemaFinding(store);
    return { findings: [ok('store', `${where} answers`), schema, await clockFinding(store)], usable: schema.status === 'ok' };
  } finally {
    await store.close();
  }
}

async function schemaFinding(store: Store): Promise<Finding> {
  const known = migrationNames(store.dialect);
  const applied = await appliedMigrations(store);
  const pending = known.filter((name) => !applied.includes(name));
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    return fail('schema', `the schema has migrations this version does not know (${unknown.join(', ')}): a newer Airlock migrated it`, 'run the Airlock version that migrated it, or restore a backup made with this version');
  }
  if (applied.length === 0) return fail('schema', 'the store holds no schema yet', '`airlock init` (or `airlock migrate`) creates it');
  if (pending.length > 0) return fail('schema', `${pending.length} migration(s) not applied: ${pending.join(', ')}`, '`airlock migrate` (servers also migrate when they start)');
  return ok('schema', `up to date (${applied.length} migrations, the last ${applied[applied.length - 1]})`);
}
