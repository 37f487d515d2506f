import { describe, expect, it } from 'vitest';
import { ARGON2_PARAMETERS } from '../../src/identity/passwords.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { bearer, http } from '../helpers/http.js';
import { createPerson, login } from '../helpers/identity.js';
import { startTestServer } from '../helpers/server.js';

const PASSWORD = 'Sessions-Password-Long-9';

async function setup(kind: Parameters<typeof createDatabase>[0], auth: Record<string, unknown> = {}) {
  const database = await createDatabase(kind);
  const server = await startTestServer({ database: { url: database.url }, auth });
  await server.runtime.users.create({ username: 'carol', role: 'requester', password: PASSWORD, actor: 'test' });
  const audit = async () => server.runtime.store.db.selectFrom('audit_events').select(['action', 'data']).orderBy('seq').execute();
  return { server, url: server.url, audit };
}

describe.each(storeKinds())('logins, sessions and access tokens on %s', (kind) => {
  it('stores argon2id hashes with their parameters, and never a password in the audit chain', async () => {
    const { server, audit } = await setup(kind);
    const row = await server.runtime.store.db.selectFrom('users').select('password_hash').where('username', '=', 'carol').executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_PARAMETERS.memoryCost},t=${ARGON2_PARAMETERS.timeCost},p=${ARGON2_PARAMETERS.parallelism}\\$`));
    await login(server.url, { username: 'carol', password: PASSWORD });
    await http('POST', `${server.url}/v1/auth/login`, { json: { username: 'carol', password: 'Wrong-Password-Long-1' } });
    const everything = JSON.stringify(await audit());
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain('Wrong-Password-Long-1');
    expect(everything).not.toContain(row.password_hash);
  });

  it('answers a wrong password and an unknown user identically, audits the real reason, and locks after repeated failures', async () => {
    const { url, audit } = await setup(kind, { maxFailedLogins: 3, lockoutSeconds: 1 });
    const wrong = await http('POST', `${url}/v1/auth/login`, { json: { username: 'carol', password: 'Not-Her-Password-11' } });
    const unknown = await http('POST', `${url}/v1/auth/login`, { json: { username: 'nobody', password: 'Not-Her-Password-11' } });
    const strip = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });
    expect(wrong.status).toBe(401);
    expect(strip(unknown.body)).toEqual(strip(wrong.body));
    expect(unknown.status).toBe(wrong.status);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const reasons = (await audit()).filter((event) => event.action === 'auth.login_failed').map((event) => JSON.parse(event.data).reason);
    expect(reasons).toEqual(['wrong_password', 'unknown_user']);

    await http('POST', `${url}/v1/auth/login`, { json: { username: 'carol', password: 'Not-Her-Password-12' } });
    await http('POST', `${url}/v1/auth/login`, { json: { username: 'carol', password: 'Not-Her-Password-13' } });
    // Locked now: even the right password gets the same answer as a wrong one.
    const locked = await http('POST', `${url}/v1/auth/login`, { json: { username: 'carol', password: PASSWORD } });
    expect(locked.status).toBe(401);
    expect(strip(locked.body)).toEqual(strip(wrong.body));
    const actions = (await audit()).map((event) => event.action);
    expect(actions).toContain('auth.locked');
    expect((await audit()).filter((event) => event.action === 'auth.login_failed').map((event) => JSON.parse(event.data).reason).at(-1)).toBe('locked');
    // The lock lifts after its time (1 s, doubled once per failure past the limit).
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect((await http('POST', `${url}/v1/auth/login`, { json: { username: 'carol', password: PASSWORD } })).status).toBe(200);
  });

  it('sets an HTTP-only SameSite=Strict cookie (Secure only over TLS) and refuses cookie writes without the CSRF token', async () => {
    const { url, audit } = await setup(kind);
    const session = await login(url, { username: 'carol', password: PASSWORD });
    expect(session.setCookie).toMatch(/HttpOnly/i);
    expect(session.setCookie).toMatch(/SameSite=Strict/i);
    expect(session.setCookie).toMatch(/Path=\//);
    expect(session.setCookie).not.toMatch(/Secure/i);
    expect((await http('GET', `${url}/v1/whoami`, { headers: { cookie: session.cookie } })).body).toMatchObject({ kind: 'session', user: { username: 'carol', role: 'requester' } });
    const body = { worker_id: 'w', task_name: 't', command: 'echo hi', deployment_env: 'dev' };
    const forged = await http('POST', `${url}/v1/approvals`, { headers: { cookie: session.cookie }, json: body });
    expect(forged.status).toBe(403);
    expect(forged.body.code).toBe('csrf_failed');
    const wrongToken = await http('POST', `${url}/v1/approvals`, { headers: { cookie: session.cookie, 'x-csrf-token': 'x'.repeat(43) }, json: body });
    expect(wrongToken.body.code).toBe('csrf_failed');
    expect(await http('GET', `${url}/v1/approvals`, { headers: { cookie: session.cookie } }).then((r) => r.body.requests)).toEqual([]);
    const made = await http('POST', `${url}/v1/approvals`, { headers: { cookie: session.cookie, 'x-csrf-token': session.csrf }, json: body });
    expect(made.status).toBe(201);
    expect((await audit()).filter((event) => event.action === 'auth.csrf_refused')).toHaveLength(2);

    const secure = await http('POST', `${url}/v1/auth/login`, { headers: { 'x-forwarded-proto': 'https' }, json: { username: 'carol', password: PASSWORD } });
    // Without trustProxy a forwarded header proves nothing: still no Secure flag.
    expect(String(secure.headers['set-cookie'])).not.toMatch(/Secure/i);
  });

  it('marks the cookie Secure behind a trusted TLS proxy', async () => {
    const database = await createDatabase(kind);
    const server = await startTestServer({ database: { url: database.url }, server: { port: 0, trustProxy: true } });
    await server.runtime.users.create({ username: 'carol', role: 'requester', password: PASSWORD, actor: 'test' });
    const response = await http('POST', `${server.url}/v1/auth/login`, { headers: { 'x-forwarded-proto': 'https' }, json: { username: 'carol', password: PASSWORD } });
    expect(String(response.headers['set-cookie'])).toMatch(/Secure/i);
  });

  it('issues access tokens that work as bearers, rotate their refresh token, end at logout, and never run anything', async () => {
    const { url } = await setup(kind);
    const session = await login(url, { username: 'carol', password: PASSWORD });
    expect(session.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'approvals:read approvals:request gateway:execute workspaces:use' });
    expect((await http('GET', `${url}/v1/auth/whoami`, { headers: bearer(session.accessToken) })).body).toMatchObject({ kind: 'access_token', role: 'requester' });

    const refreshed = await http('POST', `${url}/v1/auth/refresh`, { json: { refresh_token: session.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(session.refreshToken);
    const reused = await http('POST', `${url}/v1/auth/refresh`, { json: { refresh_token: session.refreshToken } });
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe('invalid_grant');

    // An access token is not a capability token: the gateway refuses it.
    const run = await http('POST', `${url}/gateway/execute`, { headers: { 'x-capability-token': session.accessToken }, json: { command: 'echo hi', approval_id: 'x', environment: 'dev' } });
    expect(run.status).toBe(401);

    expect((await http('POST', `${url}/v1/auth/logout`, { headers: bearer(refreshed.body.access_token) })).status).toBe(200);
    for (const token of [session.accessToken, refreshed.body.access_token]) expect((await http('GET', `${url}/v1/whoami`, { headers: bearer(token) })).status).toBe(401);
    expect((await http('GET', `${url}/v1/whoami`, { headers: { cookie: session.cookie } })).status).toBe(401);
    expect((await http('POST', `${url}/v1/auth/refresh`, { json: { refresh_token: refreshed.body.refresh_token } })).status).toBe(401);
  });

  it('asks for TOTP at login once enrolled, accepts each code once, and refuses a code of another secret', async () => {
    const { server, url, audit } = await setup(kind);
    const dave = await createPerson(server.runtime, 'dave', 'approver');
    const withoutCode = await http('POST', `${url}/v1/auth/login`, { json: { username: 'dave', password: dave.password } });
    expect(withoutCode.body.code).toBe('totp_required');
    const code = dave.code();
    const first = await http('POST', `${url}/v1/auth/login`, { json: { username: 'dave', password: dave.password, totp: code } });
    expect(first.status).toBe(200);
    expect(first.body.user.mfa).toBe(true);
    const replay = await http('POST', `${url}/v1/auth/login`, { json: { username: 'dave', password: dave.password, totp: code } });
    expect(replay.status).toBe(403);
    expect(replay.body.code).toBe('totp_replayed');
    const other = await createPerson(server.runtime, 'erin', 'approver');
    const foreign = await http('POST', `${url}/v1/auth/login`, { json: { username: 'dave', password: dave.password, totp: other.code() } });
    expect(foreign.body.code).toBe('totp_invalid');
    const recovery = await http('POST', `${url}/v1/auth/login`, { json: { username: 'dave', password: dave.password, totp: dave.recoveryCodes[0] } });
    expect(recovery.status).toBe(200);
    const recoveryAgain = await http('POST', `${url}/v1/auth/login`, { json: { username: 'dave', password: dave.password, totp: dave.recoveryCodes[0] } });
    expect(recoveryAgain.body.code).toBe('totp_invalid');
    const actions = (await audit()).map((event) => event.action);
    expect(actions).toEqual(expect.arrayContaining(['totp.enrolled', 'totp.replayed', 'totp.failed', 'totp.recovery_code_used', 'auth.login']));
    // The seed is stored encrypted: neither it nor a recovery code appears in the database in clear.
    const row = await server.runtime.store.db.selectFrom('users').selectAll().where('username', '=', 'dave').executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(dave.secret);
    expect(JSON.stringify(row)).not.toContain(dave.recoveryCodes[1]);
    expect(JSON.stringify(await audit())).not.toContain(dave.secret);
  });

  it('enrolls TOTP over HTTP with a QR code, confirmed by a first code, recovery codes shown once', async () => {
    const { url } = await setup(kind);
    const session = await login(url, { username: 'carol', password: PASSWORD });
    const enrollment = await http('POST', `${url}/v1/auth/totp/enroll`, { headers: bearer(session.accessToken) });
    expect(enrollment.status).toBe(200);
    expect(enrollment.body.otpauth_uri).toMatch(/^otpauth:\/\/totp\/Airlock:carol\?.*secret=/);
    expect(enrollment.body.qr.svg).toContain('<svg');
    expect(enrollment.body.qr.png_data_url).toMatch(/^data:image\/png;base64,/);
    const { totpCode } = await import('../../src/identity/totp.js');
    const bad = await http('POST', `${url}/v1/auth/totp/confirm`, { headers: bearer(session.accessToken), json: { code: '000000' } });
    expect(bad.status).toBe(400);
    const confirmed = await http('POST', `${url}/v1/auth/totp/confirm`, { headers: bearer(session.accessToken), json: { code: totpCode(enrollment.body.secret) } });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.recovery_codes).toHaveLength(10);
    const again = await http('POST', `${url}/v1/auth/totp/enroll`, { headers: bearer(session.accessToken) });
    expect(again.body.code).toBe('totp_already_enrolled');
  });
});
