import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storeKinds } from '../helpers/databases.js';
import { approvedToken, startGate } from '../helpers/gate.js';
import { http } from '../helpers/http.js';

/** JSON of every shape: wrong types, huge and unicode strings, missing and extra fields, deep nesting. */
const hostileJson = fc.oneof(
  fc.jsonValue({ maxDepth: 8 }),
  fc.dictionary(fc.constantFrom('command', 'approval_id', 'environment', 'reason', 'name', 'scopes', 'extra'), fc.oneof(fc.string({ unit: 'binary', maxLength: 5000 }), fc.jsonValue({ maxDepth: 3 }), fc.constant(null))),
  fc.string({ unit: 'grapheme', maxLength: 100_000 }).map((text) => ({ command: text, approval_id: text, environment: text })),
  fc.integer({ min: 1, max: 2000 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown),
);

describe.each(storeKinds())('bad input on every endpoint on %s', (kind) => {
  it('is always a 4xx problem, never a 5xx, and never an execution', async () => {
    // Limits off, so every hostile body reaches validation rather than a 429.
    const gate = await startGate(kind, { rateLimit: { enabled: false }, auth: { introspectSecret: 'introspection-secret-of-enough-length-0123' } });
    const genuine = await approvedToken(gate, 'echo test');
    const endpoints: Array<{ method: string; path: string; headers: Record<string, string> }> = [
      { method: 'POST', path: '/approvals/request', headers: { authorization: `Bearer ${gate.agent}` } },
      { method: 'POST', path: `/approvals/${genuine.id}/approve`, headers: { authorization: `Bearer ${gate.approver}` } },
      { method: 'POST', path: `/v1/approvals/${genuine.id}/reject`, headers: { authorization: `Bearer ${gate.approver}` } },
      { method: 'POST', path: '/gateway/token', headers: { authorization: `Bearer ${gate.approver}` } },
      { method: 'POST', path: '/gateway/execute', headers: { 'x-capability-token': genuine.token } },
      { method: 'POST', path: '/v1/keys', headers: { authorization: `Bearer ${gate.admin}` } },
      { method: 'POST', path: '/v1/users', headers: { authorization: `Bearer ${gate.admin}` } },
      { method: 'POST', path: '/v1/users/approver/role', headers: { authorization: `Bearer ${gate.admin}` } },
      { method: 'POST', path: '/v1/auth/login', headers: {} },
      { method: 'POST', path: '/v1/auth/refresh', headers: {} },
      { method: 'POST', path: '/v1/auth/introspect', headers: { authorization: 'Bearer introspection-secret-of-enough-length-0123' } },
      { method: 'POST', path: '/v1/challenges', headers: { authorization: `Bearer ${gate.agent}` } },
      { method: 'POST', path: '/v1/challenges/01900000-0000-7000-8000-000000000000/approve', headers: { authorization: `Bearer ${gate.approver}` } },
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...endpoints), hostileJson, async (endpoint, body) => {
        const response = await http(endpoint.method, `${gate.url}${endpoint.path}`, { headers: { ...endpoint.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(response.status, `${endpoint.path} ${response.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
        expect(response.status, `${endpoint.path} ${response.text.slice(0, 300)}`).toBeLessThan(500);
        expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      }),
      { numRuns: 400 },
    );
    // Not JSON at all, and the wrong media type.
    for (const endpoint of endpoints) {
      for (const [type, text] of [['application/json', '{"command":'], ['text/plain', 'echo test'], ['application/json', '\u0000']] as const) {
        const response = await http(endpoint.method, `${gate.url}${endpoint.path}`, { headers: { ...endpoint.headers, 'content-type': type }, body: text });
        expect(response.status, `${endpoint.path} ${type}`).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
      }
    }
    const oversized = await http('POST', `${gate.url}/approvals/request`, { headers: endpoints[0]!.headers, json: { command: 'x'.repeat(2 * 1024 * 1024) } });
    expect(oversized.status).toBe(413);
    expect(oversized.body.code).toBe('payload_too_large');
    expect(await gate.server.runtime.store.db.selectFrom('executions').selectAll().execute()).toEqual([]);
  });
});
