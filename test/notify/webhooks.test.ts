import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { storeKinds, type StoreKind } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { tmpDir } from '../helpers/tmp.js';
import { startReceiver, until } from '../helpers/webhook-receiver.js';

/** Retries in tens of milliseconds, so dead deliveries come quickly. */
const FAST = { retryBaseMs: 50, retryMaxMs: 200 };

async function gateWith(kind: StoreKind, maxAttempts: number) {
  const gate = await startGate(kind, { events: { ...FAST, maxAttempts } });
  const admin = bearer(gate.admin);
  const subscribe = async (body: Record<string, unknown>) => {
    const created = await http('POST', `${gate.url}/v1/webhooks`, { headers: admin, json: body });
    if (created.status !== 201) throw new Error(`subscribing failed: ${created.text}`);
    return { id: created.body.webhook.id as string, secret: created.body.secret as string };
  };
  const deliveries = async (id: string, status?: string) => {
    const response = await http('GET', `${gate.url}/v1/webhooks/${id}/deliveries${status ? `?status=${status}` : ''}`, { headers: admin });
    if (response.status !== 200) throw new Error(`deliveries failed: ${response.text}`);
    return response.body.deliveries as Array<Record<string, any>>;
  };
  /** A LOW command: approved by policy at once (request.created and request.decided in one commit). */
  const newRequest = async (command = 'echo hello') => {
    const created = await gate.request({ command, deployment_env: 'dev' });
    if (created.status !== 201) throw new Error(`request failed: ${created.text}`);
    return created.body.request.request_id as string;
  };
  return { gate, admin, subscribe, deliveries, newRequest };
}

describe.each(storeKinds())('webhooks on %s', (kind) => {
  it('delivers the events each subscription asked for, signed with its secret, the delivery id as webhook-id', async () => {
    const { subscribe, deliveries, newRequest } = await gateWith(kind, 3);
    const receiver = await startReceiver();
    const created = await subscribe({ url: receiver.url('/created'), events: ['request.created'], description: 'new requests' });
    const decided = await subscribe({ url: receiver.url('/decided'), events: ['request.decided'] });
    const everything = await subscribe({ url: receiver.url('/all') });
    const id = await newRequest();

    const [delivery] = await until('the request.created delivery', async () => {
      const list = await deliveries(created.id, 'delivered');
      return list.length > 0 && list;
    });
    const [arrived, ...more] = receiver.at('/created');
    expect(more).toEqual([]);
    expect(arrived?.headers['webhook-id']).toBe(delivery?.id);
    expect(arrived?.headers['content-type']).toBe('application/json');
    // The receiver's check, with the secret it was given and nothing else.
    const payload = new Webhook(created.secret).verify(arrived?.body as string, arrived?.headers as Record<string, string>) as Record<string, any>;
    expect(payload).toMatchObject({ type: 'request.created', data: { type: 'request.created', subject: { type: 'approval', id }, environment: 'dev', target: 'local', data: { command: 'echo hello', risk_level: 'LOW' } } });
    expect(payload.timestamp).toBe(payload.data.time);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, event_type: 'request.created', event_seq: payload.data.seq, history: [{ attempt: 1, outcome: 'delivered', status_code: 200 }] });
    // Another subscription's secret does not verify it.
    expect(() => new Webhook(decided.secret).verify(arrived?.body as string, arrived?.headers as Record<string, string>)).toThrow();

    // Filtered by type: request.decided went to its own subscription only, "*" got both.
    await until('the other deliveries', async () => (await deliveries(decided.id, 'delivered')).length === 1 && (await deliveries(everything.id, 'delivered')).length === 2);
    expect((await deliveries(created.id)).map((entry) => entry.event_type)).toEqual(['request.created']);
    expect((await deliveries(decided.id)).map((entry) => entry.event_type)).toEqual(['request.decided']);
    expect((await deliveries(everything.id)).map((entry) => entry.event_type).sort()).toEqual(['request.created', 'request.decided']);
    const types = receiver.at('/all').map((entry) => (new Webhook(everything.secret).verify(entry.body, entry.headers) as { type: string }).type);
    expect(types.sort()).toEqual(['request.created', 'request.decided']);
    expect(receiver.at('/decided').map((entry) => JSON.parse(entry.body).type)).toEqual(['request.decided']);
  });

  it('formats slack subscriptions as one readable, signed line', async () => {
    const { subscribe, deliveries, newRequest } = await gateWith(kind, 3);
    const receiver = await startReceiver();
    const slack = await subscribe({ url: receiver.url('/slack'), events: ['request.created'], format: 'slack' });
    const id = await newRequest('echo "a <b> & c\nsecond line"');
    await until('the slack delivery', async () => (await deliveries(slack.id, 'delivered')).length === 1);
    const [arrived] = receiver.at('/slack');
    const body = new Webhook(slack.secret).verify(arrived?.body as string, arrived?.headers as Record<string, string>) as { text: string };
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text).not.toContain('\n');
    for (const part of ['request.created', `request ${id}`, 'dev/local', 'LOW', 'echo']) expect(body.text).toContain(part);
    // Slack's control characters are escaped.
    expect(body.text).toContain('&lt;b&gt; &amp; c');
  });

  it('retries 500s with backoff and delivers exactly once, recording every attempt', async () => {
    const { subscribe, deliveries, newRequest } = await gateWith(kind, 5);
    const receiver = await startReceiver(({ count }) => (count <= 3 ? 500 : 200));
    const flaky = await subscribe({ url: receiver.url('/flaky'), events: ['request.created'] });
    await newRequest();
    const [delivery] = await until('the delivery after three refusals', async () => {
      const list = await deliveries(flaky.id, 'delivered');
      return list.length > 0 && list;
    });
    expect(receiver.at('/flaky').map((entry) => entry.status)).toEqual([500, 500, 500, 200]);
    // Every attempt carried the same idempotency key.
    expect(new Set(receiver.at('/flaky').map((entry) => entry.headers['webhook-id']))).toEqual(new Set([delivery?.id]));
    expect(delivery?.attempts).toBe(4);
    expect(delivery?.history.map((attempt: Record<string, unknown>) => [attempt.attempt, attempt.outcome, attempt.status_code])).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 500],
      [3, 'failed', 500],
      [4, 'delivered', 200],
    ]);
    expect(delivery?.history[0].error).toMatch(/answered 500: refused with 500/);
    expect(delivery?.last_error).toBeNull();
    // Each retry waited for its backoff: the attempts are in order in time.
    const times = delivery?.history.map((attempt: { at: string }) => Date.parse(attempt.at)) as number[];
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('gives up on a 400 at once: dead after one attempt', async () => {
    const { subscribe, deliveries, newRequest } = await gateWith(kind, 5);
    const receiver = await startReceiver(() => 400);
    const refusing = await subscribe({ url: receiver.url('/refusing'), events: ['request.created'] });
    await newRequest();
    const [dead] = await until('the dead delivery', async () => {
      const list = await deliveries(refusing.id, 'dead');
      return list.length > 0 && list;
    });
    expect(dead).toMatchObject({ status: 'dead', attempts: 1, history: [{ attempt: 1, outcome: 'failed', status_code: 400 }] });
    expect(dead?.last_error).toMatch(/answered 400/);
    expect(receiver.at('/refusing')).toHaveLength(1);
  });

  it('moves deliveries to a receiver that is down to dead after maxAttempts, and re-drives them over HTTP and from the CLI', async () => {
    const { gate, admin, subscribe, deliveries, newRequest } = await gateWith(kind, 3);
    const receiver = await startReceiver();
    const hook = await subscribe({ url: receiver.url('/down'), events: ['request.created'] });
    await receiver.down();
    await newRequest('echo first');
    await newRequest('echo second');
    const dead = await until('two dead deliveries', async () => {
      const list = await deliveries(hook.id, 'dead');
      return list.length === 2 && list;
    });
    for (const delivery of dead) {
      expect(delivery.attempts).toBe(3);
      expect(delivery.history.map((attempt: { outcome: string }) => attempt.outcome)).toEqual(['failed', 'failed', 'failed']);
      expect(delivery.last_error).toMatch(/ECONNREFUSED/);
    }
    const shown = await http('GET', `${gate.url}/v1/webhooks/${hook.id}`, { headers: admin });
    expect(shown.body.deliveries).toEqual({ pending: 0, delivered: 0, dead: 2 });

    await receiver.up();
    const [second, first] = dead as [Record<string, any>, Record<string, any>];
    // One delivery over HTTP…
    const one = await http('POST', `${gate.url}/v1/webhooks/${hook.id}/redrive`, { headers: admin, json: { delivery_id: first.id } });
    expect(one.status, one.text).toBe(200);
    expect(one.body).toEqual({ redriven: 1 });
    await until('the re-driven delivery', async () => (await deliveries(hook.id, 'delivered')).length === 1);
    expect(receiver.at('/down').map((entry) => entry.headers['webhook-id'])).toEqual([first.id]);
    const again = await http('POST', `${gate.url}/v1/webhooks/${hook.id}/redrive`, { headers: admin, json: { delivery_id: first.id } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('delivery_not_dead');

    // …and the rest from the command line.
    const cli = await runCli(['webhooks', 'redrive', hook.id, '--url', gate.url], { cwd: tmpDir(), env: { AIRLOCK_API_KEY: gate.admin } });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('1 dead delivery');
    await until('every delivery delivered', async () => (await deliveries(hook.id, 'delivered')).length === 2);
    expect(receiver.at('/down').map((entry) => entry.headers['webhook-id'])).toEqual([first.id, second.id]);
    for (const entry of receiver.at('/down')) expect(() => new Webhook(hook.secret).verify(entry.body, entry.headers)).not.toThrow();
    const redelivered = await deliveries(hook.id);
    for (const delivery of redelivered) {
      expect(delivery.attempts).toBe(4);
      expect(delivery.history.map((attempt: { outcome: string }) => attempt.outcome)).toEqual(['failed', 'failed', 'failed', 'delivered']);
    }
    const redriven = await gate.server.runtime.store.db.selectFrom('audit_events').select(['actor', 'data']).where('action', '=', 'webhook.redriven').orderBy('seq').execute();
    expect(redriven.map((row) => JSON.parse(row.data))).toEqual([
      { redriven: 1, delivery_id: first.id },
      { redriven: 1, delivery_id: null },
    ]);
  });

  it('stops delivering to a removed subscription, keeps its history, and audits the change', async () => {
    const { gate, admin, subscribe, deliveries, newRequest } = await gateWith(kind, 3);
    const receiver = await startReceiver();
    const hook = await subscribe({ url: receiver.url('/removed'), events: ['request.created'] });
    await newRequest();
    await until('the first delivery', async () => (await deliveries(hook.id, 'delivered')).length === 1);
    const removed = await http('DELETE', `${gate.url}/v1/webhooks/${hook.id}`, { headers: admin });
    expect(removed.status).toBe(200);
    expect(removed.body.webhook).toMatchObject({ id: hook.id, status: 'removed' });
    expect((await http('DELETE', `${gate.url}/v1/webhooks/${hook.id}`, { headers: admin })).status).toBe(200);
    expect((await http('GET', `${gate.url}/v1/webhooks`, { headers: admin })).body.webhooks).toEqual([]);
    expect((await http('GET', `${gate.url}/v1/webhooks/${hook.id}`, { headers: admin })).body.webhook.status).toBe('removed');
    const redrive = await http('POST', `${gate.url}/v1/webhooks/${hook.id}/redrive`, { headers: admin, json: {} });
    expect(redrive.body.code).toBe('webhook_removed');

    // A later event is fanned out (a watcher subscription proves it) but not to the removed one.
    const watcher = await subscribe({ url: receiver.url('/watcher'), events: ['request.created'] });
    await newRequest('echo later');
    await until('the watcher delivery', async () => (await deliveries(watcher.id, 'delivered')).length === 1);
    expect(await deliveries(hook.id)).toHaveLength(1);
    expect(receiver.at('/removed')).toHaveLength(1);
    const actions = (await gate.auditActions()).filter((action) => action.startsWith('webhook.'));
    expect(actions).toEqual(['webhook.created', 'webhook.deleted', 'webhook.created']);
  });
});

describe('bad webhook input', () => {
  it('refuses bad URLs, unknown event types and formats, and unknown ids with a 4xx and a code, storing nothing', async () => {
    const { gate, admin } = await gateWith('sqlite', 3);
    const post = (json: unknown) => http('POST', `${gate.url}/v1/webhooks`, { headers: admin, json });
    const bad: Array<[unknown, RegExp]> = [
      [{ url: 'ftp://example.com/hook' }, /http/],
      [{ url: 'javascript:alert(1)' }, /http/],
      [{ url: 'file:///etc/passwd' }, /http/],
      [{ url: 'not a url' }, /http/],
      [{ url: 'https://user:pass@example.com/hook' }, /user:password/],
      [{ url: 'https://example.com/hook', events: ['request.exploded'] }, /expected one of/],
      [{ url: 'https://example.com/hook', events: [] }, /./],
      [{ url: 'https://example.com/hook', events: ['*', 'request.created'] }, /stands alone/],
      [{ url: 'https://example.com/hook', events: 'request.created' }, /./],
      [{ url: 'https://example.com/hook', format: 'teams' }, /./],
      [{ url: 'https://example.com/hook', secret: 'whsec_mine' }, /./],
      [{}, /./],
    ];
    for (const [body, detail] of bad) {
      const response = await post(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.code).toBe('invalid_request');
      expect(JSON.stringify(response.body.errors), JSON.stringify(body)).toMatch(detail);
    }
    const unknown = '01900000-0000-7000-8000-000000000000';
    for (const [method, path, json] of [
      ['GET', `/v1/webhooks/${unknown}`],
      ['DELETE', `/v1/webhooks/${unknown}`],
      ['GET', `/v1/webhooks/${unknown}/deliveries`],
      ['POST', `/v1/webhooks/${unknown}/redrive`, {}],
    ] as const) {
      const response = await http(method, `${gate.url}${path}`, { headers: admin, ...(json ? { json } : {}) });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body.code).toBe('webhook_not_found');
    }
    const statusFilter = await http('GET', `${gate.url}/v1/webhooks/${unknown}/deliveries?status=lost`, { headers: admin });
    expect(statusFilter.status).toBe(400);
    expect(statusFilter.body.code).toBe('invalid_request');

    const db = gate.server.runtime.store.db;
    expect(await db.selectFrom('webhook_subscriptions').selectAll().execute()).toEqual([]);
    expect((await gate.auditActions()).filter((action) => action.startsWith('webhook.'))).toEqual([]);

    // A delivery id that is not the subscription's.
    const created = await post({ url: 'https://example.com/hook' });
    const foreign = await http('POST', `${gate.url}/v1/webhooks/${created.body.webhook.id}/redrive`, { headers: admin, json: { delivery_id: unknown } });
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('delivery_not_found');
    // Only admins manage webhooks.
    const asAgent = await http('GET', `${gate.url}/v1/webhooks`, { headers: bearer(gate.agent) });
    expect(asAgent.status).toBe(403);
    expect(asAgent.body.code).toBe('forbidden');
  });
});
