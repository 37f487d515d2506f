import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKUP_TABLES } from '../../src/backup/index.js';
import { populate, tableCounts, tableRows } from '../helpers/backup.js';
import { runCli } from '../helpers/cli.js';
import { createDatabase, createStore, storeKinds } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { tmpDir } from '../helpers/tmp.js';

describe.each(storeKinds())('the tables a backup holds, on %s', (kind) => {
  it('are every table of the migrated schema', async () => {
    const { store } = await createStore(kind);
    const tables =
      kind === 'sqlite'
        ? await store.db.selectFrom('sqlite_master' as never).select('name' as never).where('type' as never, '=', 'table' as never).execute()
        : await store.db.selectFrom('information_schema.tables' as never).select('table_name as name' as never).where('table_schema' as never, '=', 'public' as never).execute();
    const names = (tables as Array<{ name: string }>).map((row) => row.name).filter((name) => !name.startsWith('kysely_') && !name.startsWith('sqlite_'));
    expect(names.sort()).toEqual([...BACKUP_TABLES].sort());
  });
});

describe.runIf(storeKinds().includes('postgres'))('a backup of one database restored into the other', () => {
  it('goes from SQLite to PostgreSQL and back with the identical chain and rows', async () => {
    const gate = await startGate('sqlite', { audit: { checkpointEvery: 7 } });
    await populate(gate);
    const dataDir = gate.server.runtime.config.paths.base;
    const cwd = tmpDir();
    const cli = (args: string[], url: string) => runCli([...args, '--data-dir', dataDir, '--database-url', url], { cwd });

    const fromSqlite = join(cwd, 'sqlite.backup');
    const first = await cli(['backup', '--out', fromSqlite, '--json'], gate.database.url);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report.dialect).toBe('sqlite');

    const postgres = await createDatabase('postgres');
    const intoPostgres = await cli(['restore', '--in', fromSqlite], postgres.url);
    expect(intoPostgres.code, intoPostgres.stderr).toBe(0);
    const onPostgres = await cli(['audit', 'verify', '--json'], postgres.url);
    expect(onPostgres.code, onPostgres.stdout).toBe(0);
    expect(JSON.parse(onPostgres.stdout)).toMatchObject({ ok: true, headSeq: report.audit_head.seq, headHash: report.audit_head.hash, checkpoints: report.tables.audit_checkpoints });

    const fromPostgres = join(cwd, 'postgres.backup');
    const second = await cli(['backup', '--out', fromPostgres, '--json'], postgres.url);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ dialect: 'postgres', audit_head: report.audit_head, tables: report.tables });

    const sqlite = await createDatabase('sqlite');
    const back = await cli(['restore', '--in', fromPostgres], sqlite.url);
    expect(back.code, back.stderr).toBe(0);
    const onSqlite = await cli(['audit', 'verify', '--json'], sqlite.url);
    expect(onSqlite.code, onSqlite.stdout).toBe(0);
    expect(JSON.parse(onSqlite.stdout)).toMatchObject({ ok: true, headSeq: report.audit_head.seq, headHash: report.audit_head.hash });

    // Every row of every table, the same in all three databases (values keep their types across dialects).
    expect(await tableCounts(postgres)).toEqual(report.tables);
    expect(await tableCounts(sqlite)).toEqual(report.tables);
    for (const table of BACKUP_TABLES) {
      if (table === 'outbox_cursors' || table === 'deliveries' || table === 'delivery_attempts' || table === 'sessions') continue;
      const original = await tableRows(gate.database, table, { seqAtMost: report.audit_head.seq });
      expect(await tableRows(postgres, table), table).toEqual(original);
      expect(await tableRows(sqlite, table), table).toEqual(original);
    }
    // Rows the running server may still touch after the backup (cursors, sessions) compare between the restored two.
    for (const table of ['outbox_cursors', 'deliveries', 'delivery_attempts', 'sessions'] as const) {
      expect(await tableRows(sqlite, table), table).toEqual(await tableRows(postgres, table));
    }
  }, 300_000);
});
