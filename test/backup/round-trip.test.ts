import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAppender, populate, tableCounts, tableRows } from '../helpers/backup.js';
import { runCli } from '../helpers/cli.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

/** Tables nothing writes to while the backup runs (the appender only appends audit events). */
const SETTLED = ['users', 'api_keys', 'sessions', 'challenges', 'approvals', 'approval_decisions', 'executions', 'workspaces', 'webhook_subscriptions'] as const;

describe.each(storeKinds())('backup and restore on %s', (kind) => {
  it('takes a consistent backup while a writer appends, and restores it into an empty database with the identical chain', async () => {
    const gate = await startGate(kind, { audit: { checkpointEvery: 10 } });
    await populate(gate);
    const dataDir = gate.server.runtime.config.paths.base;
    const cwd = tmpDir();
    const cli = (args: string[], url = gate.database.url) => runCli([...args, '--data-dir', dataDir, '--database-url', url], { cwd });

    // A second process appends to the chain from before the backup starts until after it has ended.
    const appender = startAppender(dataDir, gate.database.url);
    await appender.appended(20);
    const headBefore = (await gate.server.runtime.audit.head()).seq;
    const file = join(cwd, 'airlock.backup');
    const backup = await cli(['backup', '--out', file, '--json']);
    expect(backup.code, backup.stderr).toBe(0);
    const report = JSON.parse(backup.stdout);
    await appender.appended(appender.count + 20);
    const appended = await appender.stop();
    const headAfter = (await gate.server.runtime.audit.head()).seq;
    expect(report.audit_head.seq).toBeGreaterThanOrEqual(headBefore);
    expect(headAfter).toBeGreaterThan(report.audit_head.seq);
    expect(appended).toBeGreaterThanOrEqual(40);

    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(report).toMatchObject({ file, dialect: kind, schema: expect.stringMatching(/^\d{4}_/), keys: { included: false, files: [] } });
    expect(report.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The snapshot is one instant: the head row, the events and the checkpoints agree with each other.
    expect(report.tables.audit_events).toBe(report.audit_head.seq);
    expect(report.tables.users).toBeGreaterThanOrEqual(3);
    expect(report.tables.executions).toBe(1);
    expect(report.tables.audit_checkpoints).toBeGreaterThan(0);

    const target = await createDatabase(kind);
    const restored = await cli(['restore', '--in', file, '--json'], target.url);
    expect(restored.code, restored.stderr).toBe(0);
    const restoreReport = JSON.parse(restored.stdout);
    expect(restoreReport).toMatchObject({ audit_head: report.audit_head, tables: report.tables, chain_checked: report.audit_head.seq, keys: { in_backup: false, restored: [] } });
    expect(restoreReport.checkpoint_keys.every((key: { known: boolean }) => key.known)).toBe(true);

    const verified = await cli(['audit', 'verify', '--json'], target.url);
    expect(verified.code, verified.stdout).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, headSeq: report.audit_head.seq, headHash: report.audit_head.hash, count: report.audit_head.seq, checkpoints: report.tables.audit_checkpoints });

    expect(await tableCounts(target)).toEqual(report.tables);
    for (const table of SETTLED) expect(await tableRows(target, table), table).toEqual(await tableRows(gate.database, table));
    // The chain up to the backup's head, row for row; the source went on past it.
    for (const table of ['audit_events', 'audit_checkpoints'] as const) {
      expect(await tableRows(target, table), table).toEqual(await tableRows(gate.database, table, { seqAtMost: report.audit_head.seq }));
    }

    // A server on the restored store (and the same keys) takes the same API keys and knows the same requests.
    const restoredServer = await startTestServer({ dataDir, database: { url: target.url } });
    const executed = (await gate.server.runtime.store.db.selectFrom('approvals').select('id').where('status', '=', 'EXECUTED').executeTakeFirstOrThrow()).id;
    const polled = await http('GET', `${restoredServer.url}/approvals/${executed}`, { headers: bearer(gate.agent) });
    expect(polled.status, polled.text).toBe(200);
    expect(polled.body.request).toMatchObject({ request_id: executed, status: 'EXECUTED' });
  }, 300_000);

  it('restores nothing into a database that holds data', async () => {
    const gate = await startGate(kind);
    const dataDir = gate.server.runtime.config.paths.base;
    const cwd = tmpDir();
    const file = join(cwd, 'airlock.backup');
    const cli = (args: string[]) => runCli([...args, '--data-dir', dataDir, '--database-url', gate.database.url], { cwd });
    expect((await cli(['backup', '--out', file])).code).toBe(0);
    const head = await gate.server.runtime.audit.head();
    const refused = await cli(['restore', '--in', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds data \(users, api_keys, .*audit_events.*\).*\[restore_target_not_empty\]/);
    expect(await gate.server.runtime.audit.head()).toEqual(head);

    // Running it twice into a new database: the second run finds the first one's rows.
    const target = await createDatabase(kind);
    const into = (args: string[]) => runCli([...args, '--data-dir', dataDir, '--database-url', target.url], { cwd });
    expect((await into(['restore', '--in', file])).code).toBe(0);
    const again = await into(['restore', '--in', file]);
    expect(again.stderr).toMatch(/\[restore_target_not_empty\]/);
    expect(await tableCounts(target)).toMatchObject({ audit_events: head.seq, audit_head: 1 });

    // A database that was only migrated holds no data yet: it is a fine target.
    const migrated = await createDatabase(kind);
    const onMigrated = (args: string[]) => runCli([...args, '--data-dir', dataDir, '--database-url', migrated.url], { cwd });
    expect((await onMigrated(['migrate'])).code).toBe(0);
    const restored = await onMigrated(['restore', '--in', file]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(await tableCounts(migrated)).toMatchObject({ audit_events: head.seq, audit_head: 1 });
  }, 300_000);

  it('replaces an existing backup file only with --force, and never leaves a partial file', async () => {
    const gate = await startGate(kind);
    const dataDir = gate.server.runtime.config.paths.base;
    const cwd = tmpDir();
    const file = join(cwd, 'airlock.backup');
    const cli = (args: string[]) => runCli([...args, '--data-dir', dataDir, '--database-url', gate.database.url], { cwd });
    expect((await cli(['backup', '--out', file])).code).toBe(0);
    const first = statSync(file);
    const again = await cli(['backup', '--out', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists.*--force.*\[backup_output_exists\]/);
    expect(statSync(file).mtimeMs).toBe(first.mtimeMs);
    expect((await cli(['backup', '--out', file, '--force'])).code).toBe(0);
    const missing = await cli(['backup', '--out', join(cwd, 'no', 'such', 'dir', 'x.backup')]);
    expect(missing.stderr).toMatch(/\[backup_output_unwritable\]/);
    // A source that fails after the output was opened: the temporary file goes too.
    const unreachable = kind === 'sqlite' ? `sqlite:${join(cwd, 'missing.db')}` : 'postgres://postgres@127.0.0.1:1/nothing';
    const failed = await runCli(['backup', '--out', join(cwd, 'failed.backup'), '--data-dir', dataDir, '--database-url', unreachable], { cwd });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(kind === 'sqlite' ? /does not exist .*\[backup_source_empty\]/ : /cannot reach the database .*\[store_unavailable\]/);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(cwd)).toEqual(['airlock.backup']);
  }, 300_000);
});
