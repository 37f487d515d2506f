import { describe, expect, it } from 'vitest';
import { canonicalEvent, canonicalJson, chainHash } from '../../src/audit/index.js';
import { dropAppendOnlyTriggers, storeKinds } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';

/** The NDJSON lines of a streamed answer. */
function lines(text: string): Array<Record<string, any>> {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, any>);
}

describe.each(storeKinds())('the audit chain over HTTP on %s', (kind) => {
  it('shows the head and checkpoints, verifies with progress, records the verification and shows it', async () => {
    const gate = await startGate(kind);
    await gate.request({ command: 'echo one', deployment_env: 'dev' });
    await gate.server.runtime.audit.checkpoint();
    await gate.request({ command: 'echo two', deployment_env: 'dev' });

    const before = await http('GET', `${gate.url}/v1/audit/status`, { headers: bearer(gate.admin) });
    expect(before.status).toBe(200);
    const head = await gate.server.runtime.audit.head();
    expect(before.body).toMatchObject({
      head: { seq: head.seq, hash: head.hash },
      key_id: gate.server.runtime.signer.keyId,
      last_verification: null,
    });
    expect(before.body.checkpoints.count).toBeGreaterThanOrEqual(1);
    expect(before.body.checkpoints.last).toMatchObject({ key_id: gate.server.runtime.signer.keyId });
    expect(before.body.checkpoints.unsigned_events).toBe(head.seq - before.body.checkpoints.last.seq);

    const verified = await http('POST', `${gate.url}/v1/audit/verify`, { headers: bearer(gate.admin) });
    expect(verified.status).toBe(200);
    expect(verified.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const stream = lines(verified.text);
    expect(stream[0]).toEqual({ type: 'progress', checked: 0, total: head.seq });
    expect(stream.at(-2)).toEqual({ type: 'progress', checked: head.seq, total: head.seq });
    const result = stream.at(-1);
    expect(result).toMatchObject({ type: 'result', ok: true, count: head.seq, head_seq: head.seq, head_hash: head.hash, problem: null, actor: expect.stringMatching(/^key:/) });

    const after = await http('GET', `${gate.url}/v1/audit/status`, { headers: bearer(gate.admin) });
    expect(after.body.last_verification).toMatchObject({ ok: true, count: head.seq, seq: result?.seq, actor: result?.actor });
    expect(after.body.head.seq).toBe(result?.seq);
    expect(await gate.auditActions()).toContain('audit.verified');

    // An agent (approvals:read only) sees neither.
    for (const [method, path] of [['GET', '/v1/audit/status'], ['POST', '/v1/audit/verify'], ['GET', '/v1/audit/export']] as const) {
      const refused = await http(method, `${gate.url}${path}`, { headers: bearer(gate.agent) });
      expect(refused.status, path).toBe(403);
    }
  });

  it('names the first changed row and records the failed verification', async () => {
    const gate = await startGate(kind);
    await gate.request({ command: 'echo one', deployment_env: 'dev' });
    await gate.request({ command: 'echo two', deployment_env: 'dev' });
    const target = (await gate.server.runtime.store.db.selectFrom('audit_events').select('seq').where('action', '=', 'approval.requested').orderBy('seq').executeTakeFirstOrThrow()).seq;
    await dropAppendOnlyTriggers(gate.database);
    await gate.server.runtime.store.db.updateTable('audit_events').set({ data: '{"command":"rm -rf /"}' }).where('seq', '=', target).execute();

    const verified = await http('POST', `${gate.url}/v1/audit/verify`, { headers: bearer(gate.admin) });
    const result = lines(verified.text).at(-1);
    expect(result).toMatchObject({ type: 'result', ok: false, count: Number(target) - 1, problem: { seq: Number(target), reason: expect.stringContaining('the row was changed') } });
    const status = await http('GET', `${gate.url}/v1/audit/status`, { headers: bearer(gate.admin) });
    expect(status.body.last_verification).toMatchObject({ ok: false, problem: { seq: Number(target) } });
  });

  it('filters events by a time window', async () => {
    const gate = await startGate(kind);
    await gate.request({ command: 'echo one', deployment_env: 'dev' });
    const events = async (query: string) => (await http('GET', `${gate.url}/v1/audit/events?action=approval.requested&${query}`, { headers: bearer(gate.admin) })).body.events as Array<{ time: string }>;
    const [only] = await events('');
    expect(only).toBeDefined();
    const time = Date.parse(only?.time ?? '');
    expect(await events(`since=${new Date(time).toISOString()}&until=${new Date(time + 1).toISOString()}`)).toHaveLength(1);
    expect(await events(`until=${new Date(time).toISOString()}`)).toHaveLength(0);
    expect(await events(`since=${new Date(time + 1).toISOString()}`)).toHaveLength(0);
    expect((await http('GET', `${gate.url}/v1/audit/events?until=yesterday`, { headers: bearer(gate.admin) })).status).toBe(400);
  });

  it('exports the chain as JSON lines that recompute to the same hashes', async () => {
    const gate = await startGate(kind);
    await gate.request({ command: 'echo one', deployment_env: 'dev' });
    const exported = await http('GET', `${gate.url}/v1/audit/export`, { headers: bearer(gate.admin) });
    expect(exported.status).toBe(200);
    expect(exported.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(exported.headers['content-disposition']).toMatch(/^attachment; filename="airlock-audit-1-\d+\.jsonl"$/);
    const rows = lines(exported.text);
    expect(rows.map((row) => row.seq)).toEqual(rows.map((_, index) => index + 1));
    // The export itself is recorded, and is in it.
    expect(rows.at(-1)).toMatchObject({ action: 'audit.exported', data: { after: 0, via: 'http' } });
    let prev = '0'.repeat(64);
    for (const row of rows) {
      expect(row.prev_hash).toBe(prev);
      expect(chainHash(row.prev_hash, canonicalEvent({ ...row, data: canonicalJson(row.data) } as never))).toBe(row.hash);
      prev = row.hash;
    }
    const later = lines((await http('GET', `${gate.url}/v1/audit/export?after=${rows.length - 1}`, { headers: bearer(gate.admin) })).text);
    expect(later[0]?.seq).toBe(rows.length);
    expect((await http('GET', `${gate.url}/v1/audit/export?after=-1`, { headers: bearer(gate.admin) })).status).toBe(400);
  });
});
