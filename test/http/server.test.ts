import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { TcpProxy } from '../helpers/proxy.js';
import { startTestServer } from '../helpers/server.js';

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { headers });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) as Record<string, any> };
}

describe.each(storeKinds())('HTTP server on %s', (kind) => {
  it('answers /health in the reference shape, with database, audit head and version checks', async () => {
    const database = await createDatabase(kind);
    const server = await startTestServer({ database: { url: database.url } });
    const response = await get(`${server.url}/health`);
    expect(response.status).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ status: 'healthy', service: 'execution-gateway', version: VERSION });
    expect(Date.parse(body.timestamp)).not.toBeNaN();
    expect(body.checks.database).toMatchObject({ status: 'healthy', dialect: kind });
    // The first admin's creation and the server's own start are the first events of the chain.
    expect(body.checks.audit).toMatchObject({ status: 'healthy', head_seq: 2 });
    expect(body.checks.audit.head_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(body.checks.version).toEqual({ status: 'healthy', version: VERSION });
  });
});

describe('HTTP server basics', () => {
  it('is ready, echoes a plain request id and makes its own for a hostile one', async () => {
    const server = await startTestServer();
    const ready = await get(`${server.url}/ready`, { 'x-request-id': 'trace-42' });
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ ready: true });
    expect(ready.headers['x-request-id']).toBe('trace-42');
    const hostile = await get(`${server.url}/ready`, { 'x-request-id': 'forged {"level":60} line' });
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with problem+json carrying a stable code', async () => {
    const server = await startTestServer();
    const response = await get(`${server.url}/v1/nothing-here?x=1`);
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ status: 404, code: 'not_found', type: 'urn:airlock:problem:not_found', instance: '/v1/nothing-here?x=1' });
    expect(response.json().request_id).toBe(response.headers['x-request-id']);
  });

  it('exposes request and audit metrics', async () => {
    const server = await startTestServer();
    await get(`${server.url}/health`);
    const metrics = await get(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/airlock_http_requests_total\{method="GET",route="\/health",status="200"\} 1/);
    expect(metrics.text).toMatch(/airlock_audit_appends_total 2/);
    expect(metrics.text).toMatch(/airlock_http_request_duration_seconds_bucket/);
  });

  it('records its stop in the chain and signs the head on close', async () => {
    const server = await startTestServer();
    const before = await server.runtime.audit.head();
    await server.close();
    // close() closed the store; read what it wrote through a fresh connection.
    const { openStore } = await import('../../src/store/index.js');
    const reopened = await openStore(server.runtime.config.store);
    const rows = await reopened.db.selectFrom('audit_events').select(['seq', 'action']).orderBy('seq').execute();
    const checkpoints = await reopened.db.selectFrom('audit_checkpoints').select('seq').execute();
    await reopened.close();
    expect(rows.map((row) => row.action)).toEqual(['user.created', 'server.started', 'server.stopped']);
    expect(before.seq).toBe(2);
    // Shutdown signs the head, so the whole chain is covered by a checkpoint.
    expect(checkpoints.map((row) => row.seq)).toEqual([3]);
  });
});

describe.runIf(storeKinds().includes('postgres'))('when PostgreSQL becomes unreachable', () => {
  it('answers /health 503 unhealthy naming the database, /ready 503, and recovers when it returns', async () => {
    const database = await createDatabase('postgres');
    const upstream = new URL(database.url);
    const proxy = new TcpProxy(upstream.hostname, Number(upstream.port || 5432));
    await proxy.start();
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    const server = await startTestServer({ database: { url: viaProxy.toString(), connectTimeoutMs: 1000 } });
    expect((await get(`${server.url}/health`)).status).toBe(200);

    await proxy.cut();
    const down = await get(`${server.url}/health`);
    expect(down.status).toBe(503);
    expect(down.json()).toMatchObject({ status: 'unhealthy', service: 'execution-gateway', checks: { database: { status: 'unhealthy' }, audit: { status: 'unknown' } } });
    expect(down.json().checks.database.error).toMatch(/cannot reach the database|Connection terminated|ECONNREFUSED/);
    expect((await get(`${server.url}/ready`)).status).toBe(503);

    await proxy.start();
    const up = await get(`${server.url}/health`);
    expect(up.status).toBe(200);
    await proxy.cut();
    await server.close().catch(() => undefined);
  });
});
