import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storeKinds } from '../helpers/databases.js';
import { REFERENCE_INSTRUCTION, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';

describe.each(storeKinds())('approval requests on %s', (kind) => {
  it('takes the reference body, reads the Command: line, and auto-approves LOW', async () => {
    const gate = await startGate(kind);
    const response = await gate.request({ instruction: REFERENCE_INSTRUCTION, deployment_env: 'prd' });
    expect(response.status).toBe(201);
    expect(response.body.request).toMatchObject({
      status: 'APPROVED',
      risk_level: 'LOW',
      auto_approved: true,
      deployment_env: 'prd',
      target: 'local',
      command: 'echo test',
      op: { kind: 'exec', argv: ['echo', 'test'] },
      instruction_score: 100,
      instruction_findings: [],
    });
    expect(response.body.request.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await gate.auditActions()).toEqual(expect.arrayContaining(['approval.requested', 'approval.decided']));
    const same = await http('GET', `${gate.url}/v1/approvals/${response.body.request.request_id}`, { headers: bearer(gate.agent) });
    expect(same.body.request).toEqual(response.body.request);
  });

  it('holds MEDIUM for a human, wakes a long poll on the decision, and never lets the requester decide', async () => {
    const gate = await startGate(kind);
    const created = await gate.request({ command: 'systemctl restart nginx', deployment_env: 'dev' });
    expect(created.body.request).toMatchObject({ status: 'PENDING', risk_level: 'MEDIUM', auto_approved: false });
    const id = created.body.request.request_id as string;

    const self = await gate.decide(id, 'approve', gate.admin);
    expect(self.status).toBe(200);
    // The admin is another key; the agent itself may not decide, even when it holds the scope.
    const selfKey = await gate.server.runtime.keys.create({ name: 'both', scopes: ['approvals:request', 'approvals:decide', 'approvals:read'], actor: 'test' });
    const own = await gate.request({ command: 'systemctl restart web', deployment_env: 'dev' }, selfKey.key);
    const ownDecision = await gate.decide(own.body.request.request_id, 'approve', selfKey.key);
    expect(ownDecision.status).toBe(403);
    expect(ownDecision.body.code).toBe('self_approval');
    expect((await gate.get(own.body.request.request_id)).body.request.status).toBe('PENDING');

    const waiting = gate.get(own.body.request.request_id, '?wait=20');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const decided = await gate.decide(own.body.request.request_id, 'reject', gate.approver, 'not today');
    expect(decided.body.request).toMatchObject({ status: 'REJECTED', decision_reason: 'not today' });
    expect((await waiting).body.request.status).toBe('REJECTED');

    const again = await gate.decide(own.body.request.request_id, 'approve');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('approval_not_pending');
    expect(await gate.auditActions()).toEqual(expect.arrayContaining(['approval.decision_refused']));
  });

  it('expires a pending request nobody decided, and then refuses to approve it', async () => {
    const gate = await startGate(kind);
    const created = await gate.request({ command: 'python3 job.py', deployment_env: 'dev' });
    const id = created.body.request.request_id as string;
    await gate.server.runtime.store.db.updateTable('approvals').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', id).execute();
    const late = await gate.decide(id, 'approve');
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('approval_expired');
    expect((await gate.get(id)).body.request.status).toBe('EXPIRED');
    expect(await gate.auditActions()).toContain('approval.expired');

    // Reading a request whose time ran out expires it there and then, without waiting for the timer.
    const unread = (await gate.request({ command: 'python3 other.py', deployment_env: 'dev' })).body.request.request_id as string;
    await gate.server.runtime.store.db.updateTable('approvals').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', unread).execute();
    expect((await gate.get(unread)).body.request.status).toBe('EXPIRED');
    expect((await gate.auditActions()).filter((action) => action === 'approval.expired')).toHaveLength(2);
  });

  it('lists requests by status, newest first', async () => {
    const gate = await startGate(kind);
    await gate.request({ command: 'echo one', deployment_env: 'dev' });
    await gate.request({ command: 'kill 1', deployment_env: 'dev' });
    await gate.request({ command: 'kill 2', deployment_env: 'dev' });
    const pending = await http('GET', `${gate.url}/v1/approvals?status=pending`, { headers: bearer(gate.approver) });
    expect(pending.body.requests.map((r: { command: string }) => r.command)).toEqual(['kill 2', 'kill 1']);
    const all = await http('GET', `${gate.url}/v1/approvals?limit=2`, { headers: bearer(gate.approver) });
    expect(all.body.requests).toHaveLength(2);
  });

  it('refuses a weak instruction in production with 422 naming every weak section, and records the refusal', async () => {
    const gate = await startGate(kind);
    const response = await gate.request({ instruction: 'DELIVERABLES: TBD\nCommand: echo hi', deployment_env: 'prd' });
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: 'instruction_insufficient', score: 0, min_score: 60 });
    expect(response.body.findings).toHaveLength(10);
    expect(response.body.detail).toContain('DELIVERABLES is a placeholder');
    expect(response.body.detail).toContain('QUALITY_METRICS is missing');
    expect(await gate.auditActions()).toContain('approval.refused');
    expect(await gate.server.runtime.store.db.selectFrom('approvals').selectAll().execute()).toEqual([]);
  });

  it('answers bad requests with a 400 problem and stores nothing', async () => {
    const gate = await startGate(kind, { environments: { allowed: ['dev', 'prd'] } });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ deployment_env: 'dev' }, 'command_missing'],
      [{ deployment_env: 'test', command: 'echo' }, 'environment_not_allowed'],
      [{ deployment_env: 'dev', command: 'echo', target: 'web-9' }, 'unknown_target'],
      [{ deployment_env: 'dev', command: 'echo "open' }, 'invalid_command'],
      [{ deployment_env: 'dev', command: 'echo', extra: true }, 'invalid_request'],
      [{ deployment_env: 'dev', command: 42 }, 'invalid_request'],
    ];
    for (const [body, code] of cases) {
      const response = await gate.request(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.code, JSON.stringify(body)).toBe(code);
    }
    expect((await gate.get('no-such-id')).body.code).toBe('approval_not_found');
    expect((await gate.get('x', '?wait=500')).body.code).toBe('invalid_request');
    expect(await gate.server.runtime.store.db.selectFrom('approvals').selectAll().execute()).toEqual([]);
  });

  it('never answers 5xx to arbitrary JSON bodies', async () => {
    const gate = await startGate(kind);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue({ maxDepth: 6 }),
          fc.record(
            {
              worker_id: fc.oneof(fc.string(), fc.jsonValue()),
              task_name: fc.string({ unit: 'binary', maxLength: 600 }),
              deployment_env: fc.constantFrom('dev', 'prd', 'x', ''),
              command: fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.jsonValue()),
              instruction: fc.string({ unit: 'grapheme', maxLength: 2000 }),
              target: fc.string(),
            },
            { requiredKeys: [] },
          ),
        ),
        async (body) => {
          const response = await http('POST', `${gate.url}/approvals/request`, { headers: { ...bearer(gate.agent), 'content-type': 'application/json' }, body: JSON.stringify(body) });
          expect(response.status, response.text).toBeLessThan(500);
          if (response.status >= 400) expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
        },
      ),
      { numRuns: 150 },
    );
  });
});
