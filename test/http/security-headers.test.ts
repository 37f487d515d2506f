import { describe, expect, it } from 'vitest';
import { HSTS } from '../../src/http/security.js';
import { bearer, http, type HttpResult } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';

const CSP = "default-src 'self';base-uri 'self';form-action 'self';frame-ancestors 'none';object-src 'none'";

function expectSecurityHeaders(response: HttpResult, what: string): void {
  expect(response.headers['x-content-type-options'], what).toBe('nosniff');
  expect(response.headers['x-frame-options'], what).toBe('DENY');
  expect(response.headers['content-security-policy'], what).toBe(CSP);
  expect(response.headers['content-security-policy'], what).not.toContain('unsafe-inline');
  expect(response.headers['referrer-policy'], what).toBe('no-referrer');
}

function accessControlHeaders(response: HttpResult): string[] {
  return Object.keys(response.headers).filter((name) => name.startsWith('access-control-'));
}

describe('security headers', () => {
  it('are on /health, an API route, a 401, a 404 and a 400 problem', async () => {
    const server = await startTestServer();
    const { key } = await server.runtime.keys.create({ name: 'reader', scopes: ['approvals:read'], actor: 'test' });
    const health = await http('GET', `${server.url}/health`);
    expect(health.status).toBe(200);
    expectSecurityHeaders(health, '/health');
    const whoami = await http('GET', `${server.url}/v1/whoami`, { headers: bearer(key) });
    expect(whoami.status).toBe(200);
    expectSecurityHeaders(whoami, '/v1/whoami');
    const unauthorized = await http('GET', `${server.url}/v1/whoami`);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers['content-type']).toMatch(/^application\/problem\+json/);
    expectSecurityHeaders(unauthorized, '401');
    const missing = await http('GET', `${server.url}/v1/nothing-here`);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('not_found');
    expectSecurityHeaders(missing, '404');
    const invalid = await http('GET', `${server.url}/v1/approvals?status=nonsense`, { headers: bearer(key) });
    expect(invalid.status).toBe(400);
    expectSecurityHeaders(invalid, '400');
  });

  it('send HSTS only over TLS: never over plain HTTP, and X-Forwarded-Proto counts only with trustProxy', async () => {
    const direct = await startTestServer();
    const plain = await http('GET', `${direct.url}/health`);
    expect(plain.headers['strict-transport-security']).toBeUndefined();
    // Without trustProxy anyone could claim HTTPS: the header is ignored.
    const claimed = await http('GET', `${direct.url}/health`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(claimed.headers['strict-transport-security']).toBeUndefined();

    const proxied = await startTestServer({ server: { port: 0, trustProxy: true } });
    const overTls = await http('GET', `${proxied.url}/health`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(overTls.headers['strict-transport-security']).toBe(HSTS);
    const notFound = await http('GET', `${proxied.url}/nope`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(notFound.status).toBe(404);
    expect(notFound.headers['strict-transport-security']).toBe(HSTS);
    const unauthorized = await http('GET', `${proxied.url}/v1/whoami`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers['strict-transport-security']).toBe(HSTS);
    const overHttp = await http('GET', `${proxied.url}/health`, { headers: { 'x-forwarded-proto': 'http' } });
    expect(overHttp.headers['strict-transport-security']).toBeUndefined();
  });
});

describe('CORS', () => {
  it('is off by default: no Access-Control-* header on any answer, preflights included', async () => {
    const server = await startTestServer();
    const origin = { origin: 'https://console.example.com' };
    for (const response of [
      await http('GET', `${server.url}/health`, { headers: origin }),
      await http('GET', `${server.url}/v1/whoami`, { headers: origin }),
      await http('OPTIONS', `${server.url}/v1/whoami`, { headers: { ...origin, 'access-control-request-method': 'GET' } }),
    ]) {
      expect(accessControlHeaders(response)).toEqual([]);
    }
  });

  it('echoes an allowed origin, never a disallowed one, and answers preflights from the allowlist', async () => {
    const allowed = 'https://console.example.com';
    const server = await startTestServer({ cors: { origins: [allowed, 'http://127.0.0.1:5173'] } });
    const { key } = await server.runtime.keys.create({ name: 'reader', scopes: ['approvals:read'], actor: 'test' });

    const fromAllowed = await http('GET', `${server.url}/v1/whoami`, { headers: { ...bearer(key), origin: allowed } });
    expect(fromAllowed.status).toBe(200);
    expect(fromAllowed.headers['access-control-allow-origin']).toBe(allowed);
    expect(fromAllowed.headers['access-control-expose-headers']).toContain('x-request-id');
    expect(fromAllowed.headers.vary).toMatch(/origin/i);
    expect(fromAllowed.headers['access-control-allow-credentials']).toBeUndefined();
    // A refusal must be readable by the allowed page too.
    const refused = await http('GET', `${server.url}/v1/whoami`, { headers: { origin: allowed } });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(allowed);

    const fromOther = await http('GET', `${server.url}/v1/whoami`, { headers: { ...bearer(key), origin: 'https://evil.example.com' } });
    expect(fromOther.headers['access-control-allow-origin']).toBeUndefined();
    // Not a prefix or suffix match.
    const lookalike = await http('GET', `${server.url}/v1/whoami`, { headers: { ...bearer(key), origin: 'https://console.example.com.evil.net' } });
    expect(lookalike.headers['access-control-allow-origin']).toBeUndefined();

    const preflight = await http('OPTIONS', `${server.url}/v1/approvals`, {
      headers: { origin: allowed, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(allowed);
    expect(String(preflight.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    expect(preflight.headers['access-control-max-age']).toBe('600');

    const otherPreflight = await http('OPTIONS', `${server.url}/v1/approvals`, {
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(otherPreflight.headers['access-control-allow-origin']).toBeUndefined();
  });
});
