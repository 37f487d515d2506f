import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

/** One POST as the receiver got it. */
export interface Received {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The status the receiver answered. */
  readonly status: number;
}

const open = new Set<Server>();
afterAll(async () => {
  for (const server of [...open]) await closeServer(server);
});

function closeServer(server: Server): Promise<void> {
  open.delete(server);
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function flat(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : (value ?? '')]));
}

/**
 * A webhook receiver on loopback (node:http): records every request and answers with the status
 * `answer` gives (200 by default). It can go down and come back on the same port, so a subscription
 * made for it stays valid.
 */
export async function startReceiver(answer: (request: { path: string; body: string; count: number }) => number = () => 200) {
  const received: Received[] = [];
  let respond = answer;
  let server: Server | undefined;
  let port = 0;

  const up = async (): Promise<void> => {
    const next = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = request.url ?? '/';
        const status = respond({ path, body, count: received.filter((entry) => entry.path === path).length + 1 });
        received.push({ path, headers: flat(request.headers), body, status });
        response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `refused with ${status}`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    port = (next.address() as AddressInfo).port;
    server = next;
    open.add(next);
  };
  await up();

  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    /** What arrived at one path. */
    at: (path: string) => received.filter((entry) => entry.path === path),
    answer: (next: typeof answer) => {
      respond = next;
    },
    /** Stops listening: senders get "connection refused". */
    down: async () => {
      if (server) await closeServer(server);
      server = undefined;
    },
    /** Listens again on the same port. */
    up,
  };
}

/** Polls until `check` returns something other than undefined/false; fails with `what` after a generous wait. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
