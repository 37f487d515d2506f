import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { followEvents } from '../../src/events/sse-client.js';
import type { DomainEvent } from '../../src/events/types.js';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { spawnServer } from '../helpers/process.js';
import { tmpDir } from '../helpers/tmp.js';

/** An SSE client of /v1/events as `key`: the events it has received so far, and a way to wait for more. */
async function listen(url: string, key: string, options: { after?: number; types?: string[] } = {}) {
  const events: DomainEvent[] = [];
  const stop = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const done = followEvents({ url, credential: async () => key, signal: stop.signal, onEvent: (event) => events.push(event), onConnected: () => connected(), ...options }).catch((error: unknown) => error);
  await Promise.race([ready, done]);
  return {
    events,
    done,
    async until(test: (events: DomainEvent[]) => boolean, what: string): Promise<void> {
      for (let i = 0; i < 400 && !test(events); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      if (!test(events)) throw new Error(`no ${what} after 20 s; got ${events.map((event) => event.type).join(', ')}`);
    },
    close: () => stop.abort(),
  };
}

describe.each(storeKinds())('the event stream on %s', (kind) => {
  it('streams what happens to requests, live, in commit order, and resumes after a Last-Event-ID', async () => {
    const gate = await startGate(kind);
    const stream = await listen(gate.url, gate.agent);
    const created = await gate.request({ command: 'kill -0 1', deployment_env: 'dev' });
    const id = created.body.request.request_id as string;
    await stream.until((events) => events.some((event) => event.type === 'request.created'), 'request.created');
    await gate.decide(id, 'approve');
    await stream.until((events) => events.some((event) => event.type === 'request.decided'), 'request.decided');
    const [first, second] = stream.events;
    expect(first).toMatchObject({ type: 'request.created', subject: { type: 'approval', id }, environment: 'dev', target: 'local', data: { risk_level: 'MEDIUM', command: 'kill -0 1' } });
    expect(second).toMatchObject({ type: 'request.decided', subject: { id }, data: { decision: 'approve', final: true } });
    expect((second as DomainEvent).seq).toBeGreaterThan((first as DomainEvent).seq);
    // Each event's id is its seq in the audit chain.
    const audit = await http('GET', `${gate.url}/v1/audit/events?subject_id=${id}&action=approval.requested`, { headers: bearer(gate.admin) });
    expect(audit.body.events[0].seq).toBe(first?.seq);
    stream.close();

    // Resuming after the first event replays the rest, then goes on live.
    const resumed = await listen(gate.url, gate.agent, { after: (first as DomainEvent).seq });
    await resumed.until((events) => events.length >= 1, 'the replay');
    expect(resumed.events[0]).toEqual(second);
    await gate.request({ command: 'echo later', deployment_env: 'dev' });
    await resumed.until((events) => events.some((event) => event.type === 'request.created'), 'a live event after the replay');
    expect(resumed.events.map((event) => event.type)).toEqual(['request.decided', 'request.created', 'request.decided']);
    resumed.close();
  });

  it('shows each principal only what its scopes and limits allow, and filters by type', async () => {
    const gate = await startGate(kind);
    const requester = await gate.server.runtime.keys.create({ name: 'asks-only', scopes: ['approvals:request'], actor: 'test' });
    const prdOnly = await gate.server.runtime.keys.create({ name: 'prd-reader', scopes: ['approvals:read'], environments: ['prd'], actor: 'test' });
    const blind = await listen(gate.url, requester.key);
    const prd = await listen(gate.url, prdOnly.key);
    const decided = await listen(gate.url, gate.agent, { types: ['request.decided'] });
    const all = await listen(gate.url, gate.admin);
    const id = (await gate.request({ command: 'echo dev', deployment_env: 'dev' })).body.request.request_id as string;
    await all.until((events) => events.some((event) => event.type === 'request.decided' && event.subject?.id === id), 'the auto-approval');
    expect(all.events.map((event) => event.type)).toEqual(['request.created', 'request.decided']);
    await decided.until((events) => events.length === 1, 'the decision');
    expect(decided.events[0]?.type).toBe('request.decided');
    expect(blind.events).toEqual([]);
    expect(prd.events).toEqual([]);
    for (const stream of [blind, prd, decided, all]) stream.close();

    const bad = await http('GET', `${gate.url}/v1/events?types=nope`, { headers: bearer(gate.agent) });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_request');
    const anonymous = await http('GET', `${gate.url}/v1/events`);
    expect(anonymous.status).toBe(401);
  });

  it('airlock watch prints the events as they happen', async () => {
    const gate = await startGate(kind);
    const before = gate.server.runtime.events.hub.listenerCount;
    const child = spawn(process.execPath, [CLI, 'watch', '--json'], { env: cleanEnv({ AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.agent }) });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // Connected once the server has an SSE client (the hub hands events to one more listener).
    for (let i = 0; i < 400 && gate.server.runtime.events.hub.listenerCount === before; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(err).toBe('');
    const id = (await gate.request({ command: 'echo watched', deployment_env: 'dev' })).body.request.request_id as string;
    for (let i = 0; i < 400 && !out.includes('request.decided'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill('SIGINT');
    const lines = out.trim().split('\n').map((line) => JSON.parse(line) as DomainEvent);
    expect(lines.map((event) => [event.type, event.subject?.id])).toEqual([
      ['request.created', id],
      ['request.decided', id],
    ]);
  });
});

describe('outbox retention', () => {
  it('drops events past the retention period, keeps newer ones and those a delivery still needs', async () => {
    const gate = await startGate('sqlite', { events: { retentionDays: 7 } });
    const db = gate.server.runtime.store.db;
    await gate.request({ command: 'echo old', deployment_env: 'dev' });
    const old = await db.selectFrom('outbox').select('seq').execute();
    expect(old.length).toBeGreaterThan(0);
    const needed = old[0]?.seq as number;
    await db.insertInto('deliveries').values({ id: 'd1', channel: 'webhook', destination: 'x', event_seq: needed, status: 'dead', attempts: 8, next_attempt_at: '2000-01-01T00:00:00.000Z', lease_until: null, last_error: 'down', created_at: '2000-01-01T00:00:00.000Z', delivered_at: null }).execute();
    // Nothing is old enough yet.
    expect(await gate.server.runtime.events.prune()).toEqual({ events: 0, deliveries: 0 });
    const eightDaysOn = new Date(Date.now() + 8 * 86_400_000);
    const pruned = await gate.server.runtime.events.prune(eightDaysOn);
    expect(pruned.events).toBe(old.length - 1);
    expect((await db.selectFrom('outbox').select('seq').execute()).map((row) => row.seq)).toEqual([needed]);
    // The audit chain keeps everything.
    expect((await db.selectFrom('audit_events').select('seq').where('action', '=', 'approval.requested').execute()).length).toBe(1);
  });
});

describe('airlock approvals wait', () => {
  it('returns once the request is decided: exit 0 approved, 1 rejected, 1 on timeout', async () => {
    const gate = await startGate('sqlite');
    const env = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.agent };
    const ask = async () => (await gate.request({ command: 'kill -0 1', deployment_env: 'dev' })).body.request.request_id as string;
    const approved = await ask();
    const waiting = runCli(['approvals', 'wait', approved], { cwd: tmpDir(), env });
    await gate.decide(approved, 'approve');
    expect(await waiting).toMatchObject({ code: 0, stdout: `request ${approved}: APPROVED\n` });
    const rejected = await ask();
    const refusing = runCli(['approvals', 'wait', rejected], { cwd: tmpDir(), env });
    await gate.decide(rejected, 'reject', undefined, 'not today');
    expect(await refusing).toMatchObject({ code: 1, stdout: `request ${rejected}: REJECTED (not today)\n` });
    const late = await runCli(['approvals', 'wait', await ask(), '--timeout', '1'], { cwd: tmpDir(), env });
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('still pending after 1 s');
  });
});

describe.skipIf(!process.env.AIRLOCK_TEST_DATABASE_URL)('the event stream across server processes on PostgreSQL', () => {
  it('delivers an event made on one server to an SSE client of another, woken by NOTIFY rather than polling', async () => {
    const database = await createDatabase('postgres');
    const dataDir = join(tmpDir(), 'data');
    const init = await runCli(['init', '--data-dir', dataDir, '--database-url', database.url], { cwd: tmpDir() });
    const admin = /alk_\S+/.exec(init.stdout)?.[0] as string;
    // A poll once a minute: only a NOTIFY can bring the event over within the test.
    const env = cleanEnv({ AIRLOCK_EVENTS_POLL_MS: '60000' });
    const start = (instance: string) =>
      spawnServer(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--database-url', database.url, '--instance-id', instance], { cwd: tmpDir(), env });
    const [a, b] = await Promise.all([start('a'), start('b')]);
    try {
      const stream = await listen(b.url, admin);
      const created = await http('POST', `${a.url}/approvals/request`, { headers: bearer(admin), json: { worker_id: 'w', task_name: 't', command: 'kill -0 1', deployment_env: 'dev' } });
      const id = created.body.request.request_id as string;
      await stream.until((events) => events.some((event) => event.subject?.id === id), 'the event from the other server');
      expect(stream.events[0]).toMatchObject({ type: 'request.created', subject: { id } });
      stream.close();
    } finally {
      a.signal('SIGTERM');
      b.signal('SIGTERM');
      await Promise.all([a.exited, b.exited]);
    }
  });
});
