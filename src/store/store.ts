import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseTarget } from '../config/database-url.js';
import { maskUrl } from '../config/database-url.js';
import { AirlockError, messageOf } from '../errors.js';
import type { Database } from './tables.js';

export type Dialect = DatabaseTarget['dialect'];

/** A unit of work: queries on `db` commit or roll back together; `onCommit` runs only after a commit. */
export interface Tx {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  onCommit(callback: () => void): void;
}

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Where the data is, password masked: for messages and health. */
  readonly description: string;
  /** How to reach the same data again: for readers that open connections of their own (verification). */
  readonly target: DatabaseTarget;
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  readonly poolSize?: number;
  readonly connectTimeoutMs?: number;
}

/** PostgreSQL's bigint (oid 20) as a JS number: sequence numbers stay far below 2^53. */
export const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export async function openStore(target: DatabaseTarget, options: StoreOptions = {}): Promise<Store> {
  const store = target.dialect === 'sqlite' ? openSqlite(target.file) : openPostgres(target.url, options);
  try {
    await store.ping();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

function openSqlite(file: string): Store {
  let connection: SQLite.Database;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    connection = new SQLite(file);
    connection.pragma('journal_mode = WAL');
    connection.pragma('busy_timeout = 10000');
    connection.pragma('foreign_keys = ON');
    connection.pragma('synchronous = NORMAL');
  } catch (error) {
    throw new AirlockError('store_unavailable', `cannot open the SQLite database ${file}: ${messageOf(error)}`, { status: 503, cause: error });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(connection) }) });
  return {
    db,
    dialect: 'sqlite',
    description: `SQLite ${file}`,
    target: { dialect: 'sqlite', file },
    transaction: groupCommit(db),
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

interface Queued {
  readonly work: (tx: Tx) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

const BEGIN = CompiledQuery.raw('begin immediate');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');
const SAVEPOINT = CompiledQuery.raw('savepoint airlock_tx');
const RELEASE = CompiledQuery.raw('release airlock_tx');
const ROLLBACK_TO = CompiledQuery.raw('rollback to airlock_tx');
/** At most this many transactions share one commit, so the first of them never waits long. */
const GROUP_LIMIT = 32;

/**
 * Group commit on SQLite's single connection. Transactions asked for while another runs queue up; the
 * queue then runs as one SQLite transaction (BEGIN IMMEDIATE … COMMIT), each unit of work inside a
 * savepoint of its own, one after the other, so each sees the chain head the previous one left. A
 * unit that fails rolls back to its savepoint and takes nothing else with it. Nobody is answered and
 * no onCommit callback runs before the shared COMMIT has succeeded; if it fails, every unit fails.
 * One commit writes the pages the units share (the chain head, the tables' last leaves) once, instead
 * of once per unit, and WAL checkpoints come correspondingly less often.
 */
function groupCommit(db: Kysely<Database>): Store['transaction'] {
  const queue: Queued[] = [];
  let draining = false;

  async function runGroup(conn: Kysely<Database>, group: Queued[]): Promise<void> {
    // BEGIN IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read lock.
    await conn.executeQuery(BEGIN);
    const outcomes: Array<{ ok: true; value: unknown; callbacks: Array<() => void> } | { ok: false; error: unknown }> = [];
    const alone = group.length === 1;
    try {
      for (const item of group) {
        const callbacks: Array<() => void> = [];
        if (!alone) await conn.executeQuery(SAVEPOINT);
        try {
          const value = await item.work({ db: conn, dialect: 'sqlite', onCommit: (callback) => callbacks.push(callback) });
          if (!alone) await conn.executeQuery(RELEASE);
          outcomes.push({ ok: true, value, callbacks });
        } catch (error) {
          if (alone) throw error;
          try {
            await conn.executeQuery(ROLLBACK_TO);
            await conn.executeQuery(RELEASE);
          } catch {
            // SQLite ended the whole transaction (an I/O error, a full disk): nothing of the group is
            // committed, so every unit fails with this error.
            throw error;
          }
          outcomes.push({ ok: false, error });
        }
      }
      await conn.executeQuery(COMMIT);
    } catch (error) {
      await conn.executeQuery(ROLLBACK).catch(() => undefined);
      for (const item of group) item.reject(error);
      return;
    }
    group.forEach((item, index) => {
      const outcome = outcomes[index];
      if (!outcome) return;
      if (!outcome.ok) {
        item.reject(outcome.error);
        return;
      }
      try {
        for (const callback of outcome.callbacks) callback();
        item.resolve(outcome.value);
      } catch (error) {
        item.reject(error);
      }
    });
  }

  async function drain(): Promise<void> {
    draining = true;
    try {
      while (queue.length > 0) {
        // One turn of the event loop first, so requests already read from their sockets can join.
        await new Promise((resolve) => setImmediate(resolve));
        let group: Queued[] = [];
        try {
          await db.connection().execute((conn) => {
            // Taken once the connection is ours: whatever queued while we waited for it joins in.
            group = queue.splice(0, GROUP_LIMIT);
            return runGroup(conn, group);
          });
        } catch (error) {
          for (const item of group) item.reject(error);
        }
      }
    } finally {
      draining = false;
    }
  }

  return <T>(work: (tx: Tx) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!draining) void drain();
    });
}

/**
 * Kysely prepares every query anew; preparing costs about as much as running a small statement, so
 * statements are kept by their SQL text (Kysely's queries are parameterised, so the set stays small).
 */
function withStatementCache(connection: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const LIMIT = 500;
  return new Proxy(connection, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (sql: string) => {
        let statement = cache.get(sql);
        if (!statement) {
          if (cache.size >= LIMIT) cache.clear();
          statement = target.prepare(sql);
          cache.set(sql, statement);
        }
        return statement;
      };
    },
  });
}

function openPostgres(url: string, options: StoreOptions): Store {
  const description = `PostgreSQL ${maskUrl(url)}`;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    types: pgTypes,
  });
  // A client that loses its server (idle or checked out) must not crash the process: the query in
  // flight fails with the error, and the pool replaces the client on the next checkout.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    description,
    target: { dialect: 'postgres', url },
    transaction: async (work) => {
      const callbacks: Array<() => void> = [];
      const result = await withUnavailable(description, () =>
        db.transaction().execute((trx) => work({ db: trx, dialect: 'postgres', onCommit: (callback) => callbacks.push(callback) })),
      );
      for (const callback of callbacks) callback();
      return result;
    },
    ping: () =>
      withUnavailable(description, async () => {
        await sql`select 1`.execute(db);
      }),
    close: () => db.destroy(),
  };
}

const CONNECTION_ERRORS = new Set(['55000', 'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P03', '3D000', '28P01', '28000']);

/** Turns "cannot reach the database" into one clear error with a stable code; other errors pass through. */
async function withUnavailable<T>(description: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isConnectionError(error)) {
      throw new AirlockError('store_unavailable', `cannot reach the database (${description}): ${messageOf(error)}`, { status: 503, cause: error });
    }
    throw error;
  }
}

/** Whether an error is a unique constraint refusing a second row with the same key (PostgreSQL or SQLite). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Whether an error means the database cannot be reached (rather than a bad statement). */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) return true;
  return error instanceof Error && /timeout exceeded when trying to connect|Connection terminated/i.test(error.message);
}
