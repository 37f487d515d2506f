import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { storeKinds } from '../helpers/databases.js';
import { approvedToken, execute, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { createPerson, login } from '../helpers/identity.js';
import { startTestServer } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

describe.each(storeKinds())('the endpoints the web console reads on %s', (kind) => {
  it('tells a browser whether its cookie is a live session, and gives the CSRF token again', async () => {
    const gate = await startGate(kind);
    const anonymous = await http('GET', `${gate.url}/v1/auth/session`);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toEqual({ authenticated: false });
    expect(anonymous.headers['cache-control']).toBe('no-store');
    expect((await http('GET', `${gate.url}/v1/auth/session`, { headers: { cookie: 'airlock_session=made-up' } })).body).toEqual({ authenticated: false });

    const session = await login(gate.url, gate.person);
    const described = await http('GET', `${gate.url}/v1/auth/session`, { headers: { cookie: session.cookie } });
    expect(described.body).toMatchObject({
      authenticated: true,
      csrf_token: session.csrf,
      mfa: true,
      totp_enrolled: true,
      whoami: { kind: 'session', user: { username: 'approver', role: 'approver' }, scopes: expect.arrayContaining(['approvals:decide']) },
    });
    await http('POST', `${gate.url}/v1/auth/logout`, { headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } });
    expect((await http('GET', `${gate.url}/v1/auth/session`, { headers: { cookie: session.cookie } })).body).toEqual({ authenticated: false });
  });

  it('names the requester of a request, and tells its whole history: decisions, token, execution, output and receipt', async () => {
    const gate = await startGate(kind);
    const command = `chmod -R u+rwX ${tmpDir()}`; // HIGH: recursive permissions
    const { id, token } = await approvedToken(gate, command);
    const ran = await execute(gate.url, token, { command, approval_id: id, environment: 'dev' });
    expect(ran.body).toMatchObject({ success: true, exit_code: 0 });
    expect(ran.status).toBe(200);

    const history = await http('GET', `${gate.url}/v1/approvals/${id}/history`, { headers: bearer(gate.approver) });
    expect(history.status).toBe(200);
    const requester = await gate.server.runtime.store.db.selectFrom('users').select('username').where('id', '=', history.body.request.requested_by).executeTakeFirstOrThrow();
    expect(history.body.request).toMatchObject({ request_id: id, status: 'EXECUTED', risk_level: 'HIGH', requester: requester.username, approvals: [{ username: 'approver', step_up: 'totp' }] });
    expect(history.body.events.map((event: { action: string }) => event.action)).toEqual(['approval.requested', 'approval.decided', 'token.minted', 'execution.started', 'execution.finished']);
    expect(history.body.executions).toEqual([
      expect.objectContaining({ id: ran.body.execution_id, status: 'succeeded', exit_code: 0, output: ran.body.output, receipt: ran.body.receipt, truncated: false }),
    ]);
    expect(history.body.instruction).toMatchObject({ text: '', sections: { DELIVERABLES: null, QUALITY_METRICS: null } });

    const listed = await http('GET', `${gate.url}/v1/approvals?limit=1`, { headers: bearer(gate.approver) });
    expect(listed.body.requests[0]).toMatchObject({ request_id: id, requester: requester.username });
    expect((await http('GET', `${gate.url}/v1/approvals/01900000-0000-7000-8000-000000000000/history`, { headers: bearer(gate.approver) })).status).toBe(404);
  });

  it('counts requests per hour by risk level and how long people took to decide', async () => {
    const gate = await startGate(kind);
    await gate.request({ command: 'echo low', deployment_env: 'dev' });
    const medium = (await gate.request({ command: 'systemctl restart nginx', deployment_env: 'dev' })).body.request.request_id as string;
    await gate.request({ command: 'shutdown -h now', deployment_env: 'dev' });
    await gate.decide(medium, 'reject', gate.approver, 'not now');

    const answer = await http('GET', `${gate.url}/v1/stats?hours=3`, { headers: bearer(gate.agent) });
    expect(answer.status).toBe(200);
    const { stats } = answer.body;
    expect(stats.per_hour).toHaveLength(3);
    expect(stats.totals).toMatchObject({ requests: 3, auto_approved: 1, by_level: { LOW: 1, MEDIUM: 1, HIGH: 0, CRITICAL: 1 }, by_status: { APPROVED: 1, REJECTED: 1, PENDING: 1 } });
    expect(stats.per_hour.at(-1)).toMatchObject({ requests: { LOW: 1, MEDIUM: 1, HIGH: 0, CRITICAL: 1 }, decisions: 1 });
    expect(stats.decision_latency.count).toBe(1);
    expect(stats.decision_latency.median_seconds).toBeGreaterThanOrEqual(0);
    expect(stats.per_hour[0].hour < stats.per_hour[2].hour).toBe(true);
    expect((await http('GET', `${gate.url}/v1/stats?hours=0`, { headers: bearer(gate.agent) })).status).toBe(400);
  });

  it('shows the policy in force and, to admins, the integrations and delivery channels', async () => {
    const gate = await startGate(kind);
    const policy = await http('GET', `${gate.url}/v1/policy`, { headers: bearer(gate.agent) });
    expect(policy.status).toBe(200);
    expect(policy.body.policy).toMatchObject({ source: 'built-in', builtins: true, default_level: 'MEDIUM', environments: { prd: { raise: 1, minScore: 60 }, dev: { autoApprove: ['LOW'] } } });
    expect(policy.body.policy.builtin_rules.map((rule: { id: string }) => rule.id)).toContain('read-only');

    const status = await http('GET', `${gate.url}/v1/admin/status`, { headers: bearer(gate.admin) });
    expect(status.status).toBe(200);
    expect(status.body.status).toMatchObject({ store: kind, environments: ['dev', 'test', 'stg', 'prd'], deliveries: expect.any(Object) });
    for (const integration of ['webhooks', 'telegram']) {
      const endpoints = status.body.status.integrations[integration].endpoints as string[];
      expect(endpoints.every((path) => path.startsWith('/v1/') && path.includes(integration === 'webhooks' ? 'webhook' : 'telegram'))).toBe(true);
    }
    expect((await http('GET', `${gate.url}/v1/admin/status`, { headers: bearer(gate.approver) })).status).toBe(403);
  });
});

describe('validating targets.yaml and policy.yaml', () => {
  it('reads the files afresh, lists every problem, and changes nothing', async () => {
    const dir = tmpDir();
    const targetsFile = join(dir, 'targets.yaml');
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(targetsFile, 'version: "1.0"\ntargets:\n  local:\n    executor: local\n    capabilities: [exec]\n');
    writeFileSync(policyFile, 'rules: []\n');
    const server = await startTestServer({ targets: { file: targetsFile }, policy: { file: policyFile } });
    const admin = await server.runtime.keys.create({ name: 'admin', scopes: ['admin'], actor: 'test' });
    const validate = () => http('POST', `${server.url}/v1/admin/validate`, { headers: bearer(admin.key) });

    const good = await validate();
    expect(good.status).toBe(200);
    expect(good.body.validation).toMatchObject({ ok: true, targets: { ok: true, source: targetsFile, targets: ['local'], in_force: true, problems: [] }, policy: { ok: true, source: policyFile, rules: 0 } });

    server.runtime.targets.close(); // no reload on change: the registry must stay as it was
    writeFileSync(targetsFile, 'version: "1.0"\ntargets:\n  local:\n    executor: teleport\n');
    writeFileSync(policyFile, 'rules:\n  - id: Bad Id\n    level: EXTREME\n');
    const bad = await validate();
    expect(bad.body.validation.ok).toBe(false);
    expect(bad.body.validation.targets).toMatchObject({ ok: false, in_force: false });
    expect(bad.body.validation.targets.problems.join('\n')).toMatch(/executor/);
    expect(bad.body.validation.policy.problems.length).toBeGreaterThanOrEqual(2);
    const targets = await http('GET', `${server.url}/v1/targets`, { headers: bearer(admin.key) });
    expect(targets.body.targets.map((target: { id: string; executor: string }) => `${target.id}:${target.executor}`)).toEqual(['local:local']);
  });
});

describe('the console files at /app', () => {
  it('serves index.html for every console path, hashed assets for a year, and nothing outside the build', async () => {
    const dir = tmpDir();
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Airlock</title><script type="module" src="/app/assets/app-abc123.js"></script>');
    writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    const server = await startTestServer();
    const app = buildApp(server.runtime, { consoleDir: dir });
    await app.ready();
    try {
      for (const path of ['/app', '/app/', '/app/inbox', '/app/requests/0190']) {
        const page = await app.inject({ method: 'GET', url: path });
        expect(page.statusCode, path).toBe(200);
        expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(page.headers['cache-control']).toBe('no-store');
        expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
        expect(page.body).toContain('<title>Airlock</title>');
      }
      const script = await app.inject({ method: 'GET', url: '/app/assets/app-abc123.js' });
      expect(script.statusCode).toBe(200);
      expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      const again = await app.inject({ method: 'GET', url: '/app/assets/app-abc123.js', headers: { 'if-none-match': String(script.headers.etag) } });
      expect(again.statusCode).toBe(304);
      for (const path of ['/app/assets/app-old.js', '/app/../package.json', '/app/%2e%2e/%2e%2e/package.json', '/app/assets/..%2f..%2findex.html', '/app/favicon.ico']) {
        const refused = await app.inject({ method: 'GET', url: path });
        expect([404, 400], path).toContain(refused.statusCode);
        expect(refused.body).not.toContain('"name": "airlock"');
      }
      const root = await app.inject({ method: 'GET', url: '/' });
      expect(root.statusCode).toBe(302);
      expect(root.headers.location).toBe('/app/');
    } finally {
      await app.close();
    }

    const unbuilt = buildApp(server.runtime, { consoleDir: join(dir, 'missing') });
    await unbuilt.ready();
    const missing = await unbuilt.inject({ method: 'GET', url: '/app' });
    expect(missing.statusCode).toBe(503);
    expect(missing.json()).toMatchObject({ code: 'console_not_built' });
    await unbuilt.close();
  });

  it('has a person log in with TOTP through the same endpoints the console uses', async () => {
    const server = await startTestServer();
    const alice = await createPerson(server.runtime, 'alice', 'approver');
    const refused = await http('POST', `${server.url}/v1/auth/login`, { json: { username: 'alice', password: alice.password } });
    expect(refused.body.code).toBe('totp_required');
    const session = await login(server.url, alice);
    expect(session.body.user).toMatchObject({ username: 'alice', mfa: true });
  });
});
