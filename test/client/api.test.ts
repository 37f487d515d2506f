import { beforeAll, describe, expect, it } from 'vitest';
import {
  AirlockBadRequestError,
  AirlockClient,
  AirlockConflictError,
  AirlockForbiddenError,
  AirlockNotFoundError,
  AirlockReceiptError,
  AirlockTimeoutError,
  AirlockUnauthorizedError,
  AirlockUnprocessableError,
  createClient,
  type DomainEvent,
} from '../../src/client/index.js';
import { storeKinds } from '../helpers/databases.js';
import { REFERENCE_INSTRUCTION, startGate } from '../helpers/gate.js';
import { rejectionOf } from './rejection.js';
import { login } from '../helpers/identity.js';

describe.each(storeKinds())('the client against a real server on %s', (kind) => {
  let gate: Awaited<ReturnType<typeof startGate>>;
  let agent: AirlockClient;
  let approver: AirlockClient;
  let admin: AirlockClient;
  beforeAll(async () => {
    // Rate limits off: this file makes more calls per key in a minute than the default allows.
    gate = await startGate(kind, { rateLimit: { enabled: false } });
    agent = new AirlockClient({ url: gate.url, apiKey: gate.agent, workerId: 'client-test' });
    approver = createClient({ url: `${gate.url}/`, apiKey: gate.approver });
    admin = createClient({ url: gate.url, apiKey: gate.admin });
  });

  it('whoami and health', async () => {
    expect(await agent.whoami()).toMatchObject({ mode: 'api_key', scopes: ['approvals:read', 'approvals:request', 'gateway:execute'] });
    expect(await approver.whoami()).toMatchObject({ user: { username: 'approver' } });
    expect(await new AirlockClient({ url: gate.url }).health()).toMatchObject({ status: 'healthy', checks: { database: { status: 'healthy' } } });
  });

  it('create, get, list and history of a LOW request, approved by policy; explain; the policy', async () => {
    const explained = await agent.policy.explain({ deployment_env: 'dev', command: 'echo explained' });
    expect(explained).toMatchObject({ risk_level: 'LOW', auto_approve: true, required_approvals: 0, allowed_by_gate: true });
    const request = await agent.requests.create({ task_name: 'say hello', deployment_env: 'dev', command: 'echo hello' });
    expect(request).toMatchObject({ status: 'APPROVED', risk_level: 'LOW', auto_approved: true, worker_id: 'client-test', target: 'local', op: { kind: 'exec', argv: ['echo', 'hello'] } });
    expect(await agent.requests.get(request.request_id)).toMatchObject({ request_id: request.request_id, status: 'APPROVED' });
    const listed = await agent.requests.list({ status: 'approved', limit: 500 });
    expect(listed.map((r) => r.request_id)).toContain(request.request_id);
    expect(listed.every((r) => r.status === 'APPROVED')).toBe(true);
    const history = await agent.requests.history(request.request_id);
    expect(history.events.map((event) => event.action)).toEqual(['approval.requested', 'approval.decided']);
    const policy = await agent.policy.get();
    expect(Object.keys(policy.environments as object)).toEqual(expect.arrayContaining(['dev', 'prd']));
  });

  it('mint, execute, the execution and its receipt, verified with WebCrypto against the JWKS', async () => {
    const request = await agent.requests.create({ task_name: 'print', deployment_env: 'dev', command: "printf '%s|' a 'b c'" });
    const where = { approval_id: request.request_id, environment: 'dev', command: request.command };
    const minted = await agent.tokens.mint(where);
    expect(minted).toMatchObject({ token_type: 'capability', approval_id: request.request_id, environment: 'dev', target: 'local' });
    const execution = await agent.execute(minted.token, where);
    expect(execution).toMatchObject({ success: true, output: 'a|b c|', exit_code: 0, status: 'succeeded' });

    const recorded = await agent.executions.get(execution.execution_id);
    expect(recorded).toMatchObject({ id: execution.execution_id, approval_id: request.request_id, status: 'succeeded', output: 'a|b c|', truncated: false });
    const receipt = await agent.receipts.get(execution.execution_id);
    expect(receipt).toBe(execution.receipt);
    const claims = await agent.receipts.verify(execution.receipt, { output: execution.output, executionId: execution.execution_id });
    expect(claims).toMatchObject({ typ: 'airlock-receipt/v1', execution_id: execution.execution_id, approval_id: request.request_id, jti: minted.jti, exit_code: 0 });

    // A receipt that says anything else does not verify.
    const wrongOutput = await rejectionOf(agent.receipts.verify(execution.receipt, { output: 'a|b c|!' }));
    expect(wrongOutput).toBeInstanceOf(AirlockReceiptError);
    const [header, payload, signature] = execution.receipt.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...claims, exit_code: 1 })).toString('base64url');
    const tampered = await rejectionOf(agent.receipts.verify(`${header}.${forged}.${signature}`));
    expect(tampered).toMatchObject({ code: 'receipt_invalid', message: expect.stringContaining('signature does not verify') });

    // The token is single use: the second execution is a typed 409 with the reference text.
    const replay = await rejectionOf(agent.execute(minted.token, where));
    expect(replay).toBeInstanceOf(AirlockConflictError);
    expect(replay).toMatchObject({ status: 409, code: 'token_replayed', detail: 'Token has already been used' });
  });

  it('a typed operation: its defaults come back in the request, and mint and execute repeat them', async () => {
    const request = await agent.requests.create({ task_name: 'facts', deployment_env: 'dev', op: { name: 'system.info' } });
    expect(request.op).toMatchObject({ kind: 'op', name: 'system.info' });
    const run = await agent.run({ op: { name: 'system.info' } }, { environment: 'dev' });
    expect(run.execution.success).toBe(true);
    expect(run.execution.result).toMatchObject({ hostname: expect.any(String) });
  });

  it('approve with a TOTP code (HIGH), reject with a reason, and long-poll get', async () => {
    const high = await agent.requests.create({ task_name: 'install', deployment_env: 'dev', command: 'apt-get install -y htop' });
    expect(high).toMatchObject({ status: 'PENDING', risk_level: 'HIGH', step_up_required: true });
    const withoutCode = await rejectionOf(approver.requests.approve(high.request_id, { reason: 'ok' }));
    expect(withoutCode).toBeInstanceOf(AirlockForbiddenError);
    expect(withoutCode).toMatchObject({ status: 403, code: 'step_up_required', problem: { risk_level: 'HIGH' } });
    const approved = await approver.requests.approve(high.request_id, { reason: 'ok', totp: gate.person.code() });
    expect(approved).toMatchObject({ status: 'APPROVED', decision_reason: 'ok', approvals: [{ username: 'approver' }] });

    const medium = await agent.requests.create({ task_name: 'signal', deployment_env: 'dev', command: 'kill -0 1' });
    const polled = agent.requests.get(medium.request_id, { waitSeconds: 30 });
    const rejected = await approver.requests.reject(medium.request_id, { reason: 'not today' });
    expect(rejected).toMatchObject({ status: 'REJECTED', decision_reason: 'not today' });
    expect(await polled).toMatchObject({ status: 'REJECTED', decision_reason: 'not today' });
  });

  it('waitForDecision returns when another client decides, and times out while nobody does', async () => {
    const request = await agent.requests.create({ task_name: 'wait', deployment_env: 'dev', command: 'kill -0 1' });
    let settled = false;
    const waiting = agent.waitForDecision(request.request_id).finally(() => (settled = true));
    // Still waiting while nobody has decided; then the second client approves.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    await approver.requests.approve(request.request_id, { reason: 'go' });
    expect(await waiting).toMatchObject({ request_id: request.request_id, status: 'APPROVED', decision_reason: 'go' });

    const nobody = await agent.requests.create({ task_name: 'nobody decides', deployment_env: 'dev', command: 'kill -0 1' });
    const timeout = await rejectionOf(agent.waitForDecision(nobody.request_id, { timeoutMs: 300 }));
    expect(timeout).toBeInstanceOf(AirlockTimeoutError);
    expect(timeout).toMatchObject({ code: 'decision_timeout', request: { request_id: nobody.request_id, status: 'PENDING' } });
  });

  it('waitForDecision rejects with an AbortError when its signal aborts, and so does an aborted call', async () => {
    const request = await agent.requests.create({ task_name: 'abort', deployment_env: 'dev', command: 'kill -0 1' });
    const controller = new AbortController();
    const waiting = agent.waitForDecision(request.request_id, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    expect(await rejectionOf(waiting)).toMatchObject({ name: 'AbortError' });
    expect((await agent.requests.get(request.request_id)).status).toBe('PENDING');

    const reason = new Error('stop now');
    expect(await rejectionOf(agent.requests.list({}, { signal: AbortSignal.abort(reason) }))).toBe(reason);
  });

  it('the events iterator yields what happens, resumes after a seq, and ends on abort', async () => {
    const controller = new AbortController();
    let connected!: () => void;
    const ready = new Promise<void>((resolve) => (connected = resolve));
    const stream = agent.events({ types: ['request.created', 'request.decided'], signal: controller.signal, onConnected: () => connected() });
    const first = stream.next();
    await ready;
    const request = await agent.requests.create({ task_name: 'events', deployment_env: 'dev', command: 'kill -0 1' });
    await approver.requests.approve(request.request_id);
    const created = (await first).value as DomainEvent;
    const decided = (await stream.next()).value as DomainEvent;
    expect(created).toMatchObject({ type: 'request.created', subject: { type: 'approval', id: request.request_id }, data: { risk_level: 'MEDIUM' } });
    expect(decided).toMatchObject({ type: 'request.decided', subject: { id: request.request_id }, data: { decision: 'approve' } });

    // Waiting for the next event, the abort ends the iterator with an AbortError.
    const pending = stream.next();
    controller.abort();
    expect(await rejectionOf(pending)).toMatchObject({ name: 'AbortError' });
    expect(await stream.next()).toEqual({ done: true, value: undefined });

    // From a seq: the events after it are replayed; leaving the loop closes the stream.
    const replayed: DomainEvent[] = [];
    for await (const event of agent.events({ after: created.seq, types: ['request.decided'] })) {
      replayed.push(event);
      break;
    }
    expect(replayed).toEqual([decided]);
  });

  it('audit events, status, verification with progress, and export', async () => {
    const request = await agent.requests.create({ task_name: 'audited', deployment_env: 'dev', command: 'echo audited' });
    const own = await agent.audit.events({ subject_id: request.request_id });
    expect(own).toMatchObject({ scope: 'own', next_before_seq: null });
    expect(own.events.map((event) => event.action)).toEqual(['approval.decided', 'approval.requested']);
    const page = await admin.audit.events({ limit: 2 });
    expect(page.scope).toBe('all');
    expect(page.events).toHaveLength(2);
    const next = await admin.audit.events({ limit: 2, before_seq: page.next_before_seq as number });
    expect((next.events[0]?.seq ?? 0) < (page.events[1]?.seq ?? 0)).toBe(true);

    const progress: Array<{ checked: number; total: number }> = [];
    const verified = await admin.audit.verify({ onProgress: (step) => progress.push(step) });
    expect(verified).toMatchObject({ ok: true, problem: null, actor: expect.stringMatching(/^key:/) });
    expect(progress.at(-1)).toEqual({ checked: verified.count, total: verified.count });
    const status = await admin.audit.status();
    expect(status.last_verification).toMatchObject({ seq: verified.seq, ok: true });
    expect(status.head.seq).toBeGreaterThanOrEqual(verified.seq);

    const exported = [];
    for await (const event of admin.audit.export({ after: verified.seq - 3 })) exported.push(event);
    expect(exported[0]).toMatchObject({ seq: verified.seq - 2 });
    expect(exported.find((event) => event.seq === verified.seq)).toMatchObject({ action: 'audit.verified', data: { ok: true } });
  });

  it('incidents: recorded by an admin, listed by severity', async () => {
    const incident = await admin.incidents.create({ severity: 'high', title: 'a replayed token', summary: 'seen in the log', environment: 'dev' });
    expect(incident).toMatchObject({ severity: 'high', title: 'a replayed token', environment: 'dev', reported_by: expect.stringMatching(/^key:/) });
    const listed = await admin.incidents.list({ severity: ['high', 'critical'] });
    expect(listed.map((item) => item.id)).toContain(incident.id);
    expect(await admin.incidents.list({ severity: 'low' })).toEqual([]);
    expect(await rejectionOf(approver.incidents.list())).toMatchObject({ status: 403, problem: { required_scope: 'audit:read' } });
  });

  it('workspaces: create, list, get, delete, restore', async () => {
    const workspace = await admin.workspaces.create({ name: 'sdk-space', labels: { team: 'sdk' } });
    expect(workspace).toMatchObject({ name: 'sdk-space', status: 'active', labels: { team: 'sdk' } });
    expect((await admin.workspaces.list()).map((item) => item.id)).toContain(workspace.id);
    expect(await admin.workspaces.get(workspace.id)).toMatchObject({ id: workspace.id });
    expect(admin.workspaces.mcpUrl(workspace.id)).toBe(`${gate.url}/v1/workspaces/${workspace.id}/mcp`);
    expect(await admin.workspaces.delete(workspace.id)).toMatchObject({ status: 'deleted' });
    expect((await admin.workspaces.list({ status: 'deleted' })).map((item) => item.id)).toContain(workspace.id);
    expect(await admin.workspaces.restore(workspace.id)).toMatchObject({ status: 'active' });
  });

  it('a person with an access token: plans and approves a step-up challenge, and approves with it', async () => {
    const session = await login(gate.url, gate.person);
    let asked = 0;
    const person = new AirlockClient({
      url: gate.url,
      token: () => {
        asked += 1;
        return session.accessToken;
      },
    });
    expect(await person.whoami()).toMatchObject({ mode: 'user', user: { username: 'approver' } });
    expect(asked).toBe(1);
    const high = await agent.requests.create({ task_name: 'install', deployment_env: 'dev', command: 'apt-get install -y tree' });
    const planned = await person.challenges.plan({ purpose: 'approve the install', approval_id: high.request_id });
    expect(planned).toMatchObject({ status: 'PENDING', approval_id: high.request_id });
    expect(await person.challenges.approve(planned.challenge_id, gate.person.code())).toMatchObject({ status: 'APPROVED' });
    expect(await person.challenges.get(planned.challenge_id)).toMatchObject({ status: 'APPROVED' });
    expect(await person.requests.approve(high.request_id, { challenge_id: planned.challenge_id })).toMatchObject({ status: 'APPROVED' });
    expect(await person.challenges.get(planned.challenge_id)).toMatchObject({ status: 'CONSUMED' });
  });

  describe('typed errors from problem+json', () => {
    it('401: a key the server does not know', async () => {
      const error = await rejectionOf(new AirlockClient({ url: gate.url, apiKey: `alk_abcdefgh_${'A'.repeat(43)}` }).requests.list());
      expect(error).toBeInstanceOf(AirlockUnauthorizedError);
      expect(error).toMatchObject({ status: 401, code: 'unauthorized', detail: 'the API key is not valid', requestId: expect.any(String) });
    });

    it('403: a scope the key lacks, and deciding one\'s own request', async () => {
      const request = await agent.requests.create({ task_name: 'mine', deployment_env: 'dev', command: 'kill -0 1' });
      const error = await rejectionOf(agent.requests.approve(request.request_id));
      expect(error).toBeInstanceOf(AirlockForbiddenError);
      expect(error).toMatchObject({ status: 403, code: 'forbidden', problem: { required_scope: 'approvals:decide' } });
      const self = await rejectionOf(admin.requests.approve((await admin.requests.create({ task_name: 'self', deployment_env: 'dev', command: 'kill -0 1' })).request_id));
      expect(self).toMatchObject({ status: 403, code: 'self_approval' });
    });

    it('404: an unknown request', async () => {
      const error = await rejectionOf(agent.requests.get('0190c3e2-0000-7000-8000-000000000000'));
      expect(error).toBeInstanceOf(AirlockNotFoundError);
      expect(error).toMatchObject({ status: 404, code: 'approval_not_found' });
    });

    it('409: deciding a request that is no longer pending, minting twice', async () => {
      const request = await agent.requests.create({ task_name: 'twice', deployment_env: 'dev', command: 'kill -0 1' });
      await approver.requests.approve(request.request_id);
      const again = await rejectionOf(admin.requests.approve(request.request_id));
      expect(again).toBeInstanceOf(AirlockConflictError);
      expect(again).toMatchObject({ status: 409, code: 'approval_not_pending' });
      const where = { approval_id: request.request_id, environment: 'dev', command: request.command };
      await agent.tokens.mint(where);
      expect(await rejectionOf(agent.tokens.mint(where))).toMatchObject({ status: 409, code: 'token_already_minted' });
    });

    it('422: an instruction below production\'s minimum score, with its findings', async () => {
      const error = await rejectionOf(agent.requests.create({ task_name: 'weak', deployment_env: 'prd', command: 'echo test', instruction: 'just do it' }));
      expect(error).toBeInstanceOf(AirlockUnprocessableError);
      expect(error).toMatchObject({ status: 422, code: 'instruction_insufficient', problem: { min_score: 60, findings: expect.any(Array) } });
      // The reference instruction passes.
      expect(await agent.requests.create({ task_name: 'strong', deployment_env: 'prd', command: 'echo test', instruction: REFERENCE_INSTRUCTION })).toMatchObject({ status: 'APPROVED' });
    });

    it('400: a body the schema refuses, naming each problem', async () => {
      const error = await rejectionOf(agent.requests.create({ task_name: '', deployment_env: 'dev', command: 'echo x' }));
      expect(error).toBeInstanceOf(AirlockBadRequestError);
      expect(error).toMatchObject({ status: 400, code: 'invalid_request', problem: { errors: [expect.objectContaining({ path: '/task_name' })] } });
    });
  });
});
