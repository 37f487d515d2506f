import { describe, expect, it } from 'vitest';
import { ROLES, scopesOfRole, type Role } from '../../src/identity/index.js';
import { bearer, http } from '../helpers/http.js';
import { login } from '../helpers/identity.js';
import { startTestServer } from '../helpers/server.js';

/**
 * Every route and who may call it. The test below fails when a route exists that this table does not
 * name (or the other way round), so no new endpoint can be added without deciding its access.
 */
const ACCESS: Record<string, string> = {
  'GET /health': 'public',
  'GET /ready': 'public',
  'GET /metrics': 'public',
  'GET /.well-known/jwks.json': 'public',
  'GET /v1/whoami': 'authenticated',
  'GET /v1/auth/whoami': 'authenticated',
  'GET /v1/keys': 'authenticated',
  'POST /v1/keys': 'authenticated',
  'DELETE /v1/keys/:id': 'authenticated',
  'GET /v1/users': 'admin',
  'POST /v1/users': 'admin',
  'GET /v1/users/:username': 'admin',
  'POST /v1/users/:username/disable': 'admin',
  'POST /v1/users/:username/enable': 'admin',
  'POST /v1/users/:username/password': 'admin',
  'POST /v1/users/:username/role': 'admin',
  'POST /v1/users/:username/reset-totp': 'admin',
  'POST /v1/auth/login': 'public',
  'POST /v1/auth/logout': 'authenticated',
  'POST /v1/auth/token': 'authenticated',
  'POST /v1/auth/refresh': 'public',
  'POST /v1/auth/introspect': 'public',
  'POST /v1/auth/totp/enroll': 'authenticated',
  'POST /v1/auth/totp/confirm': 'authenticated',
  'POST /v1/challenges': 'authenticated',
  'GET /v1/challenges/:id': 'authenticated',
  'POST /v1/challenges/:id/approve': 'authenticated',
  'POST /approvals/request': 'approvals:request',
  'POST /v1/approvals': 'approvals:request',
  'GET /v1/approvals': 'approvals:read',
  'GET /approvals/:id': 'approvals:read',
  'GET /v1/approvals/:id': 'approvals:read',
  'POST /approvals/:id/approve': 'approvals:decide',
  'POST /approvals/:id/reject': 'approvals:decide',
  'POST /v1/approvals/:id/approve': 'approvals:decide',
  'POST /v1/approvals/:id/reject': 'approvals:decide',
  // Minting needs approvals:decide, or gateway:execute on one's own request: checked by the service.
  'POST /gateway/token': 'authenticated',
  'POST /v1/tokens': 'authenticated',
  'POST /gateway/execute': 'public',
  'POST /v1/execute': 'public',
  'GET /v1/executions/:id': 'approvals:read',
  'GET /v1/targets': 'authenticated',
  'POST /v1/policy/explain': 'approvals:read',
  'GET /v1/audit/events': 'approvals:read',
  // Tools are limited by scope inside the MCP session (see test/mcp).
  'POST /mcp': 'authenticated',
  'GET /mcp': 'authenticated',
  'DELETE /mcp': 'authenticated',
  'GET /.well-known/oauth-protected-resource/mcp': 'public',
  // A stream that never ends on its own: what each principal sees of it is tested in test/events.
  'GET /v1/events': 'authenticated',
  'GET /v1/webhooks': 'admin',
  'POST /v1/webhooks': 'admin',
  'GET /v1/webhooks/:id': 'admin',
  'DELETE /v1/webhooks/:id': 'admin',
  'GET /v1/webhooks/:id/deliveries': 'admin',
  'POST /v1/webhooks/:id/redrive': 'admin',
  'POST /v1/admin/reload': 'targets:admin',
  // Workspaces: one's own only (admins: all), checked by the service; their tools are tested in test/workspaces.
  'POST /v1/workspaces': 'workspaces:use',
  'GET /v1/workspaces': 'workspaces:use',
  'GET /v1/workspaces/:id': 'workspaces:use',
  'DELETE /v1/workspaces/:id': 'workspaces:use',
  'POST /v1/workspaces/:id/restore': 'workspaces:use',
  'POST /v1/workspaces/:id/mcp': 'workspaces:use',
  'GET /v1/workspaces/:id/mcp': 'workspaces:use',
  'DELETE /v1/workspaces/:id/mcp': 'workspaces:use',
  'GET /.well-known/oauth-protected-resource/v1/workspaces/:id/mcp': 'public',
  // The web console: its files are public (it logs in by itself); what it reads is scoped like the rest.
  'GET /': 'public',
  'GET /app': 'public',
  'GET /app/*': 'public',
  'GET /v1/auth/session': 'public',
  // The API document and its reference page: they describe the routes and reveal no data.
  'GET /openapi.json': 'public',
  'GET /docs': 'public',
  'GET /docs/json': 'public',
  'GET /docs/yaml': 'public',
  'GET /docs/static/index.html': 'public',
  'GET /docs/static/swagger-initializer.js': 'public',
  'GET /docs/static/*': 'public',
  'GET /v1/policy': 'approvals:read',
  'GET /v1/approvals/:id/history': 'approvals:read',
  'GET /v1/stats': 'approvals:read',
  'GET /v1/audit/status': 'audit:read',
  'POST /v1/audit/verify': 'audit:read',
  'GET /v1/audit/export': 'audit:read',
  'GET /v1/incidents': 'audit:read',
  'POST /v1/incidents': 'admin',
  'GET /v1/admin/status': 'admin',
  'POST /v1/admin/validate': 'targets:admin',
};

function allowed(role: Role, scope: string): boolean {
  const granted: readonly string[] = scopesOfRole(role);
  return scope === 'public' || scope === 'authenticated' || granted.includes('admin') || granted.includes(scope);
}

describe('the access matrix: every endpoint for every role', () => {
  it('names every route the server has, with the scope the route really requires', async () => {
    const server = await startTestServer();
    const actual = Object.fromEntries(server.app.routeCatalog.map((route) => [`${route.method} ${route.url}`, route.scope]));
    expect(actual).toEqual(ACCESS);
  });

  it.each(ROLES)('lets a %s call exactly the endpoints its role grants, by access token and by API key', async (role) => {
    const server = await startTestServer();
    const password = 'Matrix-Password-Long-Enough-7';
    await server.runtime.users.create({ username: `the-${role}`, role, password, actor: 'test' });
    const session = await login(server.url, { username: `the-${role}`, password });
    const key = await server.runtime.keys.create({ name: `${role}-key`, scopes: [...scopesOfRole(role)], owner: `the-${role}`, actor: 'test' });
    // Logging out ends the session the rest uses, so it goes last.
    const routes = Object.entries(ACCESS).sort(([a], [b]) => Number(a.endsWith('/logout')) - Number(b.endsWith('/logout')));
    for (const credential of [session.accessToken, key.key]) {
      for (const [route, scope] of routes) {
        if (scope === 'public' || route === 'GET /v1/events') continue;
        const [method, path] = route.split(' ') as [string, string];
        const url = server.url + path.replace(':id', '01900000-0000-7000-8000-000000000000').replace(':username', 'nobody');
        const response = await http(method, url, { headers: bearer(credential), ...(method === 'GET' || method === 'DELETE' ? {} : { json: {} }) });
        const refusedForScope = response.status === 403 && response.body?.code === 'forbidden';
        expect(refusedForScope, `${role} ${route} answered ${response.status} ${response.body?.code}`).toBe(!allowed(role, scope));
        expect(response.status, `${role} ${route}`).not.toBe(401);
        expect(response.status, `${role} ${route}`).toBeLessThan(500);
      }
    }
  });
});
