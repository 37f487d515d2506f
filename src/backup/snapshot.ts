import type { DatabaseTarget } from '../config/database-url.js';
import { AirlockError } from '../errors.js';
import type { Dialect } from '../store/store.js';
import { existingTables, migrationsOf, tableShape, type Query } from './catalog.js';
import { BACKUP_TABLES } from './tables.js';

export interface SnapshotTable {
  readonly name: string;
  readonly columns: string[];
  readonly primaryKey: string[];
  readonly rows: number;
}

/** The store as it stood at one instant, read table by table while servers keep writing. */
export interface Snapshot {
  readonly dialect: Dialect;
  readonly migrations: string[];
  readonly head: { readonly seq: number; readonly hash: string; readonly checkpoint_seq: number };
  /** The Airlock tables present, in BACKUP_TABLES order, with their row counts in the snapshot. */
  readonly tables: SnapshotTable[];
  /** The key ids that signed checkpoints. */
  readonly checkpointKeys: string[];
  /** A table's rows in primary-key order, as arrays in column order, a page at a time. */
  rows(table: SnapshotTable): AsyncGenerator<unknown[][]>;
  close(): Promise<void>;
}

/** Rows per page read from the snapshot. */
export const PAGE_ROWS = 1000;

/** What every snapshot reads once its view is fixed: schema, tables and counts, the chain head. */
export async function describeSnapshot(dialect: Dialect, query: Query, source: string): Promise<Omit<Snapshot, 'rows' | 'close' | 'dialect'>> {
  const present = await existingTables(dialect, query);
  const migrations = await migrationsOf(query, present);
  if (migrations.length === 0 || !present.has('audit_head')) {
    throw new AirlockError('backup_source_empty', `${source} holds no Airlock schema: run \`airlock migrate\` (or check --database-url)`);
  }
  const tables: SnapshotTable[] = [];
  for (const name of BACKUP_TABLES) {
    if (!present.has(name)) continue;
    const shape = await tableShape(dialect, query, name);
    const [counted] = await query<{ count: number | string }>(`select count(*) as count from "${name}"`);
    tables.push({ name, ...shape, rows: Number(counted?.count ?? 0) });
  }
  const [head] = await query<{ seq: number; hash: string; checkpoint_seq: number }>('select seq, hash, checkpoint_seq from audit_head where id = 1');
  if (!head) throw new AirlockError('backup_source_empty', `${source} has no audit head row: its schema is incomplete`);
  const keys = present.has('audit_checkpoints') ? await query<{ key_id: string }>('select distinct key_id from audit_checkpoints order by key_id') : [];
  return {
    migrations,
    head: { seq: Number(head.seq), hash: head.hash, checkpoint_seq: Number(head.checkpoint_seq) },
    tables,
    checkpointKeys: keys.map((row) => row.key_id),
  };
}

/** Opens a snapshot of the store: SQLite copies into `workDir` first; PostgreSQL waits `connectTimeoutMs` for a connection. */
export async function openSnapshot(target: DatabaseTarget, options: { workDir: string; connectTimeoutMs: number }): Promise<Snapshot> {
  if (target.dialect === 'sqlite') {
    const { openSqliteSnapshot } = await import('./snapshot-sqlite.js');
    return openSqliteSnapshot(target.file, options.workDir);
  }
  const { openPostgresSnapshot } = await import('./snapshot-postgres.js');
  return openPostgresSnapshot(target.url, options.connectTimeoutMs);
}

/** `select * … order by <primary key>` of a table, its columns named in the snapshot's order. */
export function selectAll(table: SnapshotTable): string {
  const order = table.primaryKey.length > 0 ? ` order by ${table.primaryKey.map((column) => `"${column}"`).join(', ')}` : '';
  return `select ${table.columns.map((column) => `"${column}"`).join(', ')} from "${table.name}"${order}`;
}
