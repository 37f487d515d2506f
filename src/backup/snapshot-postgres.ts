import pg from 'pg';
import { maskUrl } from '../config/database-url.js';
import { AirlockError, messageOf } from '../errors.js';
import { isConnectionError, pgTypes } from '../store/store.js';
import type { Query } from './catalog.js';
import { PAGE_ROWS, describeSnapshot, selectAll, type Snapshot, type SnapshotTable } from './snapshot.js';

/**
 * PostgreSQL: one connection, one REPEATABLE READ, READ ONLY transaction. Every read in it sees the
 * database as it stood at its first query, whatever the servers commit meanwhile, so counts, the
 * chain head and every table agree with each other. Rows come through a server-side cursor, a page
 * at a time, so no table is ever held in memory.
 */
export async function openPostgresSnapshot(url: string, connectTimeoutMs: number): Promise<Snapshot> {
  const source = `PostgreSQL ${maskUrl(url)}`;
  const client = new pg.Client({ connectionString: url, types: pgTypes, connectionTimeoutMillis: connectTimeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('begin isolation level repeatable read, read only');
  } catch (error) {
    await client.end().catch(() => undefined);
    if (isConnectionError(error)) throw new AirlockError('store_unavailable', `cannot reach the database (${source}): ${messageOf(error)}`, { status: 503, cause: error });
    throw error;
  }
  const query: Query = async <Row>(text: string, parameters: readonly unknown[] = []) =>
    (await client.query(text, parameters as unknown[])).rows as Row[];
  let cursors = 0;
  try {
    const described = await describeSnapshot('postgres', query, source);
    return {
      dialect: 'postgres',
      ...described,
      async *rows(table: SnapshotTable) {
        const cursor = `airlock_backup_${++cursors}`;
        await client.query(`declare ${cursor} no scroll cursor for ${selectAll(table)}`);
        try {
          for (;;) {
            const { rows } = await client.query({ text: `fetch forward ${PAGE_ROWS} from ${cursor}`, rowMode: 'array' });
            if (rows.length === 0) return;
            yield rows as unknown[][];
            if (rows.length < PAGE_ROWS) return;
          }
        } finally {
          await client.query(`close ${cursor}`).catch(() => undefined);
        }
      },
      async close() {
        await client.query('rollback').catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}
