import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { TEST_ADMIN_PASSWORD } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * What docs/OPERATIONS.md says about upgrades and rollbacks: `airlock migrate` is safe to run again,
 * and a version of Airlock refuses a database that a newer version migrated (so a rollback across a
 * migration means restoring the backup taken before the upgrade).
 */
describe('upgrade and rollback', () => {
  it('airlock migrate applies the schema once, then reports it up to date', async () => {
    const cwd = tmpDir();
    const dataDir = join(cwd, 'data');
    const first = await runCli(['migrate', '--data-dir', dataDir], { cwd });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied 0001_audit, .*\(\d+ migration\(s\) known\)/);
    const again = await runCli(['migrate', '--data-dir', dataDir], { cwd });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/: up to date \(\d+ migration\(s\) known\)/);
  });

  it('a database migrated by a newer version is refused by migrate and by serve', async () => {
    const cwd = tmpDir();
    const dataDir = join(cwd, 'data');
    expect((await runCli(['migrate', '--data-dir', dataDir], { cwd })).code).toBe(0);
    // What a newer version leaves behind: a migration this version does not have.
    const db = new Database(join(dataDir, 'airlock.db'));
    db.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('9999_from_a_newer_version', new Date().toISOString());
    db.close();

    const migrate = await runCli(['migrate', '--data-dir', dataDir], { cwd });
    expect(migrate.code).toBe(1);
    expect(migrate.stderr).toContain('corrupted migrations: previously executed migration 9999_from_a_newer_version is missing [migration_failed]');
    const serve = await runCli(['serve', '--port', '0', '--data-dir', dataDir], { cwd, env: { AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD } });
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toContain('previously executed migration 9999_from_a_newer_version is missing');
  });
});
