import SQLite from 'better-sqlite3';
import pg from 'pg';
import type { DatabaseTarget } from '../config/database-url.js';
import { pgTypes } from '../store/store.js';
import type { AuditEvent } from './canonical.js';

const COLUMNS = 'seq, id, time, actor, action, subject_type, subject_id, environment, target, data, prev_hash, hash';
const PG_PAGE = 20_000;

/**
 * Visits the events with from <= seq <= to in order, on a connection of its own, calling `visit`
 * synchronously for each row until it returns false. This is verification's hot loop: SQLite rows are
 * streamed straight from the statement (no pages, no promise per row); PostgreSQL rows come in pages.
 */
export async function scanEvents(target: DatabaseTarget, from: number, to: number, visit: (event: AuditEvent) => boolean): Promise<void> {
  if (target.dialect === 'sqlite') {
    const db = new SQLite(target.file, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare(`select ${COLUMNS} from audit_events where seq >= ? and seq <= ? order by seq`).iterate(from, to);
      for (const row of rows as IterableIterator<AuditEvent>) if (!visit(row)) break;
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: target.url, types: pgTypes });
  await client.connect();
  try {
    let next = from;
    while (next <= to) {
      const { rows } = await client.query<AuditEvent>(`select ${COLUMNS} from audit_events where seq >= $1 and seq <= $2 order by seq limit ${PG_PAGE}`, [next, to]);
      for (const row of rows) if (!visit(row)) return;
      if (rows.length < PG_PAGE) return;
      next = (rows[rows.length - 1] as AuditEvent).seq + 1;
    }
  } finally {
    await client.end();
  }
}
