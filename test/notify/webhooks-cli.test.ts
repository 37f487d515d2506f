import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { tmpDir } from '../helpers/tmp.js';
import { startReceiver, until } from '../helpers/webhook-receiver.js';

describe('airlock webhooks', () => {
  it('adds, lists, shows, follows the deliveries of, and removes a subscription', async () => {
    const gate = await startGate('sqlite', { events: { retryBaseMs: 50, retryMaxMs: 200, maxAttempts: 3 } });
    const receiver = await startReceiver();
    const cli = (...args: string[]) => runCli(['webhooks', ...args, '--url', gate.url], { cwd: tmpDir(), env: { AIRLOCK_API_KEY: gate.admin } });

    const added = await cli('add', receiver.url('/cli'), '--events', 'request.created,request.decided', '--format', 'slack', '--description', 'ops channel');
    expect(added.code, added.stderr).toBe(0);
    const id = /^webhook (\S+): slack deliveries of request\.created, request\.decided to http:\/\/127\.0\.0\.1:\d+\/cli$/m.exec(added.stdout)?.[1] as string;
    expect(id, added.stdout).toBeTruthy();
    expect(added.stdout).toMatch(/^secret \(shown only now, .*\): whsec_\S{32}$/m);

    const list = await cli('list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toContain('"ops channel"');
    expect(list.stdout).not.toContain('whsec_');

    const created = await gate.request({ command: 'echo from-cli', deployment_env: 'dev' });
    expect(created.status).toBe(201);
    await until('both deliveries', async () => {
      const shown = await http('GET', `${gate.url}/v1/webhooks/${id}`, { headers: bearer(gate.admin) });
      return (shown.body as { deliveries: { delivered: number } }).deliveries.delivered === 2;
    });
    // Independent reads, side by side.
    const [show, deliveries, dead, deadPlain] = await Promise.all([cli('show', id), cli('deliveries', id), cli('deliveries', id, '--status', 'dead', '--json'), cli('deliveries', id, '--status', 'dead')]);
    expect(show.stdout).toContain(`webhook ${id}: ACTIVE`);
    expect(show.stdout).toMatch(/deliveries +0 pending, 2 delivered, 0 dead/);
    expect(deliveries.code).toBe(0);
    expect(deliveries.stdout).toMatch(/request\.created +DELIVERED at \S+ +\(1 attempt\)/);
    expect(deliveries.stdout).toMatch(/request\.decided +DELIVERED/);
    expect(deliveries.stdout).toMatch(/^ +1 +\S+ +delivered +200 +\d+ ms$/m);
    expect(JSON.parse(dead.stdout)).toEqual([]);
    expect(deadPlain.stdout.trim()).toBe('no deliveries');

    const removed = await cli('remove', id);
    expect(removed.code).toBe(0);
    expect(removed.stdout.trim()).toBe(`webhook ${id} removed`);
    const [listAfter, showAfter] = await Promise.all([cli('list'), cli('show', id)]);
    expect(listAfter.stdout.trim()).toBe('no webhooks');
    expect(showAfter.stdout).toContain('REMOVED');
  });

  it('prints the server\'s refusals with their codes and exits non-zero', async () => {
    const gate = await startGate('sqlite');
    const cli = (...args: string[]) => runCli(['webhooks', ...args, '--url', gate.url], { cwd: tmpDir(), env: { AIRLOCK_API_KEY: gate.admin } });
    const [badUrl, badType, badFormat, unknown, notAdmin] = await Promise.all([
      cli('add', 'ftp://example.com/x'),
      cli('add', 'https://example.com/x', '--events', 'request.created,request.exploded'),
      cli('add', 'https://example.com/x', '--format', 'teams'),
      cli('show', '01900000-0000-7000-8000-000000000000'),
      runCli(['webhooks', 'list', '--url', gate.url], { cwd: tmpDir(), env: { AIRLOCK_API_KEY: gate.agent } }),
    ]);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toContain('[invalid_request]');
    expect(badUrl.stderr).toContain('url: url must be an http:// or https:// URL');
    expect(badType.code).toBe(1);
    expect(badType.stderr).toContain('[invalid_request]');
    expect(badType.stderr).toContain('events/1: Invalid option');
    expect(badFormat.code).toBe(2);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[webhook_not_found]');
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toContain('[forbidden]');
    expect(await gate.server.runtime.store.db.selectFrom('webhook_subscriptions').selectAll().execute()).toEqual([]);
  });
});
