import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import { parseDatabaseUrl, type DatabaseTarget } from '../../src/config/index.js';
import { migrate, openStore, type Store } from '../../src/store/index.js';
import { tmpDir } from './tmp.js';

export type StoreKind = 'sqlite' | 'postgres';

/** A fresh, empty database of one kind: its URL (for processes) and its target (for in-process use). */
export interface TestDatabase {
  readonly kind: StoreKind;
  readonly url: string;
  readonly target: DatabaseTarget;
}

const drops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const drop of drops.splice(0)) await drop();
});

/** The kinds of store to run against: SQLite always, PostgreSQL when AIRLOCK_TEST_DATABASE_URL is set. */
export function storeKinds(): StoreKind[] {
  return process.env.AIRLOCK_TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** Creates a database of its own for one test (a SQLite file, or a new PostgreSQL database dropped after the file). */
export async function createDatabase(kind: StoreKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const url = `sqlite:${join(tmpDir(), 'airlock.db')}`;
    return { kind, url, target: target(url) };
  }
  const adminUrl = process.env.AIRLOCK_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('AIRLOCK_TEST_DATABASE_URL is not set');
  const name = `airlock_t_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, `create database ${name}`);
  drops.push(() => admin(adminUrl, `drop database if exists ${name} with (force)`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { kind, url: url.toString(), target: target(url.toString()) };
}

/**
 * A copy of `source` as it is now, under a new name (a copied SQLite file, or a PostgreSQL database
 * made from `source` as its template): for tests that each change one of several identical databases.
 * Nothing may be connected to `source` while it is copied.
 */
export async function cloneDatabase(source: TestDatabase): Promise<TestDatabase> {
  if (source.kind === 'sqlite') {
    const from = (source.target as { file: string }).file;
    const file = join(tmpDir(), 'airlock.db');
    copyFileSync(from, file);
    for (const suffix of ['-wal', '-shm']) if (existsSync(from + suffix)) copyFileSync(from + suffix, file + suffix);
    const url = `sqlite:${file}`;
    return { kind: source.kind, url, target: target(url) };
  }
  const adminUrl = process.env.AIRLOCK_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('AIRLOCK_TEST_DATABASE_URL is not set');
  const name = `airlock_t_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, `create database ${name} template ${new URL(source.url).pathname.slice(1)}`);
  drops.push(() => admin(adminUrl, `drop database if exists ${name} with (force)`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { kind: source.kind, url: url.toString(), target: target(url.toString()) };
}

/** A fresh database with the schema in place, opened. */
export async function createStore(kind: StoreKind): Promise<{ store: Store; database: TestDatabase }> {
  const database = await createDatabase(kind);
  const store = await openStore(database.target);
  await migrate(store);
  drops.unshift(() => store.close().catch(() => undefined));
  return { store, database };
}

/** Runs one statement as the database owner, bypassing Airlock (used to tamper with the chain on purpose). */
export async function rawSql(database: TestDatabase, statement: string, params: unknown[] = []): Promise<void> {
  if (database.kind === 'postgres') {
    await admin(database.url, statement, params);
    return;
  }
  const { default: SQLite } = await import('better-sqlite3');
  const connection = new SQLite((database.target as { file: string }).file);
  try {
    connection.prepare(statement).run(...params);
  } finally {
    connection.close();
  }
}

async function admin(url: string, statement: string, params: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement, params);
  } finally {
    await client.end();
  }
}

function target(url: string): DatabaseTarget {
  const parsed = parseDatabaseUrl(url, '', process.cwd());
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

/** What an attacker with the owner's password does first: remove the append-only triggers. */
export async function dropAppendOnlyTriggers(database: TestDatabase): Promise<void> {
  const statements =
    database.kind === 'postgres'
      ? ['audit_events', 'audit_checkpoints'].flatMap((table) => [`drop trigger ${table}_append_only on ${table}`, `drop trigger ${table}_no_truncate on ${table}`])
      : ['audit_events', 'audit_checkpoints'].flatMap((table) => [`drop trigger ${table}_no_update`, `drop trigger ${table}_no_delete`]);
  for (const statement of statements) await rawSql(database, statement);
}
