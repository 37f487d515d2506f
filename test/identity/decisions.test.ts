import { describe, expect, it } from 'vitest';
import { storeKinds } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { createPerson, login } from '../helpers/identity.js';

describe.each(storeKinds())('step-up and two-person approval on %s', (kind) => {
  it('approves a HIGH request only with a fresh TOTP code of the approver, and never with a replayed one', async () => {
    const gate = await startGate(kind);
    const created = await gate.request({ command: 'apt-get install -y htop', deployment_env: 'dev' });
    const request = created.body.request;
    expect(request).toMatchObject({ risk_level: 'HIGH', status: 'PENDING', step_up_required: true, required_approvals: 1 });
    const approve = (body: Record<string, unknown>) => http('POST', `${gate.url}/v1/approvals/${request.request_id}/approve`, { headers: bearer(gate.approver), json: body });

    const bare = await approve({});
    expect(bare.status).toBe(403);
    expect(bare.body.code).toBe('step_up_required');
    const wrong = await approve({ totp: '000000' });
    expect(wrong.body.code).toBe('totp_invalid');
    const code = gate.person.code();
    const approved = await approve({ totp: code });
    expect(approved.status).toBe(200);
    expect(approved.body.request).toMatchObject({ status: 'APPROVED', approvals: [{ username: 'approver', step_up: 'totp' }] });

    const second = await gate.request({ command: 'apt-get install -y htop', deployment_env: 'dev' });
    const replay = await http('POST', `${gate.url}/v1/approvals/${second.body.request.request_id}/approve`, { headers: bearer(gate.approver), json: { totp: code } });
    expect(replay.status).toBe(403);
    expect(replay.body.code).toBe('totp_replayed');
    expect((await gate.get(second.body.request.request_id)).body.request.status).toBe('PENDING');
    const actions = await gate.auditActions();
    expect(actions).toEqual(expect.arrayContaining(['approval.decision_refused', 'totp.failed', 'totp.replayed']));
  });

  it('keeps a CRITICAL request pending after one approval and approves it after a second, distinct person', async () => {
    const gate = await startGate(kind);
    const second = await createPerson(gate.server.runtime, 'second', 'approver');
    const secondSession = await login(gate.url, second);
    const created = await gate.request({ command: 'shutdown -h now', deployment_env: 'dev' });
    const id = created.body.request.request_id as string;
    expect(created.body.request).toMatchObject({ risk_level: 'CRITICAL', status: 'PENDING', required_approvals: 2 });

    // The requester cannot approve, whatever credential its owner uses.
    const self = await http('POST', `${gate.url}/v1/approvals/${id}/approve`, { headers: bearer(gate.agent), json: {} });
    expect(self.status).toBe(403);

    const first = await gate.decide(id, 'approve');
    expect(first.status).toBe(200);
    expect(first.body.request).toMatchObject({ status: 'PENDING', approvals: [{ username: 'approver' }], required_approvals: 2 });
    // No token for a request that is still waiting for its second approver.
    const early = await http('POST', `${gate.url}/gateway/token`, { headers: bearer(gate.approver), json: { approval_id: id, command: 'shutdown -h now', environment: 'dev' } });
    expect(early.body.code).toBe('approval_not_approved');

    // The same person twice does not count as two.
    const twice = await gate.decide(id, 'approve');
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('already_decided');

    const done = await http('POST', `${gate.url}/v1/approvals/${id}/approve`, { headers: bearer(secondSession.accessToken), json: { totp: second.code(), reason: 'planned maintenance' } });
    expect(done.status).toBe(200);
    expect(done.body.request).toMatchObject({ status: 'APPROVED', approvals: [{ username: 'approver' }, { username: 'second' }] });
    const decisions = (await gate.server.runtime.store.db.selectFrom('audit_events').select(['action', 'data']).where('action', '=', 'approval.decided').orderBy('seq').execute()).map((event) => JSON.parse(event.data));
    // Each approval proved presence with a code (a TOTP code, or a recovery code once the fresh ones of this 30 s are spent).
    const proof = expect.stringMatching(/^(totp|recovery_code)$/);
    expect(decisions).toMatchObject([
      { approvals: 1, required: 2, final: false, step_up: proof },
      { approvals: 2, required: 2, final: true, step_up: proof },
    ]);
  });

  it('lets one rejection end a CRITICAL request at once', async () => {
    const gate = await startGate(kind);
    const created = await gate.request({ command: 'mkfs.ext4 /dev/sdb1', deployment_env: 'dev' });
    const rejected = await gate.decide(created.body.request.request_id, 'reject', gate.approver, 'no');
    expect(rejected.body.request.status).toBe('REJECTED');
  });

  it('holds a sensitive read for a step-up even at LOW, and lets the requester pass an approved challenge', async () => {
    const gate = await startGate(kind);
    const runtime = gate.server.runtime;
    // The agent's key belongs to a person who plans the challenge and approves it with TOTP.
    const owner = await createPerson(runtime, 'ops', 'requester');
    const agentKey = await runtime.keys.create({ name: 'ops-agent', scopes: ['approvals:request', 'approvals:read', 'gateway:execute'], owner: 'ops', actor: 'test' });
    const held = await gate.request({ command: 'cat /etc/shadow', deployment_env: 'dev' }, agentKey.key);
    expect(held.body.request).toMatchObject({ risk_level: 'LOW', status: 'PENDING', step_up_required: true });
    expect(held.body.request.risk_reasons.map((reason: { rule: string }) => reason.rule)).toContain('sensitive-path');

    const planned = await http('POST', `${gate.url}/v1/challenges`, { headers: bearer(agentKey.key), json: { purpose: 'read /etc/shadow' } });
    expect(planned.status).toBe(201);
    const challengeId = planned.body.challenge.challenge_id as string;
    // An API key cannot approve a challenge: a person must, with a code.
    expect((await http('POST', `${gate.url}/v1/challenges/${challengeId}/approve`, { headers: bearer(agentKey.key), json: { code: owner.code() } })).body.code).toBe('person_required');
    const session = await login(gate.url, owner);
    const unapproved = await gate.request({ command: 'cat /etc/shadow', deployment_env: 'dev', challenge_id: challengeId }, agentKey.key);
    expect(unapproved.status).toBe(403);
    expect(unapproved.body.code).toBe('challenge_invalid');
    const approved = await http('POST', `${gate.url}/v1/challenges/${challengeId}/approve`, { headers: bearer(session.accessToken), json: { code: owner.code() } });
    expect(approved.body.challenge.status).toBe('APPROVED');

    const passed = await gate.request({ command: 'cat /etc/shadow', deployment_env: 'dev', challenge_id: challengeId }, agentKey.key);
    expect(passed.status).toBe(201);
    expect(passed.body.request).toMatchObject({ status: 'APPROVED', auto_approved: true });
    const status = await http('GET', `${gate.url}/v1/challenges/${challengeId}`, { headers: bearer(agentKey.key) });
    expect(status.body.challenge).toMatchObject({ status: 'CONSUMED', consumed_for: `approval:${passed.body.request.request_id}` });
    const again = await gate.request({ command: 'cat /etc/shadow', deployment_env: 'dev', challenge_id: challengeId }, agentKey.key);
    expect(again.body.code).toBe('challenge_invalid');
    const actions = await gate.auditActions();
    expect(actions).toEqual(expect.arrayContaining(['challenge.created', 'challenge.approved', 'challenge.consumed']));
  });

  it('lets an approver use an approved challenge of their own instead of a code', async () => {
    const gate = await startGate(kind);
    const created = await gate.request({ command: 'apt-get install -y htop', deployment_env: 'dev' });
    const id = created.body.request.request_id as string;
    const session = await login(gate.url, { username: gate.person.username, password: gate.person.password, code: () => gate.person.code() });
    const planned = await http('POST', `${gate.url}/v1/challenges`, { headers: bearer(session.accessToken), json: { purpose: 'approve the htop install', approval_id: id } });
    const challengeId = planned.body.challenge.challenge_id as string;
    await http('POST', `${gate.url}/v1/challenges/${challengeId}/approve`, { headers: bearer(session.accessToken), json: { code: gate.person.code() } });
    const approved = await http('POST', `${gate.url}/v1/approvals/${id}/approve`, { headers: bearer(gate.approver), json: { challenge_id: challengeId } });
    expect(approved.status).toBe(200);
    expect(approved.body.request).toMatchObject({ status: 'APPROVED', approvals: [{ step_up: `challenge:${challengeId}` }] });
  });
});
