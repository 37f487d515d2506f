import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { bearer, http } from '../helpers/http.js';
import { spawnServer } from '../helpers/process.js';
import { tmpDir } from '../helpers/tmp.js';
import { startReceiver, until } from '../helpers/webhook-receiver.js';

describe.each(storeKinds())('webhook deliveries across a crash on %s', (kind) => {
  it('sends what a server killed with SIGKILL left pending once it starts again on the same database', { timeout: 240_000 }, async () => {
    const database = await createDatabase(kind);
    const dataDir = join(tmpDir(), 'data');
    const init = await runCli(['init', '--data-dir', dataDir, '--database-url', database.url], { cwd: tmpDir() });
    const admin = /alk_\S+/.exec(init.stdout)?.[0] as string;
    expect(admin, init.stdout + init.stderr).toBeTruthy();
    // Quick retries, and enough of them that the delivery is still pending when the server dies.
    const env = cleanEnv({ AIRLOCK_DELIVERY_RETRY_BASE_MS: '100', AIRLOCK_DELIVERY_RETRY_MAX_MS: '500', AIRLOCK_DELIVERY_MAX_ATTEMPTS: '100' });
    const start = () => spawnServer(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--database-url', database.url, '--log-level', 'debug'], { cwd: tmpDir(), env });

    const receiver = await startReceiver();
    const first = await start();
    const created = await http('POST', `${first.url}/v1/webhooks`, { headers: bearer(admin), json: { url: receiver.url('/crash'), events: ['request.created'] } });
    expect(created.status, created.text).toBe(201);
    const secret = created.body.secret as string;
    await receiver.down();
    const request = await http('POST', `${first.url}/approvals/request`, { headers: bearer(admin), json: { worker_id: 'w', task_name: 't', command: 'echo crash', deployment_env: 'dev' } });
    expect(request.status, request.text).toBe(201);
    const requestId = request.body.request.request_id as string;

    const store = await openStore(database.target);
    try {
      // The event committed and its delivery failed at least once: the receiver is down.
      await until('a failed attempt', async () => (await store.db.selectFrom('delivery_attempts').select('outcome').execute()).length > 0);
      first.signal('SIGKILL');
      await first.exited;
      const pending = await store.db.selectFrom('deliveries').selectAll().where('channel', '=', 'webhook').execute();
      expect(pending).toHaveLength(1);
      expect(pending[0]?.status).toBe('pending');
      expect(receiver.at('/crash')).toEqual([]);

      await receiver.up();
      const second = await start();
      // A delivery the killed server had claimed is free again once its lease (a minute) runs out.
      const [arrived] = await until('the event after the restart', () => receiver.at('/crash').length > 0 && receiver.at('/crash'), 150_000);
      const payload = new Webhook(secret).verify(arrived?.body as string, arrived?.headers as Record<string, string>) as { type: string; data: { subject: { id: string } } };
      expect(payload.type).toBe('request.created');
      expect(payload.data.subject.id).toBe(requestId);
      expect(arrived?.headers['webhook-id']).toBe(pending[0]?.id);

      const delivered = await until('the delivery marked delivered', async () => {
        const row = await store.db.selectFrom('deliveries').selectAll().where('id', '=', pending[0]?.id as string).executeTakeFirstOrThrow();
        return row.status === 'delivered' && row;
      });
      const attempts = await store.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', delivered.id).orderBy('attempt').execute();
      expect(attempts.length).toBe(delivered.attempts);
      expect(attempts.filter((attempt) => attempt.outcome === 'delivered')).toHaveLength(1);
      expect(attempts.at(-1)?.outcome).toBe('delivered');
      expect(receiver.at('/crash')).toHaveLength(1);

      // The secret went out once, in the answer that created the subscription: never to a log line.
      expect(first.output() + second.output()).not.toContain(secret);
      second.signal('SIGTERM');
      await second.exited;
    } finally {
      await store.close();
    }
  });
});
