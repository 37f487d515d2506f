import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { totpCode } from '../../src/identity/totp.js';
import { runCli } from '../helpers/cli.js';
import { createDatabase } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { tmpDir } from '../helpers/tmp.js';

const PASSWORD = 'Quiet-Orchard-Lantern-42';

describe('people on the command line', () => {
  it('adds an approver, logs in, enrolls TOTP, approves a HIGH request with a code, and is cut off when disabled', async () => {
    const gate = await startGate('sqlite');
    const database = gate.server.runtime.config;
    const cwd = tmpDir();
    // Admin commands act on the server's store directly; client commands talk to it over HTTP.
    const admin = { AIRLOCK_DATA_DIR: database.paths.base, AIRLOCK_DATABASE_URL: gate.database.url };
    const client = { AIRLOCK_URL: gate.url, AIRLOCK_CREDENTIALS_FILE: join(cwd, 'credentials.json') };

    // Three people at once: independent additions to the same store.
    const [added, weak, generated] = await Promise.all([
      runCli(['users', 'add', 'alice', '--role', 'approver', '--password-stdin'], { cwd, env: admin, input: `${PASSWORD}\n` }),
      runCli(['users', 'add', 'bob', '--role', 'approver', '--password-stdin'], { cwd, env: admin, input: 'bob12345\n' }),
      runCli(['users', 'add', 'carl', '--role', 'auditor'], { cwd, env: admin }),
    ]);
    expect(added, added.stderr).toMatchObject({ code: 0, stdout: 'added user alice with the role approver\n' });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('weak_password');
    expect(generated.stdout).toMatch(/^password \(shown only now\): [\w-]{24}$/m);

    const login = await runCli(['login', '--user', 'alice', '--password-stdin'], { cwd, env: client, input: `${PASSWORD}\n` });
    expect(login).toMatchObject({ code: 0, stdout: `logged in to ${gate.url} as alice (approver)\n` });
    expect(statSync(client.AIRLOCK_CREDENTIALS_FILE).mode & 0o777).toBe(0o600);
    const whoami = await runCli(['whoami'], { cwd, env: client });
    expect(whoami.stdout).toContain('alice (approver) via login');
    expect(whoami.stdout).toContain('approvals:decide');

    const enroll = await runCli(['totp', 'enroll', '--json'], { cwd, env: client });
    const secret = JSON.parse(enroll.stdout).secret as string;
    const confirm = await runCli(['totp', 'confirm', totpCode(secret)], { cwd, env: client });
    expect(confirm.code).toBe(0);
    expect(confirm.stdout.match(/^ {2}[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/gm)).toHaveLength(10);

    const high = await gate.request({ command: 'apt-get install -y htop', deployment_env: 'dev' });
    const id = high.body.request.request_id as string;
    const withoutCode = await runCli(['approve', id], { cwd, env: client });
    expect(withoutCode.code).toBe(1);
    expect(withoutCode.stderr).toContain('step_up_required');
    const code = totpCode(secret, Date.now() + 30_000);
    const approved = await runCli(['approve', id, '--totp', code], { cwd, env: client });
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`request ${id}: APPROVED`);

    const plan = await runCli(['challenge', 'plan', 'rotate-nginx', '--json'], { cwd, env: client });
    const challenge = JSON.parse(plan.stdout).challenge_id as string;
    const reuse = await runCli(['challenge', 'approve', challenge, code], { cwd, env: client });
    expect(reuse.stderr).toContain('totp_replayed');
    const status = await runCli(['challenge', 'status', challenge], { cwd, env: client });
    expect(status.stdout).toContain(`challenge ${challenge}: PENDING`);

    const list = await runCli(['users', 'list'], { cwd, env: admin });
    expect(list.stdout).toMatch(/^alice\s+approver\s+active\s+totp$/m);
    expect((await runCli(['users', 'disable', 'alice'], { cwd, env: admin })).stdout).toBe('disabled alice: ended 1 session(s), revoked 0 API key(s)\n');
    const after = await runCli(['whoami'], { cwd, env: client });
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('log in again');
  });

  it('refuses a weak bootstrap password at start, and logs the first admin in with a strong one', async () => {
    const database = await createDatabase('sqlite');
    const cwd = tmpDir();
    const refused = await runCli(['init'], { cwd, env: { AIRLOCK_DATABASE_URL: database.url, AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: 'changeme' } });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD is refused');
    const accepted = await runCli(['init'], { cwd, env: { AIRLOCK_DATABASE_URL: database.url, BOOTSTRAP_ADMIN_USERNAME: 'root', BOOTSTRAP_ADMIN_PASSWORD: PASSWORD } });
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toContain('admin user:     root (password from AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD)');
    expect(accepted.stdout).not.toContain(PASSWORD);
    const [users, keys] = await Promise.all([
      runCli(['users', 'list', '--json'], { cwd, env: { AIRLOCK_DATABASE_URL: database.url } }),
      runCli(['keys', 'list', '--json'], { cwd, env: { AIRLOCK_DATABASE_URL: database.url } }),
    ]);
    expect(JSON.parse(users.stdout)).toEqual([expect.objectContaining({ username: 'root', role: 'admin', kind: 'human' })]);
    // The first admin API key belongs to the first admin.
    expect(JSON.parse(keys.stdout)).toEqual([expect.objectContaining({ name: 'admin', owner: 'root', scopes: ['admin'] })]);
  });
});
