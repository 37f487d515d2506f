import { describe, expect, it } from 'vitest';
import { verifyReceipt } from '../../src/gateway/index.js';
import { runCli } from '../helpers/cli.js';
import { storeKinds } from '../helpers/databases.js';
import { REFERENCE_INSTRUCTION, approvedToken, execute, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { tmpDir } from '../helpers/tmp.js';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

describe.each(storeKinds())('the gated flow on %s', (kind) => {
  it('runs the reference sequence: request, mint, execute, replay refused, forged token refused, all audited', async () => {
    const gate = await startGate(kind);
    const created = await gate.request({ instruction: REFERENCE_INSTRUCTION, deployment_env: 'prd' });
    const id = created.body.request.request_id as string;
    const minted = await http('POST', `${gate.url}/gateway/token`, {
      headers: { 'x-wingman-approval-decide-key': gate.approver },
      json: { approval_id: id, command: 'echo test', environment: 'prd' },
    });
    expect(minted.status).toBe(200);
    expect(minted.body).toMatchObject({ token_type: 'capability', approval_id: id, environment: 'prd', target: 'local' });
    expect(minted.body.token.split('.')).toHaveLength(3);
    const header = JSON.parse(Buffer.from(minted.body.token.split('.')[0], 'base64url').toString()) as Record<string, string>;
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(minted.body.token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ iss: 'airlock', aud: 'airlock-gateway', apr: id, env: 'prd', tgt: 'local', op: created.body.request.op_hash });
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);

    const body = { command: 'echo test', approval_id: id, environment: 'prd' };
    const ran = await execute(gate.url, minted.body.token, body);
    expect(ran.status).toBe(200);
    expect(ran.body).toMatchObject({ success: true, output: 'test\n', exit_code: 0, status: 'succeeded', truncated: false });
    expect(ran.body.execution_id).toMatch(/^[0-9a-f-]{36}$/);

    const replay = await execute(gate.url, minted.body.token, body);
    expect(replay.status).toBe(409);
    expect(replay.body).toEqual({ success: false, error: 'Token has already been used' });

    const forged = await execute(gate.url, 'invalid.token.here', body);
    expect(forged.status).toBe(401);
    expect(forged.body).toMatchObject({ success: false, code: 'token_invalid' });

    const executions = await gate.server.runtime.store.db.selectFrom('executions').selectAll().execute();
    expect(executions).toHaveLength(1);
    expect(executions[0]).toMatchObject({ id: ran.body.execution_id, approval_id: id, status: 'succeeded', exit_code: 0, output: 'test\n' });
    expect((await gate.get(id)).body.request.status).toBe('EXECUTED');
    expect(await gate.auditActions()).toEqual(expect.arrayContaining(['approval.requested', 'approval.decided', 'token.minted', 'execution.started', 'execution.finished', 'execution.refused']));

    // The receipt checks out against the published keys, and names the execution.finished event.
    const jwks = await http('GET', `${gate.url}/.well-known/jwks.json`);
    const receipt = await verifyReceipt(ran.body.receipt, jwks.body);
    expect(receipt).toMatchObject({ execution_id: ran.body.execution_id, approval_id: id, exit_code: 0, op_hash: created.body.request.op_hash, status: 'succeeded' });
    const finished = await gate.server.runtime.store.db.selectFrom('audit_events').selectAll().where('seq', '=', receipt.audit_seq).executeTakeFirstOrThrow();
    expect(finished).toMatchObject({ action: 'execution.finished', hash: receipt.audit_hash, subject_id: ran.body.execution_id });
    const file = join(tmpDir(), 'answer.json');
    writeFileSync(file, ran.text);
    const cli = await runCli(['receipt', 'verify', file, '--jwks', `${gate.url}/.well-known/jwks.json`], { cwd: tmpDir() });
    expect(cli.stdout).toContain(`receipt OK: execution ${ran.body.execution_id}`);
    const tampered = ran.body.receipt.replace(/\.([^.]+)\./, (_: string, payload: string) => `.${Buffer.from(Buffer.from(payload, 'base64url').toString().replace('"exit_code":0', '"exit_code":1')).toString('base64url')}.`);
    await expect(verifyReceipt(tampered, jwks.body)).rejects.toThrow(/does not verify/);
  });

  it('mints once, only for an approved request, exactly its command and environment', async () => {
    const gate = await startGate(kind);
    const mint = (id: string, command: string, environment: string, key = gate.approver) =>
      http('POST', `${gate.url}/gateway/token`, { headers: bearer(key), json: { approval_id: id, command, environment } });

    const pending = await gate.request({ command: 'kill 123', deployment_env: 'dev' });
    const pendingId = pending.body.request.request_id as string;
    expect((await mint(pendingId, 'kill 123', 'dev')).body.code).toBe('approval_not_approved');
    await gate.decide(pendingId, 'reject');
    expect((await mint(pendingId, 'kill 123', 'dev')).body.code).toBe('approval_not_approved');

    const ok = await gate.request({ command: 'echo  hi', deployment_env: 'dev' });
    const id = ok.body.request.request_id as string;
    expect((await mint(id, 'echo bye', 'dev')).body.code).toBe('command_mismatch');
    expect((await mint(id, 'echo hi', 'prd')).body.code).toBe('environment_mismatch');
    expect((await mint('nope', 'echo hi', 'dev')).status).toBe(404);
    // A key that neither decides nor asked for the request may not mint it.
    const stranger = await gate.server.runtime.keys.create({ name: 'stranger', scopes: ['gateway:execute'], actor: 'test' });
    expect((await mint(id, 'echo hi', 'dev', stranger.key)).status).toBe(403);
    // The requester with gateway:execute may mint its own approved request; spacing does not matter.
    const first = await mint(id, 'echo hi', 'dev', gate.agent);
    expect(first.status).toBe(200);
    const second = await mint(id, 'echo hi', 'dev');
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('token_already_minted');
    expect((await gate.auditActions()).filter((action) => action === 'token.minted')).toHaveLength(1);
    expect(await gate.auditActions()).toContain('token.refused');
  });

  it('runs argv without a shell, with a scrubbed environment, and reports failures honestly', async () => {
    const gate = await startGate(kind, { gateway: { timeoutSeconds: 1, outputCapBytes: 1024 } });
    const run = async (command: string) => {
      const { id, token } = await approvedToken(gate, command);
      return (await execute(gate.url, token, { command, approval_id: id, environment: 'dev' })).body;
    };
    expect(await run("echo 'a;b' \"c d\"")).toMatchObject({ success: true, output: 'a;b c d\n' });
    const env = await run('env');
    expect(env.output).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(env.output).not.toMatch(/AIRLOCK|DATABASE_URL|npm_/);
    expect(await run('false')).toMatchObject({ success: false, exit_code: 1, status: 'failed' });
    expect(await run('no-such-program-xyz')).toMatchObject({ success: false, exit_code: 127, error: 'command not found: no-such-program-xyz' });
    expect(await run('sleep 30')).toMatchObject({ success: false, exit_code: null, status: 'timed_out', error: 'killed after the 1 s timeout' });
    const big = await run('seq 1 100000');
    expect(big).toMatchObject({ success: true, truncated: true });
    expect(Buffer.byteLength(big.output)).toBe(1024);
  });

  it('refuses a shell command at execution once the target no longer allows a shell, and runs nothing', async () => {
    // A target that allows a shell when the request is made, and stops allowing it before the run.
    const dir = tmpDir();
    const file = join(dir, 'targets.yaml');
    const targets = (shell: boolean) => `targets:\n  box:\n    executor: local\n    capabilities: [exec]\n    constraints: { shell: ${shell} }\n`;
    writeFileSync(file, targets(true));
    const gate = await startGate(kind, { targets: { file } });
    const marker = join(tmpDir(), 'marker');
    const command = `touch ${marker} && echo done`;
    const created = await gate.request({ command, deployment_env: 'dev', target: 'box' });
    expect(created.body.request).toMatchObject({ risk_level: 'HIGH', op: { kind: 'shell' } });
    const id = created.body.request.request_id as string;
    await gate.decide(id, 'approve');
    const token = (await http('POST', `${gate.url}/gateway/token`, { headers: bearer(gate.approver), json: { approval_id: id, command, environment: 'dev' } })).body.token as string;
    writeFileSync(file, targets(false));
    expect((await http('POST', `${gate.url}/v1/admin/reload`, { headers: bearer(gate.admin) })).status).toBe(200);
    const refused = await execute(gate.url, token, { command, approval_id: id, environment: 'dev' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('shell_not_allowed');
    expect(existsSync(marker)).toBe(false);
    expect(await gate.server.runtime.store.db.selectFrom('executions').selectAll().execute()).toEqual([]);
    // The request itself is refused up front on a target without a shell.
    const upfront = await gate.request({ command, deployment_env: 'dev', target: 'box' });
    expect(upfront.status).toBe(403);
    expect(upfront.body.code).toBe('shell_not_allowed');
    expect(await gate.auditActions()).toEqual(expect.arrayContaining(['targets.reloaded', 'policy.denied']));
  });
});
