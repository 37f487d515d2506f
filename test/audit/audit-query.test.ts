import { describe, expect, it } from 'vitest';
import { storeKinds } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';

describe.each(storeKinds())('the audit and policy queries on %s', (kind) => {
  it('shows a requester only its own events, an auditor all of them, newest first and paged', async () => {
    const gate = await startGate(kind);
    const other = await gate.server.runtime.keys.create({ name: 'other', scopes: ['approvals:request', 'approvals:read'], actor: 'test' });
    const mine = (await gate.request({ command: 'echo mine', deployment_env: 'dev' })).body.request.request_id as string;
    const theirs = (await gate.request({ command: 'echo theirs', deployment_env: 'dev' }, other.key)).body.request.request_id as string;

    const own = await http('GET', `${gate.url}/v1/audit/events?limit=500`, { headers: bearer(gate.agent) });
    expect(own.status).toBe(200);
    expect(own.body.scope).toBe('own');
    const subjects = own.body.events.map((event: { subject: { id: string } | null }) => event.subject?.id);
    expect(subjects).toContain(mine);
    expect(subjects).not.toContain(theirs);

    const all = await http('GET', `${gate.url}/v1/audit/events?limit=2&action=approval.requested`, { headers: bearer(gate.admin) });
    expect(all.body).toMatchObject({ scope: 'all', events: [{ subject: { id: theirs } }, { subject: { id: mine } }] });
    const seqs = all.body.events.map((event: { seq: number }) => event.seq);
    expect(seqs[0]).toBeGreaterThan(seqs[1]);
    const next = await http('GET', `${gate.url}/v1/audit/events?action=approval.requested&before_seq=${all.body.next_before_seq}`, { headers: bearer(gate.admin) });
    expect(next.body.events).toEqual([]);

    const bad = await http('GET', `${gate.url}/v1/audit/events?limit=0`, { headers: bearer(gate.admin) });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_request');
  });

  it('explains what a request would be without making one', async () => {
    const gate = await startGate(kind);
    const explained = await http('POST', `${gate.url}/v1/policy/explain`, { headers: bearer(gate.agent), json: { command: 'cat /etc/shadow', deployment_env: 'dev' } });
    expect(explained.status).toBe(200);
    expect(explained.body.explanation).toMatchObject({ risk_level: 'LOW', auto_approve: false, step_up_required: true, sensitive_paths: ['/etc/shadow'], allowed_by_gate: true });
    const denied = await http('POST', `${gate.url}/v1/policy/explain`, { headers: bearer(gate.agent), json: { op: { name: 'container.list' }, deployment_env: 'dev' } });
    expect(denied.body.explanation).toMatchObject({ allowed_by_gate: false, denials: [{ code: 'capability_missing' }, { code: 'operation_not_supported' }] });
    expect(await gate.server.runtime.store.db.selectFrom('approvals').select('id').execute()).toHaveLength(0);
  });
});
