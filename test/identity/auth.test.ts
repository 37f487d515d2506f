import { describe, expect, it } from 'vitest';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { bearer, http } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';

async function setup(kind: Parameters<typeof createDatabase>[0]) {
  const database = await createDatabase(kind);
  const server = await startTestServer({ database: { url: database.url } });
  const admin = await server.runtime.keys.create({ name: 'admin', scopes: ['admin'], actor: 'test' });
  const reader = await server.runtime.keys.create({ name: 'reader', scopes: ['approvals:read'], actor: 'test' });
  const auditActions = async () => (await server.runtime.store.db.selectFrom('audit_events').select(['action', 'data']).orderBy('seq').execute());
  return { server, admin: admin.key, reader: reader.key, readerId: reader.info.id, auditActions };
}

describe.each(storeKinds())('API key authentication on %s', (kind) => {
  it('answers 401 with a problem and an audit event for a missing, malformed, unknown or revoked key', async () => {
    const { server, admin, reader, readerId, auditActions } = await setup(kind);
    const forged = `alk_${reader.slice(4, 12)}_${'A'.repeat(43)}`;
    const cases: Array<[Record<string, string>, string, string]> = [
      [{}, 'missing', 'credentials are required'],
      [bearer('not-a-key'), 'malformed', 'neither an API key'],
      [bearer(forged), 'unknown', 'the API key is not valid'],
    ];
    for (const [headers, reason, detail] of cases) {
      const response = await http('GET', `${server.url}/v1/whoami`, { headers });
      expect(response.status, reason).toBe(401);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="airlock"');
      expect(response.body).toMatchObject({ code: 'unauthorized', status: 401 });
      expect(response.body.detail).toContain(detail);
    }
    expect((await http('DELETE', `${server.url}/v1/keys/${readerId}`, { headers: bearer(admin) })).status).toBe(200);
    const revoked = await http('GET', `${server.url}/v1/whoami`, { headers: bearer(reader) });
    expect(revoked.status).toBe(401);
    expect(revoked.body.detail).toBe('this API key has been revoked');

    const failures = (await auditActions()).filter((row) => row.action === 'auth.failed').map((row) => JSON.parse(row.data) as Record<string, unknown>);
    expect(failures.map((data) => data.reason)).toEqual(['missing', 'malformed', 'unknown', 'revoked']);
    expect(failures[0]).toMatchObject({ method: 'GET', route: '/v1/whoami', ip: '127.0.0.1' });
    const everything = JSON.stringify(await auditActions());
    expect(everything).not.toContain(reader.slice(13));
    expect(everything).not.toContain(forged);
  });

  it('accepts Bearer and the reference Wingman headers, and answers 403 (audited) without the scope', async () => {
    const { server, reader, auditActions } = await setup(kind);
    for (const headers of [
      bearer(reader),
      { 'x-wingman-approval-read-key': reader },
      { 'x-wingman-approval-request-key': reader },
      { 'x-wingman-approval-decide-key': reader },
    ]) {
      const response = await http('GET', `${server.url}/v1/whoami`, { headers });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ name: 'reader', kind: 'api_key', scopes: ['approvals:read'] });
    }
    const denied = await http('GET', `${server.url}/v1/users`, { headers: bearer(reader) });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'forbidden', required_scope: 'admin', detail: 'this API key lacks the scope admin' });
    expect((await auditActions()).map((row) => row.action)).toContain('auth.denied');
  });

  it('lets an admin create, list and revoke keys; secrets are shown once and stored only as hashes', async () => {
    const { server, admin } = await setup(kind);
    const created = await http('POST', `${server.url}/v1/keys`, { headers: bearer(admin), json: { name: 'ci-agent', scopes: ['approvals:request', 'gateway:execute'] } });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^alk_\w{8}_[\w-]{43}$/);
    expect(created.body.scopes).toEqual(['approvals:request', 'gateway:execute']);
    expect((await http('GET', `${server.url}/v1/whoami`, { headers: bearer(created.body.key) })).body.name).toBe('ci-agent');

    const list = await http('GET', `${server.url}/v1/keys`, { headers: bearer(admin) });
    expect(list.body.keys.map((key: { name: string }) => key.name)).toEqual(['admin', 'reader', 'ci-agent']);
    expect(list.text).not.toContain('secret_hash');
    expect(list.text).not.toContain(created.body.key);
    const rows = JSON.stringify(await server.runtime.store.db.selectFrom('api_keys').selectAll().execute());
    expect(rows).not.toContain(created.body.key);
    expect(rows).not.toContain(created.body.key.slice(13));

    const again = await http('DELETE', `${server.url}/v1/keys/${created.body.prefix}`, { headers: bearer(admin) });
    expect(again.status).toBe(200);
    const twice = await http('DELETE', `${server.url}/v1/keys/${created.body.prefix}`, { headers: bearer(admin) });
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('key_already_revoked');
    expect((await http('DELETE', `${server.url}/v1/keys/nope`, { headers: bearer(admin) })).body.code).toBe('key_not_found');
  });

  it('refuses bad key requests with 400 problems', async () => {
    const { server, admin } = await setup(kind);
    for (const json of [{}, { name: 'x', scopes: ['root'] }, { name: '', scopes: ['admin'] }, { name: 'x', scopes: [] }, { name: 'x', scopes: ['admin'], extra: 1 }, []]) {
      const response = await http('POST', `${server.url}/v1/keys`, { headers: bearer(admin), json });
      expect(response.status, JSON.stringify(json)).toBe(400);
      expect(response.body.code).toBe('invalid_request');
    }
    const notJson = await http('POST', `${server.url}/v1/keys`, { headers: { ...bearer(admin), 'content-type': 'application/json' }, body: '{"name":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('invalid_json');
    expect((await server.runtime.keys.list()).map((key) => key.name)).toEqual(['admin', 'reader']);
  });
});
