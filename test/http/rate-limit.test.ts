import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rateLimitGroupOf, rateLimitKeyOf } from '../../src/http/rate-limit.js';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { createDatabase } from '../helpers/databases.js';
import { bearer, http, type HttpResult } from '../helpers/http.js';
import { spawnServer } from '../helpers/process.js';
import { TcpProxy } from '../helpers/proxy.js';
import { startTestServer } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

/** A key prefix of its own for every run, so runs (and tests) sharing the one Redis never count together. */
function uniquePrefix(): string {
  return `airlock-test:${randomBytes(6).toString('hex')}:`;
}

function expectRateLimited(response: HttpResult, limit: number): void {
  expect(response.status, response.text).toBe(429);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ status: 429, code: 'rate_limited', type: 'urn:airlock:problem:rate_limited', limit });
  const retryAfter = Number(response.headers['retry-after']);
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(response.headers['retry-after'])).toBe(true);
  expect(response.body.retry_after_seconds).toBe(retryAfter);
  expect(response.headers['ratelimit-limit']).toBe(String(limit));
  expect(response.headers['ratelimit-remaining']).toBe('0');
  expect(response.headers['ratelimit-reset']).toBeDefined();
  // Security headers are on refusals too.
  expect(response.headers['x-content-type-options']).toBe('nosniff');
}

describe('which bucket a request counts against', () => {
  const route = (path: string, config: { scope?: string; rateLimitGroup?: 'auth' } = {}, method = 'GET') => ({ method, path, config });

  it('exempts probes, metrics and /.well-known, and CORS preflights of public routes', () => {
    for (const path of ['/health', '/ready', '/metrics', '/.well-known/jwks.json', '/.well-known/oauth-protected-resource/mcp']) {
      expect(rateLimitGroupOf(route(path)), path).toBeUndefined();
    }
    expect(rateLimitGroupOf(route('/v1/approvals', {}, 'OPTIONS'))).toBeUndefined();
  });

  it('puts routes that opt in into the auth bucket, everything else into the api bucket', () => {
    expect(rateLimitGroupOf(route('/v1/auth/login', { rateLimitGroup: 'auth' }, 'POST'))).toBe('auth');
    expect(rateLimitGroupOf(route('/v1/auth/introspect', { scope: 'authenticated', rateLimitGroup: 'auth' }, 'POST'))).toBe('auth');
    expect(rateLimitGroupOf(route('/v1/whoami', { scope: 'authenticated' }))).toBe('api');
    expect(rateLimitGroupOf(route('/gateway/execute', {}, 'POST'))).toBe('api');
    expect(rateLimitGroupOf(route('/v1/unknown'))).toBe('api');
    expect(rateLimitGroupOf(route('/healthz'))).toBe('api');
  });

  it('keys the api bucket by principal where there is one and by client IP otherwise; the auth bucket always by IP', () => {
    const principal = { id: '01J0000000000000000000000A' };
    expect(rateLimitKeyOf('api', { ip: '10.0.0.7', principal })).toBe('api:principal:01J0000000000000000000000A');
    expect(rateLimitKeyOf('api', { ip: '10.0.0.7' })).toBe('api:ip:10.0.0.7');
    expect(rateLimitKeyOf('auth', { ip: '10.0.0.7', principal })).toBe('auth:ip:10.0.0.7');
    // IPv4-mapped addresses count as the IPv4 address; IPv6 clients per /64.
    expect(rateLimitKeyOf('auth', { ip: '::ffff:10.0.0.7' })).toBe('auth:ip:10.0.0.7');
    expect(rateLimitKeyOf('auth', { ip: '2001:db8:1:2:aaaa::1' })).toBe(rateLimitKeyOf('auth', { ip: '2001:db8:1:2:bbbb::9' }));
  });
});

describe('rate limits in memory', () => {
  it('refuses the 6th request of a principal with 429 rate_limited and Retry-After; another principal goes on', async () => {
    const server = await startTestServer({ rateLimit: { apiPerMinute: 5 } });
    const first = await server.runtime.keys.create({ name: 'first', scopes: ['approvals:read'], actor: 'test' });
    const second = await server.runtime.keys.create({ name: 'second', scopes: ['approvals:read'], actor: 'test' });
    for (let i = 1; i <= 5; i++) {
      const response = await http('GET', `${server.url}/v1/whoami`, { headers: bearer(first.key) });
      expect(response.status).toBe(200);
      expect(response.headers['ratelimit-limit']).toBe('5');
      expect(response.headers['ratelimit-remaining']).toBe(String(5 - i));
    }
    const sixth = await http('GET', `${server.url}/v1/approvals`, { headers: bearer(first.key) });
    expectRateLimited(sixth, 5);
    expect(sixth.body.instance).toBe('/v1/approvals');

    // Same client IP, another principal: its own count.
    const other = await http('GET', `${server.url}/v1/whoami`, { headers: bearer(second.key) });
    expect(other.status).toBe(200);
    expect(other.headers['ratelimit-remaining']).toBe('4');
    // A refusal is logged, not audited.
    const actions = (await server.runtime.store.db.selectFrom('audit_events').select('action').execute()).map((row) => row.action);
    expect(actions.filter((action) => action.includes('rate'))).toEqual([]);
  });

  it('counts routes without a principal per client IP, and never limits probes, metrics or published keys', async () => {
    const server = await startTestServer({ rateLimit: { apiPerMinute: 5 } });
    const execute = () => http('POST', `${server.url}/gateway/execute`, { json: { command: 'echo hi', approval_id: 'x', environment: 'dev' } });
    for (let i = 0; i < 5; i++) {
      const response = await execute();
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).not.toBe(429);
    }
    expectRateLimited(await execute(), 5);
    // Unknown paths count in the same per-IP bucket: scanning is limited too.
    expectRateLimited(await http('GET', `${server.url}/v1/nothing-here`), 5);
    for (let i = 0; i < 8; i++) {
      for (const path of ['/health', '/ready', '/metrics', '/.well-known/jwks.json']) {
        const response = await http('GET', `${server.url}${path}`);
        expect(response.status, path).toBe(200);
        expect(response.headers['ratelimit-limit'], path).toBeUndefined();
      }
    }
  });

  it('limits logins per client IP at the auth figure, whoever is named, while the API limit stays apart', async () => {
    const server = await startTestServer({ rateLimit: { apiPerMinute: 50, authPerMinute: 3 } });
    for (const username of ['a1', 'b2', 'c3']) {
      const response = await http('POST', `${server.url}/v1/auth/login`, { json: { username, password: 'Wrong-Password-Long-1' } });
      expect(response.status).toBe(401);
      expect(response.headers['ratelimit-limit']).toBe('3');
    }
    expectRateLimited(await http('POST', `${server.url}/v1/auth/login`, { json: { username: 'd4', password: 'Wrong-Password-Long-1' } }), 3);
    expectRateLimited(await http('POST', `${server.url}/v1/auth/introspect`, { json: { token: 'x' } }), 3);
    const { key } = await server.runtime.keys.create({ name: 'reader', scopes: ['approvals:read'], actor: 'test' });
    expect((await http('GET', `${server.url}/v1/whoami`, { headers: bearer(key) })).status).toBe(200);
  });

  it('is off with rateLimit.enabled false', async () => {
    const server = await startTestServer({ rateLimit: { enabled: false, apiPerMinute: 1 } });
    const { key } = await server.runtime.keys.create({ name: 'reader', scopes: ['approvals:read'], actor: 'test' });
    for (let i = 0; i < 3; i++) {
      const response = await http('GET', `${server.url}/v1/whoami`, { headers: bearer(key) });
      expect(response.status).toBe(200);
      expect(response.headers['ratelimit-limit']).toBeUndefined();
    }
  });
});

describe('rate limits in Redis', () => {
  it('are one limit across two server processes', async () => {
    const database = await createDatabase('sqlite');
    const dataDir = join(tmpDir(), 'data');
    const init = await runCli(['init', '--data-dir', dataDir, '--database-url', database.url], { cwd: tmpDir() });
    expect(init.code, init.stderr).toBe(0);
    const admin = /alk_\S+/.exec(init.stdout)?.[0] as string;
    const env = cleanEnv({ AIRLOCK_REDIS_URL: REDIS_URL, AIRLOCK_REDIS_KEY_PREFIX: uniquePrefix(), AIRLOCK_API_RATE_LIMIT: '4' });
    const start = () => spawnServer(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--database-url', database.url], { cwd: tmpDir(), env });
    const [a, b] = await Promise.all([start(), start()]);
    for (let i = 0; i < 4; i++) expect((await http('GET', `${a!.url}/v1/whoami`, { headers: bearer(admin) })).status).toBe(200);
    expectRateLimited(await http('GET', `${b!.url}/v1/whoami`, { headers: bearer(admin) }), 4);
    // B logs the refusal at warn, naming the principal's id, never its key.
    await b!.waitFor('rate limit exceeded');
    const line = b!.output().split('\n').find((entry) => entry.includes('rate limit exceeded')) as string;
    expect(JSON.parse(line)).toMatchObject({ level: 40, rate_limit: { route: '/v1/whoami', method: 'GET' } });
    expect(JSON.parse(line).rate_limit.key).toMatch(/^api:principal:/);
    expect(a!.output() + b!.output()).not.toContain(admin.slice(13));
    for (const server of [a!, b!]) server.signal('SIGTERM');
    expect(await Promise.all([a!.exited, b!.exited])).toEqual([0, 0]);
  });

  it('refuses with 503 store_unavailable (fail closed) while Redis is unreachable', async () => {
    const proxy = new TcpProxy('127.0.0.1', 6379);
    await proxy.start();
    const server = await startTestServer({ rateLimit: { apiPerMinute: 100 }, redis: { url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: uniquePrefix() } });
    const { key } = await server.runtime.keys.create({ name: 'reader', scopes: ['approvals:read'], actor: 'test' });
    expect((await http('GET', `${server.url}/v1/whoami`, { headers: bearer(key) })).status).toBe(200);
    await proxy.cut();
    const refused = await http('GET', `${server.url}/v1/whoami`, { headers: bearer(key) });
    expect(refused.status, refused.text).toBe(503);
    expect(refused.body).toMatchObject({ code: 'store_unavailable' });
    // Probes are not counted, so they still answer.
    expect((await http('GET', `${server.url}/ready`)).status).toBe(200);
  });

  it('keeps a server from starting when Redis is unreachable, in one clear line without the password', async () => {
    const cwd = tmpDir();
    const result = await runCli(['serve', '--port', '0'], { cwd, env: { AIRLOCK_REDIS_URL: 'redis://:hunter2@127.0.0.1:1' } });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^airlock: cannot reach the rate-limit store \(Redis redis:\/\/:\*\*\*@127\.0\.0\.1:1\): .+\[store_unavailable\]$/);
    expect(result.stdout + result.stderr).not.toContain('hunter2');
    expect(result.stdout).not.toContain('airlock listening');
    // Refused before anything was made.
    expect(existsSync(join(cwd, '.airlock'))).toBe(false);
  });
});
