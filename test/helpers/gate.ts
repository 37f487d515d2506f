import type { RawConfig } from '../../src/config/index.js';
import { createDatabase, type StoreKind } from './databases.js';
import { bearer, http } from './http.js';
import { createPerson } from './identity.js';
import { startTestServer } from './server.js';

export { REFERENCE_INSTRUCTION } from '../../src/approvals/index.js';

/**
 * A running server on a fresh database with the keys of the reference roles: an agent that asks and
 * reads, an approver (a person with TOTP, so HIGH requests can be approved) that decides and mints,
 * and an admin.
 */
export async function startGate(kind: StoreKind, settings: RawConfig = {}) {
  const database = await createDatabase(kind);
  const server = await startTestServer({ ...settings, database: { ...(settings.database as object | undefined), url: database.url } });
  const keys = server.runtime.keys;
  const agent = await keys.create({ name: 'agent', scopes: ['approvals:request', 'approvals:read', 'gateway:execute'], actor: 'test' });
  const person = await createPerson(server.runtime, 'approver', 'approver');
  const approver = await keys.create({ name: 'approver', scopes: ['approvals:read', 'approvals:decide'], owner: person.username, actor: 'test' });
  const admin = await keys.create({ name: 'admin', scopes: ['admin'], actor: 'test' });
  const url = server.url;
  return {
    server,
    database,
    url,
    agent: agent.key,
    approver: approver.key,
    person,
    admin: admin.key,
    /** POST /approvals/request as the agent. */
    request: (body: Record<string, unknown>, key = agent.key) =>
      http('POST', `${url}/approvals/request`, { headers: { 'x-wingman-approval-request-key': key }, json: { worker_id: 'test-worker', task_name: 'test task', ...body } }),
    /** Decides as the approver; approvals carry a fresh TOTP code, as a HIGH request needs. */
    decide: (id: string, decision: 'approve' | 'reject', key = approver.key, reason?: string) =>
      http('POST', `${url}/approvals/${id}/${decision}`, {
        headers: { 'x-wingman-approval-decide-key': key },
        json: { ...(reason ? { reason } : {}), ...(decision === 'approve' && key === approver.key ? { totp: person.code() } : {}) },
      }),
    get: (id: string, query = '', key = agent.key) => http('GET', `${url}/approvals/${id}${query}`, { headers: bearer(key) }),
    auditActions: async () => (await server.runtime.store.db.selectFrom('audit_events').select('action').orderBy('seq').execute()).map((row) => row.action),
  };
}

/** Requests, approves if needed, and mints: the token and what it was minted for. */
export async function approvedToken(gate: Awaited<ReturnType<typeof startGate>>, command: string, environment = 'dev') {
  const created = await gate.request({ command, deployment_env: environment });
  if (created.status !== 201) throw new Error(`request failed: ${created.text}`);
  const id = created.body.request.request_id as string;
  if (created.body.request.status === 'PENDING') await gate.decide(id, 'approve');
  const minted = await http('POST', `${gate.url}/gateway/token`, {
    headers: { 'x-wingman-approval-decide-key': gate.approver },
    json: { approval_id: id, command, environment },
  });
  if (minted.status !== 200) throw new Error(`mint failed: ${minted.text}`);
  return { id, token: minted.body.token as string, command, environment };
}

/** POST /gateway/execute with a capability token, as the reference clients do. */
export function execute(url: string, token: string | undefined, body: Record<string, unknown>) {
  return http('POST', `${url}/gateway/execute`, { headers: token === undefined ? {} : { 'x-capability-token': token }, json: body });
}
