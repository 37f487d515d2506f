import { Writable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/http/logger.js';
import { startServer } from '../../src/http/server.js';
import { http } from '../helpers/http.js';
import { createPerson, login } from '../helpers/identity.js';
import { testConfig } from '../helpers/server.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().trim().split('\n'));
      done();
    },
  });
  return { lines, stream };
}

describe('logs', () => {
  it('redact credentials in headers and secret fields, keeping the rest', () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', stream);
    logger.info(
      {
        req: { headers: { authorization: 'Bearer sk-live-123', 'x-capability-token': 'eyJhbGc', 'x-wingman-approval-decide-key': 'dk-789', accept: 'json' } },
        user: { name: 'alice', password: 'hunter2' },
        apiKey: 'ak_secret',
      },
      'request',
    );
    const text = lines.join('\n');
    for (const secret of ['sk-live-123', 'eyJhbGc', 'dk-789', 'hunter2', 'ak_secret']) expect(text).not.toContain(secret);
    const line = JSON.parse(lines[0] as string) as { req: { headers: Record<string, string> }; user: Record<string, string> };
    expect(line.req.headers.authorization).toBe('[redacted]');
    expect(line.req.headers.accept).toBe('json');
    expect(line.user.name).toBe('alice');
  });

  it('carry the request id of each request and never the credentials sent with it', async () => {
    const { lines, stream } = capture();
    const server = await startServer(testConfig(), createLogger('trace', stream));
    const response = await request(`${server.url}/health`, { headers: { authorization: 'Bearer sk-live-456', 'x-request-id': 'req-abc' } });
    await response.body.dump();
    await server.close();
    const entries = lines.map((line) => JSON.parse(line) as { reqId?: string; msg: string });
    expect(entries.filter((entry) => entry.reqId === 'req-abc').map((entry) => entry.msg)).toEqual(['incoming request', 'request completed']);
    expect(lines.join('\n')).not.toContain('sk-live-456');
  });

  it('never carry a password, TOTP code, session cookie, access or refresh token of a login', async () => {
    const { lines, stream } = capture();
    const server = await startServer(testConfig(), createLogger('trace', stream));
    const person = await createPerson(server.runtime, 'logged', 'approver');
    const code = person.code();
    const session = await login(server.url, { username: person.username, password: person.password, code: () => code });
    const refreshed = await http('POST', `${server.url}/v1/auth/refresh`, { json: { refresh_token: session.refreshToken } });
    await http('GET', `${server.url}/v1/whoami`, { headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } });
    await server.close();
    const logged = lines.join('\n');
    for (const secret of [person.password, code, session.cookie.split('=')[1] as string, session.accessToken, session.refreshToken, refreshed.body.refresh_token, session.csrf]) {
      expect(logged).not.toContain(secret);
    }
    expect(logged).toContain('/v1/auth/login');
  });

  it('write one line per request at info, with the request, the status and the time', async () => {
    const { lines, stream } = capture();
    const server = await startServer(testConfig(), createLogger('info', stream));
    const response = await request(`${server.url}/health`, { headers: { authorization: 'Bearer sk-live-789', 'x-request-id': 'req-info' } });
    await response.body.dump();
    await server.close();
    const entries = lines.map((line) => JSON.parse(line) as { reqId?: string; msg: string; req?: { method: string; url: string }; res?: { statusCode: number }; responseTime?: number });
    const mine = entries.filter((entry) => entry.reqId === 'req-info');
    expect(mine.map((entry) => entry.msg)).toEqual(['request completed']);
    expect(mine[0]).toMatchObject({ req: { method: 'GET', url: '/health' }, res: { statusCode: 200 } });
    expect(typeof mine[0]?.responseTime).toBe('number');
    expect(lines.join('\n')).not.toContain('sk-live-789');
  });
});
