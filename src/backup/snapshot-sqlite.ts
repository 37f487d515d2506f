import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { AirlockError, messageOf } from '../errors.js';
import type { Query } from './catalog.js';
import { PAGE_ROWS, describeSnapshot, selectAll, type Snapshot, type SnapshotTable } from './snapshot.js';

/**
 * SQLite: SQLite's online backup API copies the database, pages committed in the WAL included, into
 * a private file in one step (a read transaction: writers in other processes go on; if one commits
 * in between, the copy restarts by itself). That file is the snapshot; rows are read from it, and it
 * is removed on close.
 */
export async function openSqliteSnapshot(file: string, workDir: string): Promise<Snapshot> {
  if (!existsSync(file)) throw new AirlockError('backup_source_empty', `the SQLite database ${file} does not exist (check --data-dir or --database-url)`);
  const copy = join(workDir, `.airlock-snapshot-${randomBytes(6).toString('hex')}.db`);
  const remove = (): void => {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${copy}${suffix}`, { force: true });
  };
  let snapshot: SQLite.Database | undefined;
  try {
    // Made private before a byte is copied into it.
    closeSync(openSync(copy, 'wx', 0o600));
    const source = new SQLite(file, { readonly: true, fileMustExist: true });
    try {
      source.pragma('busy_timeout = 10000');
      // The whole database in one step: the largest count SQLite takes.
      await source.backup(copy, { progress: () => 0x7fffffff });
    } finally {
      source.close();
    }
    snapshot = new SQLite(copy, { fileMustExist: true });
    snapshot.pragma('journal_mode = DELETE');
  } catch (error) {
    snapshot?.close();
    remove();
    if (error instanceof AirlockError) throw error;
    throw new AirlockError('backup_failed', `cannot take a snapshot of ${file}: ${messageOf(error)}`, { cause: error });
  }
  const db = snapshot;
  const query: Query = async <Row>(text: string, parameters: readonly unknown[] = []) => db.prepare(text).all(...parameters) as Row[];
  try {
    const described = await describeSnapshot('sqlite', query, `SQLite ${file}`);
    return {
      dialect: 'sqlite',
      ...described,
      async *rows(table: SnapshotTable) {
        let page: unknown[][] = [];
        for (const row of db.prepare(selectAll(table)).raw(true).iterate() as IterableIterator<unknown[]>) {
          page.push(row);
          if (page.length >= PAGE_ROWS) {
            yield page;
            page = [];
          }
        }
        if (page.length > 0) yield page;
      },
      async close() {
        db.close();
        remove();
      },
    };
  } catch (error) {
    db.close();
    remove();
    throw error;
  }
}
