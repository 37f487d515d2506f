import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { openRuntime } from '../../src/runtime.js';
import { testConfig } from '../helpers/server.js';

describe('graceful close', () => {
  it('finishes a request in flight, refuses readiness meanwhile, and then stops listening', async () => {
    const runtime = await openRuntime(testConfig(), createLogger('silent'));
    let draining = false;
    const app = buildApp(runtime, { isDraining: () => draining });
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    app.get('/test/slow', async () => {
      started();
      await released;
      return { finished: true };
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });

    const slow = request(`${url}/test/slow`);
    await inFlight;
    draining = true;
    const ready = await request(`${url}/ready`);
    expect(ready.statusCode).toBe(503);
    expect(await ready.body.json()).toEqual({ ready: false, reason: 'shutting down' });

    const closed = app.close();
    release();
    const response = await slow;
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toEqual({ finished: true });
    await closed;
    await expect(request(`${url}/health`)).rejects.toThrow(/ECONNREFUSED/);
    await runtime.close();
  });
});
