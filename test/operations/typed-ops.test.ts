import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storeKinds } from '../helpers/databases.js';
import { execute, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { createPerson, login } from '../helpers/identity.js';
import { tmpDir } from '../helpers/tmp.js';

type Gate = Awaited<ReturnType<typeof startGate>>;
type Op = { name: string; args?: Record<string, unknown> };

const b64 = (data: Buffer | string): string => Buffer.from(data).toString('base64');

/** Requests a typed op as the agent, approves it when pending, mints and executes it: the execution's answer. */
async function runOp(gate: Gate, op: Op, extra: Record<string, unknown> = {}) {
  const created = await gate.request({ op, deployment_env: 'dev', ...extra });
  expect(created.status, created.text).toBe(201);
  const id = created.body.request.request_id as string;
  if (created.body.request.status === 'PENDING') expect((await gate.decide(id, 'approve')).status).toBe(200);
  const minted = await http('POST', `${gate.url}/gateway/token`, { headers: { 'x-wingman-approval-decide-key': gate.approver }, json: { approval_id: id, op, environment: 'dev' } });
  expect(minted.status, minted.text).toBe(200);
  const ran = await execute(gate.url, minted.body.token, { op, approval_id: id, environment: 'dev' });
  return { created, id, ran };
}

async function auditData(gate: Gate, action: string) {
  const rows = await gate.server.runtime.store.db.selectFrom('audit_events').select(['action', 'data']).where('action', '=', action).orderBy('seq').execute();
  return rows.map((row) => JSON.parse(row.data) as Record<string, any>);
}

describe.each(storeKinds())('typed operations through the gate on %s', (kind) => {
  it('file.write keeps a backup (returned and audited) and replaces the file atomically; file.rollback restores it byte for byte', async () => {
    const gate = await startGate(kind);
    const dir = tmpDir();
    const path = join(dir, 'app.conf');
    const original = randomBytes(4096);
    writeFileSync(path, original);
    chmodSync(path, 0o640);

    const write = { name: 'file.write', args: { path, content_base64: b64('listen 8080\n') } };
    const { created, ran } = await runOp(gate, write);
    // Writing is HIGH by default: a person approved it with a TOTP code.
    expect(created.body.request).toMatchObject({ status: 'PENDING', risk_level: 'HIGH', step_up_required: true, command: `file.write: write 12 bytes to ${path}, keeping a backup of the old content` });
    expect(ran.status, ran.text).toBe(200);
    expect(ran.body).toMatchObject({ success: true, status: 'succeeded', exit_code: 0 });
    const result = ran.body.result as Record<string, any>;
    expect(result).toMatchObject({ path, bytes: 12, created: false, mode: '0640' });
    expect(JSON.parse(ran.body.output)).toEqual(result);
    expect(readFileSync(path, 'utf8')).toBe('listen 8080\n');
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(result.backup_path).toMatch(new RegExp(`^${dir}/\\.app\\.conf\\.airlock-backup-\\d{8}T\\d{9}Z-[0-9a-f]{8}$`));
    expect(readFileSync(result.backup_path).equals(original)).toBe(true);
    expect(statSync(result.backup_path).mode & 0o777).toBe(0o640);
    // No temporary file is left behind.
    expect(readdirSync(dir).sort()).toEqual(['app.conf', result.backup_path.slice(dir.length + 1)].sort());

    // The audit log names the backup and the content's hash, never the content.
    const [finished] = await auditData(gate, 'execution.finished');
    expect(finished?.effects).toMatchObject({ path, backup_path: result.backup_path, sha256: result.sha256, bytes: 12 });
    const [started] = await auditData(gate, 'execution.started');
    expect(started?.op).toMatchObject({ kind: 'op', name: 'file.write', args: { path, content_bytes: 12 } });
    expect(JSON.stringify(started)).not.toContain(write.args.content_base64);

    const rollback = await runOp(gate, { name: 'file.rollback', args: { path, backup_path: result.backup_path } });
    expect(rollback.ran.body).toMatchObject({ success: true, result: { path, restored_from: result.backup_path, bytes: 4096 } });
    expect(readFileSync(path).equals(original)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    // What the rollback replaced is kept too.
    expect(readFileSync(rollback.ran.body.result.backup_path, 'utf8')).toBe('listen 8080\n');
  });

  it('refuses a rollback from a backup that does not belong to the path, before anything is asked or run', async () => {
    const gate = await startGate(kind);
    const dir = tmpDir();
    const path = join(dir, 'a.conf');
    writeFileSync(path, 'mine');
    writeFileSync(join(dir, 'b.conf'), 'other');
    const other = await runOp(gate, { name: 'file.write', args: { path: join(dir, 'b.conf'), content_base64: b64('changed') } });
    const foreign = other.ran.body.result.backup_path as string;

    for (const backup_path of [foreign, join(dir, 'b.conf'), `/tmp/.a.conf.airlock-backup-20260101T000000000Z-00000000`]) {
      const refused = await gate.request({ op: { name: 'file.rollback', args: { path, backup_path } }, deployment_env: 'dev' });
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe('invalid_request');
      expect(JSON.stringify(refused.body)).toContain('must be a backup of this path');
    }
    expect(readFileSync(path, 'utf8')).toBe('mine');
    expect(await gate.server.runtime.store.db.selectFrom('approvals').select('id').execute()).toHaveLength(1);
  });

  it('a sensitive read needs the requester’s approved TOTP challenge, which is consumed once', async () => {
    const gate = await startGate(kind);
    const dir = tmpDir();
    const secret = join(dir, 'service.key');
    writeFileSync(secret, 'SECRET-KEY-MATERIAL\n');
    const operator = await createPerson(gate.server.runtime, 'operator', 'requester');
    const { accessToken } = await login(gate.url, operator);
    const as = bearer(accessToken);
    const read = { name: 'file.read', args: { path: secret } };
    const ask = (extra: Record<string, unknown> = {}) =>
      http('POST', `${gate.url}/v1/approvals`, { headers: as, json: { worker_id: 'ops', task_name: 'read key', deployment_env: 'dev', op: read, ...extra } });

    const refused = await ask();
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'challenge_required', paths: [secret] });
    expect(await auditData(gate, 'approval.refused')).toEqual([expect.objectContaining({ reason: 'challenge_required', paths: [secret] })]);

    // A planned challenge that was never approved does not do.
    const plan = async () => (await http('POST', `${gate.url}/v1/challenges`, { headers: as, json: { purpose: 'read the service key' } })).body.challenge.challenge_id as string;
    const unapproved = await plan();
    expect((await ask({ challenge_id: unapproved })).status).toBe(403);

    const challenge = await plan();
    expect((await http('POST', `${gate.url}/v1/challenges/${challenge}/approve`, { headers: as, json: { code: operator.code() } })).status).toBe(200);
    const allowed = await ask({ challenge_id: challenge });
    expect(allowed.status, allowed.text).toBe(201);
    expect(allowed.body.request).toMatchObject({ status: 'APPROVED', risk_level: 'LOW', auto_approved: true });
    const id = allowed.body.request.request_id as string;
    const minted = await http('POST', `${gate.url}/v1/tokens`, { headers: as, json: { approval_id: id, op: read, environment: 'dev' } });
    expect(minted.status, minted.text).toBe(200);
    const ran = await execute(gate.url, minted.body.token, { op: read, approval_id: id, environment: 'dev' });
    expect(ran.body).toMatchObject({ success: true, result: { path: secret, text: 'SECRET-KEY-MATERIAL\n', size: 20, truncated: false } });
    expect((await http('GET', `${gate.url}/v1/challenges/${challenge}`, { headers: as })).body.challenge).toMatchObject({ status: 'CONSUMED', consumed_for: `approval:${id}` });

    // Once: the same challenge opens nothing else.
    const again = await ask({ challenge_id: challenge });
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('challenge_invalid');
    // The file's content never reaches the audit log.
    const events = await gate.server.runtime.store.db.selectFrom('audit_events').select('data').execute();
    expect(events.some((event) => event.data.includes('SECRET-KEY-MATERIAL'))).toBe(false);
  });

  it('binds the token to the operation’s canonical JSON: other arguments are refused at mint and at execution', async () => {
    const gate = await startGate(kind);
    const dir = tmpDir();
    writeFileSync(join(dir, 'a.txt'), 'a');
    writeFileSync(join(dir, 'b.txt'), 'b');
    const op = { name: 'file.read', args: { path: join(dir, 'a.txt') } };
    const created = await gate.request({ op, deployment_env: 'dev' });
    const id = created.body.request.request_id as string;
    const other = { name: 'file.read', args: { path: join(dir, 'b.txt') } };
    const wrongMint = await http('POST', `${gate.url}/gateway/token`, { headers: { 'x-wingman-approval-decide-key': gate.approver }, json: { approval_id: id, op: other, environment: 'dev' } });
    expect(wrongMint.status).toBe(403);
    expect(wrongMint.body.code).toBe('command_mismatch');
    // The same operation written differently (defaults spelt out, path not normalised) is the same operation.
    const spelt = { name: 'file.read', args: { path: `${dir}/./a.txt`, max_bytes: 262144 } };
    const minted = await http('POST', `${gate.url}/gateway/token`, { headers: { 'x-wingman-approval-decide-key': gate.approver }, json: { approval_id: id, op: spelt, environment: 'dev' } });
    expect(minted.status, minted.text).toBe(200);
    const wrongRun = await execute(gate.url, minted.body.token, { op: other, approval_id: id, environment: 'dev' });
    expect(wrongRun.status).toBe(403);
    expect(wrongRun.body.code).toBe('command_mismatch');
    const asCommand = await execute(gate.url, minted.body.token, { command: `cat ${join(dir, 'b.txt')}`, approval_id: id, environment: 'dev' });
    expect(asCommand.status).toBe(403);
    const ran = await execute(gate.url, minted.body.token, { op, approval_id: id, environment: 'dev' });
    expect(ran.body).toMatchObject({ success: true, result: { text: 'a' } });
  });

  it('runs system.info on the local target as JSON', async () => {
    const gate = await startGate(kind);
    const { ran } = await runOp(gate, { name: 'system.info' });
    expect(ran.body.success, ran.text).toBe(true);
    const info = ran.body.result as Record<string, any>;
    expect(info.uptime_seconds).toBeGreaterThan(0);
    expect(info.load).toHaveLength(3);
    expect(info.memory.total_bytes).toBeGreaterThan(info.memory.available_bytes);
    expect(info.disks.some((disk: { mount: string }) => disk.mount === '/')).toBe(true);
  });

  it('refuses, at the gate, operations the target cannot or may not carry out', async () => {
    const gate = await startGate(kind);
    const container = await gate.request({ op: { name: 'container.list' }, deployment_env: 'dev' });
    expect(container.status).toBe(403);
    expect(container.body.code).toBe('capability_missing');
    expect(container.body.denials.map((denial: { code: string }) => denial.code)).toEqual(['capability_missing', 'operation_not_supported']);
    expect(await auditData(gate, 'policy.denied')).toEqual([expect.objectContaining({ stage: 'request', capability: 'container:read' })]);
  });

  it('fails an execution, recorded with a stable code, when the file is not what the operation expects', async () => {
    const gate = await startGate(kind);
    const dir = tmpDir();
    writeFileSync(join(dir, 'real.conf'), 'real');
    symlinkSync(join(dir, 'real.conf'), join(dir, 'link.conf'));
    const viaLink = await runOp(gate, { name: 'file.read', args: { path: join(dir, 'link.conf') } });
    expect(viaLink.ran.body).toMatchObject({ success: false, status: 'failed', error_code: 'path_is_link' });
    const missing = await runOp(gate, { name: 'file.read', args: { path: join(dir, 'missing.conf') } });
    expect(missing.ran.body).toMatchObject({ success: false, error_code: 'file_not_found' });
    const finished = await auditData(gate, 'execution.finished');
    expect(finished.map((event) => event.error_code)).toEqual(['path_is_link', 'file_not_found']);
    expect(existsSync(join(dir, 'missing.conf'))).toBe(false);
  });

  it('answers bad operations with 400 and a code, and records nothing', async () => {
    const gate = await startGate(kind);
    const bad: Record<string, unknown>[] = [
      { op: { name: 'file.delete', args: { path: '/tmp/x' } } },
      { op: { name: 'file.read', args: { path: 'relative/path' } } },
      { op: { name: 'file.read', args: { path: '/etc/' } } },
      { op: { name: 'file.read' } },
      { op: { name: 'file.read', args: { path: '/tmp/x', extra: true } } },
      { op: { name: 'file.write', args: { path: '/tmp/x', content_base64: 'not base64!' } } },
      { op: { name: 'file.write', args: { path: '/tmp/x', content_base64: b64('x'), mode: '999' } } },
      { op: { name: 'journal.read', args: { unit: 'nginx; rm -rf /' } } },
      { op: { name: 'journal.read', args: { since: 'yesterday' } } },
      { op: { name: 'container.logs', args: { container: '-rm' } } },
      { op: { name: 'system.info' }, command: 'uptime' },
    ];
    for (const body of bad) {
      const response = await gate.request({ deployment_env: 'dev', ...body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(typeof response.body.code).toBe('string');
    }
    expect(await gate.server.runtime.store.db.selectFrom('approvals').select('id').execute()).toHaveLength(0);
    expect(await gate.server.runtime.store.db.selectFrom('executions').select('id').execute()).toHaveLength(0);
  });
});
