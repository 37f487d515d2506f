import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AirlockClient, AirlockNetworkError, AirlockRateLimitError, AirlockServerError, type DomainEvent } from '../../src/client/index.js';
import { startGate } from '../helpers/gate.js';

/**
 * A stand-in server that fails in a scripted way: each incoming request takes the next step of the
 * script for its "METHOD path" (the last step repeats), and every arrival is recorded.
 */
type Step = 'ok' | 'drop' | { status: number; headers?: Record<string, string> } | ((request: IncomingMessage, response: ServerResponse) => void);

const PROBLEM = (status: number, code: string) => JSON.stringify({ type: `urn:airlock:problem:${code}`, title: 'x', status, code, detail: `scripted ${code}`, instance: '/', request_id: 'r1' });

describe('retries: only calls that are safe to repeat', () => {
  let url: string;
  const scripts = new Map<string, Step[]>();
  const arrivals: Array<{ key: string; at: number; headers: IncomingMessage['headers'] }> = [];
  const server = createServer((request, response) => {
    const key = `${request.method} ${(request.url ?? '').split('?')[0]}`;
    arrivals.push({ key, at: performance.now(), headers: request.headers });
    const script = scripts.get(key) ?? ['ok'];
    const step = (script.length > 1 ? script.shift() : script[0]) as Step;
    request.resume();
    if (typeof step === 'function') return step(request, response);
    if (step === 'drop') return request.socket.destroy();
    if (step === 'ok') {
      response.writeHead(200, { 'content-type': 'application/json' });
      return response.end(JSON.stringify({ request: { request_id: 'x', status: 'PENDING' }, requests: [], explanation: { risk_level: 'LOW' } }));
    }
    response.writeHead(step.status, { 'content-type': 'application/problem+json', ...step.headers });
    response.end(PROBLEM(step.status, step.status === 429 ? 'rate_limited' : 'store_unavailable'));
  });
  const count = (key: string) => arrivals.filter((arrival) => arrival.key === key).length;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    scripts.clear();
    arrivals.length = 0;
  });

  const client = (retries: number | object = { retries: 2, baseDelayMs: 10 }) => new AirlockClient({ url, apiKey: 'alk_test_key', retries: retries as number });

  it('a GET is tried again after a 503, a 502, a 504 and a dropped connection, and then answers', async () => {
    scripts.set('GET /v1/approvals/x', [{ status: 503 }, { status: 502 }, { status: 504 }, 'drop', 'ok']);
    const request = await client({ retries: 4, baseDelayMs: 10 }).requests.get('x');
    expect(request).toMatchObject({ request_id: 'x' });
    expect(count('GET /v1/approvals/x')).toBe(5);
    expect(arrivals.every((arrival) => arrival.headers.authorization === 'Bearer alk_test_key')).toBe(true);
  });

  it('a POST that creates, decides, mints or executes is sent once, whatever the failure', async () => {
    scripts.set('POST /v1/approvals', [{ status: 503 }, 'ok']);
    scripts.set('POST /v1/approvals/x/approve', [{ status: 429, headers: { 'retry-after': '0' } }, 'ok']);
    scripts.set('POST /v1/tokens', ['drop', 'ok']);
    scripts.set('POST /v1/execute', [{ status: 502 }, 'ok']);
    const airlock = client();
    const created = await airlock.requests.create({ task_name: 't', deployment_env: 'dev', command: 'echo' }).catch((error: unknown) => error);
    expect(created).toBeInstanceOf(AirlockServerError);
    expect(created).toMatchObject({ status: 503, code: 'store_unavailable', detail: 'scripted store_unavailable', requestId: 'r1' });
    expect(await airlock.requests.approve('x').catch((error: unknown) => error)).toBeInstanceOf(AirlockRateLimitError);
    const minted = await airlock.tokens.mint({ approval_id: 'x', environment: 'dev', command: 'echo' }).catch((error: unknown) => error);
    expect(minted).toBeInstanceOf(AirlockNetworkError);
    expect(minted).toMatchObject({ code: 'network_error' });
    expect(await airlock.execute('t.o.k', { approval_id: 'x', environment: 'dev', command: 'echo' }).catch((error: unknown) => error)).toBeInstanceOf(AirlockServerError);
    expect(['POST /v1/approvals', 'POST /v1/approvals/x/approve', 'POST /v1/tokens', 'POST /v1/execute'].map(count)).toEqual([1, 1, 1, 1]);
    // The capability token goes in its own header; the API key is not sent to the gateway.
    const execute = arrivals.find((arrival) => arrival.key === 'POST /v1/execute');
    expect(execute?.headers).toMatchObject({ 'x-capability-token': 't.o.k' });
    expect(execute?.headers.authorization).toBeUndefined();
  });

  it('policy explain records nothing, so it is retried like a read', async () => {
    scripts.set('POST /v1/policy/explain', [{ status: 503 }, 'ok']);
    expect(await client().policy.explain({ deployment_env: 'dev', command: 'echo' })).toEqual({ risk_level: 'LOW' });
    expect(count('POST /v1/policy/explain')).toBe(2);
  });

  it('a 429 waits for Retry-After; one longer than the client will wait is thrown at once, typed', async () => {
    scripts.set('GET /v1/approvals', [{ status: 429, headers: { 'retry-after': '1' } }, 'ok']);
    expect(await client().requests.list()).toEqual([]);
    const [first, second] = arrivals;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(990);

    arrivals.length = 0;
    scripts.set('GET /v1/approvals', [{ status: 429, headers: { 'retry-after': '120' } }]);
    const error = await client({ retries: 2, baseDelayMs: 10, maxDelayMs: 5000 }).requests.list().catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(AirlockRateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', retryAfterMs: 120_000 });
    expect(count('GET /v1/approvals')).toBe(1);
  });

  it('a GET gives up after its retries; 500 and 4xx are not retried; retries: 0 turns retrying off', async () => {
    scripts.set('GET /v1/approvals/x', [{ status: 503 }]);
    expect(await client().requests.get('x').catch((error: unknown) => error)).toBeInstanceOf(AirlockServerError);
    expect(count('GET /v1/approvals/x')).toBe(3);

    arrivals.length = 0;
    scripts.set('GET /v1/approvals/y', [{ status: 500 }, 'ok']);
    scripts.set('GET /v1/approvals/z', [{ status: 404 }, 'ok']);
    await client().requests.get('y').catch(() => undefined);
    await client().requests.get('z').catch(() => undefined);
    expect([count('GET /v1/approvals/y'), count('GET /v1/approvals/z')]).toEqual([1, 1]);

    arrivals.length = 0;
    scripts.set('GET /v1/approvals/x', [{ status: 503 }, 'ok']);
    expect(await client(0).requests.get('x').catch((error: unknown) => error)).toBeInstanceOf(AirlockServerError);
    expect(count('GET /v1/approvals/x')).toBe(1);
  });

  it('an abort during the wait before a retry rejects at once with the AbortError', async () => {
    scripts.set('GET /v1/approvals/x', [{ status: 503, headers: { 'retry-after': '25' } }, 'ok']);
    const controller = new AbortController();
    const outcome = client().requests.get('x', { signal: controller.signal }).catch((error: unknown) => error);
    for (let i = 0; i < 200 && count('GET /v1/approvals/x') === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    expect(await outcome).toMatchObject({ name: 'AbortError' });
    expect(count('GET /v1/approvals/x')).toBe(1);
  });

  it('the event stream reconnects after a drop with Last-Event-ID, so no event is lost or repeated', async () => {
    const event = (seq: number): DomainEvent => ({ seq, type: 'request.created', time: 't', actor: 'a', subject: { type: 'approval', id: `r${seq}` }, environment: 'dev', target: 'local', data: {} });
    const frame = (seq: number) => `id: ${seq}\nevent: request.created\ndata: ${JSON.stringify(event(seq))}\n\n`;
    scripts.set('GET /v1/events', [
      (_request, response) => {
        // Two events (the second split across writes), then the connection ends.
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write(`retry: 10\n\n${frame(1)}${frame(2).slice(0, 20)}`);
        setTimeout(() => response.end(frame(2).slice(20)), 20);
      },
      { status: 503 },
      (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write(frame(3));
      },
    ]);
    const seen: DomainEvent[] = [];
    for await (const received of client().events({ types: ['request.created'] })) {
      seen.push(received);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([event(1), event(2), event(3)]);
    const connections = arrivals.filter((arrival) => arrival.key === 'GET /v1/events');
    expect(connections.map((arrival) => arrival.headers['last-event-id'])).toEqual([undefined, '2', '2']);
    expect(connections.every((arrival) => arrival.headers.accept === 'text/event-stream')).toBe(true);
  });

  it('a real server over its rate limit: a typed 429 with its Retry-After', async () => {
    const gate = await startGate('sqlite', { rateLimit: { apiPerMinute: 2 } });
    const agent = new AirlockClient({ url: gate.url, apiKey: gate.agent, retries: 0 });
    await agent.requests.list();
    await agent.requests.list();
    const error = await agent.requests.list().catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(AirlockRateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', retryAfterMs: expect.any(Number) });
    expect((error as AirlockRateLimitError).retryAfterMs).toBeGreaterThan(0);
  });
});
