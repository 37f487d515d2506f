import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { execute, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { sshdMissing, startSshd, type Sshd } from '../helpers/sshd.js';
import { tmpDir } from '../helpers/tmp.js';

const missing = sshdMissing();

/** targets.yaml with one SSH target on the test's sshd, its key given through a variable. */
function targetsFile(sshd: Sshd, hostKey = sshd.hostKeyFingerprint, capabilities = 'exec, system:read'): string {
  const file = join(tmpDir(), 'targets.yaml');
  writeFileSync(
    file,
    `targets:
  box:
    executor: ssh
    connection:
      host: ${sshd.host}
      port: ${sshd.port}
      username: ${sshd.username}
      key_path: "${sshd.privateKeyFile}"
      host_key: "${hostKey}"
    environments: [dev]
    capabilities: [${capabilities}]
    constraints: { timeout: 20, concurrency: 2 }
`,
  );
  return file;
}

describe.skipIf(missing !== undefined)('a gated run on an SSH target (real OpenSSH on loopback)', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('runs the approved argv on the host through the gateway (arguments arrive literally), with a receipt, and checks the target', async () => {
    const file = targetsFile(sshd);
    const gate = await startGate('sqlite', { targets: { file } });
    const created = await gate.request({ command: "printf '%s|' 'a b' '$(id)'", deployment_env: 'dev', target: 'box' });
    expect(created.status).toBe(201);
    const id = created.body.request.request_id as string;
    const minted = await http('POST', `${gate.url}/gateway/token`, { headers: bearer(gate.approver), json: { approval_id: id, command: "printf '%s|' 'a b' '$(id)'", environment: 'dev' } });
    const run = await execute(gate.url, minted.body.token, { command: "printf '%s|' 'a b' '$(id)'", approval_id: id, environment: 'dev' });
    expect(run.body).toMatchObject({ success: true, exit_code: 0, output: 'a b|$(id)|' });
    expect(run.body.receipt).toEqual(expect.any(String));

    const check = await runCli(['targets', 'check'], { cwd: tmpDir(), env: { AIRLOCK_TARGETS_FILE: file } });
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^OK {3}box .*OpenSSH.*\(host key match\)$/m);
  });

  it('refuses to reach a host whose key is not the pinned one: the run fails, nothing is sent, and it is audited', async () => {
    const wrong = `SHA256:${'B'.repeat(43)}`;
    const file = targetsFile(sshd, wrong);
    const check = await runCli(['targets', 'check'], { cwd: tmpDir(), env: { AIRLOCK_TARGETS_FILE: file } });
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^FAIL box .*host key mismatch/m);

    const gate = await startGate('sqlite', { targets: { file } });
    const logins = sshd.acceptedLogins();
    const marker = join(tmpDir(), 'marker');
    const created = await gate.request({ command: `touch ${marker}`, deployment_env: 'dev', target: 'box' });
    const id = created.body.request.request_id as string;
    if (created.body.request.status === 'PENDING') await gate.decide(id, 'approve');
    const minted = await http('POST', `${gate.url}/gateway/token`, { headers: bearer(gate.approver), json: { approval_id: id, command: `touch ${marker}`, environment: 'dev' } });
    const run = await execute(gate.url, minted.body.token, { command: `touch ${marker}`, approval_id: id, environment: 'dev' });
    expect(run.body.success).toBe(false);
    expect(sshd.acceptedLogins()).toBe(logins);
    expect(existsSync(marker)).toBe(false);
    const executions = await gate.server.runtime.store.db.selectFrom('executions').select(['status', 'error']).execute();
    expect(executions).toMatchObject([{ status: 'failed', error: expect.stringContaining('host key') }]);
    expect(await gate.auditActions()).toEqual(expect.arrayContaining(['target.host_key_mismatch', 'execution.finished']));
  });

  it('carries out typed operations on the host: file.write keeps a backup over SFTP, file.rollback restores it, system.info reads the host', async () => {
    const gate = await startGate('sqlite', { targets: { file: targetsFile(sshd, sshd.hostKeyFingerprint, 'exec, system:read, system:write') } });
    const dir = tmpDir();
    const path = join(dir, 'remote.conf');
    writeFileSync(path, 'old\n');
    chmodSync(path, 0o600);
    const run = async (op: { name: string; args?: Record<string, unknown> }) => {
      const created = await gate.request({ op, deployment_env: 'dev', target: 'box' });
      expect(created.status, created.text).toBe(201);
      const id = created.body.request.request_id as string;
      if (created.body.request.status === 'PENDING') await gate.decide(id, 'approve');
      const minted = await http('POST', `${gate.url}/gateway/token`, { headers: bearer(gate.approver), json: { approval_id: id, op, environment: 'dev' } });
      return execute(gate.url, minted.body.token, { op, approval_id: id, environment: 'dev' });
    };

    const written = await run({ name: 'file.write', args: { path, content_base64: Buffer.from('new\n').toString('base64') } });
    expect(written.body, written.text).toMatchObject({ success: true, result: { path, bytes: 4, created: false, mode: '0600' } });
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const backup = written.body.result.backup_path as string;
    expect(readFileSync(backup, 'utf8')).toBe('old\n');

    const read = await run({ name: 'file.read', args: { path } });
    expect(read.body).toMatchObject({ success: true, result: { text: 'new\n', size: 4 } });
    const rolledBack = await run({ name: 'file.rollback', args: { path, backup_path: backup } });
    expect(rolledBack.body).toMatchObject({ success: true, result: { restored_from: backup } });
    expect(readFileSync(path, 'utf8')).toBe('old\n');

    const info = await run({ name: 'system.info' });
    expect(info.body.success, info.text).toBe(true);
    expect(info.body.result.memory.total_bytes).toBeGreaterThan(0);
  });
});
