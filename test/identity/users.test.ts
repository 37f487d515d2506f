import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/http/logger.js';
import { bootstrapAdmin } from '../../src/identity/index.js';
import { openRuntime } from '../../src/runtime.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { bearer, http } from '../helpers/http.js';
import { login } from '../helpers/identity.js';
import { startTestServer, testConfig } from '../helpers/server.js';

const SECRET = 'introspection-secret-of-enough-length-0123';
const PASSWORD = 'Violet-Has-A-Long-Passphrase-3';

async function setup(kind: Parameters<typeof createDatabase>[0]) {
  const database = await createDatabase(kind);
  const server = await startTestServer({ database: { url: database.url }, auth: { introspectSecret: SECRET } });
  const admin = await server.runtime.keys.create({ name: 'root', scopes: ['admin'], actor: 'test' });
  return { server, url: server.url, admin: admin.key };
}

describe.each(storeKinds())('users, keys and introspection on %s', (kind) => {
  it('creates users with a generated password shown once, refuses weak ones, and keeps the last admin', async () => {
    const { url, admin } = await setup(kind);
    const created = await http('POST', `${url}/v1/users`, { headers: bearer(admin), json: { username: 'frank', role: 'approver' } });
    expect(created.status).toBe(201);
    expect(created.body.password).toMatch(/^[\w-]{24}$/);
    expect(created.body.user).toMatchObject({ username: 'frank', role: 'approver', status: 'active', totp_enrolled: false });
    expect(JSON.stringify((await http('GET', `${url}/v1/users`, { headers: bearer(admin) })).body)).not.toContain(created.body.password);
    for (const password of ['short', 'password1234', 'gina-Passphrase-77', 'aaaaaaaaaaaaaaaa']) {
      const weak = await http('POST', `${url}/v1/users`, { headers: bearer(admin), json: { username: 'gina', role: 'auditor', password } });
      expect(weak.status, password).toBe(400);
      expect(weak.body.code).toBe('weak_password');
    }
    expect((await http('POST', `${url}/v1/users`, { headers: bearer(admin), json: { username: 'frank', role: 'auditor' } })).body.code).toBe('user_exists');
    const last = await http('POST', `${url}/v1/users/admin/disable`, { headers: bearer(admin) });
    expect(last.status).toBe(409);
    expect(last.body.code).toBe('last_admin');
  });

  it('revokes every session and key of a disabled user at once', async () => {
    const { server, url, admin } = await setup(kind);
    await server.runtime.users.create({ username: 'frank', role: 'requester', password: PASSWORD, actor: 'test' });
    const session = await login(url, { username: 'frank', password: PASSWORD });
    const key = await http('POST', `${url}/v1/keys`, { headers: bearer(session.accessToken), json: { name: 'laptop', scopes: ['approvals:read'] } });
    expect(key.status).toBe(201);
    expect(key.body.owner).toBe('frank');
    expect((await http('GET', `${url}/v1/whoami`, { headers: bearer(key.body.key) })).status).toBe(200);

    const disabled = await http('POST', `${url}/v1/users/frank/disable`, { headers: bearer(admin) });
    expect(disabled.body).toMatchObject({ sessions: 1, keys: 1, user: { status: 'disabled' } });
    for (const headers of [bearer(key.body.key), bearer(session.accessToken), { cookie: session.cookie }]) {
      expect((await http('GET', `${url}/v1/whoami`, { headers })).status).toBe(401);
    }
    expect((await http('POST', `${url}/v1/auth/login`, { json: { username: 'frank', password: PASSWORD } })).status).toBe(401);
  });

  it('never lets a key exceed its owner: creation is refused, and a role change cuts existing keys down', async () => {
    const { server, url, admin } = await setup(kind);
    await server.runtime.users.create({ username: 'frank', role: 'approver', password: PASSWORD, actor: 'test' });
    const session = await login(url, { username: 'frank', password: PASSWORD });
    const tooMuch = await http('POST', `${url}/v1/keys`, { headers: bearer(session.accessToken), json: { name: 'k', scopes: ['gateway:execute'] } });
    expect(tooMuch.status).toBe(403);
    expect(tooMuch.body.code).toBe('scope_exceeds_owner');
    const forOther = await http('POST', `${url}/v1/keys`, { headers: bearer(session.accessToken), json: { name: 'k', scopes: ['approvals:read'], user: 'admin' } });
    expect(forOther.status).toBe(403);
    const key = await http('POST', `${url}/v1/keys`, { headers: bearer(session.accessToken), json: { name: 'k', scopes: ['approvals:read', 'approvals:decide'] } });
    expect((await http('GET', `${url}/v1/whoami`, { headers: bearer(key.body.key) })).body.scopes).toEqual(['approvals:decide', 'approvals:read']);
    await http('POST', `${url}/v1/users/frank/role`, { headers: bearer(admin), json: { role: 'auditor' } });
    expect((await http('GET', `${url}/v1/whoami`, { headers: bearer(key.body.key) })).body.scopes).toEqual(['approvals:read']);
    const actions = (await server.runtime.store.db.selectFrom('audit_events').select('action').orderBy('seq').execute()).map((row) => row.action);
    expect(actions).toEqual(expect.arrayContaining(['user.created', 'auth.login', 'key.created', 'user.role_changed']));
  });

  it('limits a key to its environments and expiry', async () => {
    const { server, url, admin } = await setup(kind);
    const limited = await http('POST', `${url}/v1/keys`, {
      headers: bearer(admin),
      json: { name: 'dev-only', scopes: ['approvals:request', 'approvals:read'], environments: ['dev'], expires_at: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(limited.status).toBe(201);
    const body = { worker_id: 'w', task_name: 't', command: 'echo hi' };
    expect((await http('POST', `${url}/v1/approvals`, { headers: bearer(limited.body.key), json: { ...body, deployment_env: 'dev' } })).status).toBe(201);
    const prd = await http('POST', `${url}/v1/approvals`, { headers: bearer(limited.body.key), json: { ...body, deployment_env: 'test' } });
    expect(prd.status).toBe(403);
    expect(prd.body.code).toBe('key_environment_denied');
    const past = await http('POST', `${url}/v1/keys`, { headers: bearer(admin), json: { name: 'old', scopes: ['approvals:read'], expires_at: '2020-01-01T00:00:00Z' } });
    expect(past.body.code).toBe('invalid_expiry');
    await server.runtime.store.db.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', limited.body.id).execute();
    const expired = await http('GET', `${url}/v1/whoami`, { headers: bearer(limited.body.key) });
    expect(expired.status).toBe(401);
    expect(expired.body.detail).toContain('expired');
  });

  it('introspects keys and access tokens per RFC 7662, behind its own secret', async () => {
    const { server, url, admin } = await setup(kind);
    await server.runtime.users.create({ username: 'frank', role: 'requester', password: PASSWORD, actor: 'test' });
    const session = await login(url, { username: 'frank', password: PASSWORD });
    const key = await server.runtime.keys.create({ name: 'agent', scopes: ['approvals:request'], owner: 'frank', expiresAt: new Date(Date.now() + 3_600_000).toISOString(), actor: 'test' });
    const revoked = await server.runtime.keys.create({ name: 'gone', scopes: ['approvals:read'], actor: 'test' });
    await server.runtime.keys.revoke(revoked.info.id, 'test');
    const expired = await server.runtime.keys.create({ name: 'old', scopes: ['approvals:read'], expiresAt: new Date(Date.now() + 60_000).toISOString(), actor: 'test' });
    await server.runtime.store.db.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', expired.info.id).execute();
    const introspect = (token: string, secret = SECRET) => http('POST', `${url}/v1/auth/introspect`, { headers: bearer(secret), json: { token } });

    expect((await introspect(key.key)).body).toMatchObject({ active: true, token_type: 'api_key', scope: 'approvals:request', username: 'frank', client_id: key.info.prefix });
    expect((await introspect(key.key)).body.exp).toBe(Math.floor(Date.parse(key.info.expires_at as string) / 1000));
    const token = (await introspect(session.accessToken)).body;
    expect(token).toMatchObject({ active: true, token_type: 'access_token', username: 'frank', sub: expect.any(String), aud: 'airlock-api' });
    expect(token.exp).toBeGreaterThan(Date.now() / 1000);
    for (const inactive of [revoked.key, expired.key, 'alk_AAAAAAAA_' + 'A'.repeat(43), 'garbage', session.accessToken.slice(0, -4) + 'AAAA']) {
      expect((await introspect(inactive)).body, inactive.slice(0, 12)).toEqual({ active: false });
    }
    await http('POST', `${url}/v1/auth/logout`, { headers: bearer(session.accessToken) });
    expect((await introspect(session.accessToken)).body).toEqual({ active: false });

    // Form-encoded, as RFC 7662 clients send it.
    const form = await http('POST', `${url}/v1/auth/introspect`, { headers: { ...bearer(SECRET), 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(key.key)}&token_type_hint=api_key` });
    expect(form.body.active).toBe(true);
    // Its own credential, not an API key: an admin key is refused, and so is no credential.
    expect((await introspect(key.key, admin)).status).toBe(401);
    expect((await http('POST', `${url}/v1/auth/introspect`, { json: { token: key.key } })).status).toBe(401);
  });

  it('answers 404 for introspection when no secret is configured', async () => {
    const database = await createDatabase(kind);
    const server = await startTestServer({ database: { url: database.url } });
    const response = await http('POST', `${server.url}/v1/auth/introspect`, { headers: bearer(SECRET), json: { token: 'x' } });
    expect(response.status).toBe(404);
    expect(response.body.code).toBe('introspection_disabled');
  });
});

describe.each(storeKinds())('several instances starting at once on one %s store', (kind) => {
  it('creates the first admin once; the other instances find it and start', async () => {
    const database = await createDatabase(kind);
    const runtime = await openRuntime(testConfig({ database: { url: database.url } }), createLogger('silent'));
    try {
      // What each instance's start does, all at once before any of them committed.
      const settings = { bootstrapAdmin: 'admin', bootstrapPassword: PASSWORD };
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => bootstrapAdmin(runtime.users, settings, `system:instance-${i}`)));
      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(results.every((result) => result.username === 'admin')).toBe(true);
      expect(await runtime.users.count('human')).toBe(1);

      // Any two creations racing for one name: one wins, the other is told the name is taken.
      const raced = await Promise.allSettled(Array.from({ length: 6 }, () => runtime.users.create({ username: 'deployer', role: 'auditor', kind: 'service', actor: 'test' })));
      expect(raced.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      for (const result of raced.filter((entry) => entry.status === 'rejected')) expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'user_exists', status: 409 });
    } finally {
      await runtime.close();
    }
  });
});
