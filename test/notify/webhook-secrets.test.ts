import { Writable } from 'node:stream';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/http/logger.js';
import { startServer } from '../../src/http/server.js';
import { runCli } from '../helpers/cli.js';
import { bearer, http } from '../helpers/http.js';
import { testConfig } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';
import { startReceiver, until } from '../helpers/webhook-receiver.js';

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

describe('webhook secrets', () => {
  it('are returned once and never appear in list or get answers, the CLI, the logs or the audit log', async () => {
    const { lines, stream } = capture();
    const server = await startServer(testConfig({ events: { retryBaseMs: 50, retryMaxMs: 200, maxAttempts: 2 } }), createLogger('trace', stream));
    try {
      const { key } = await server.runtime.keys.create({ name: 'admin', scopes: ['admin'], actor: 'test' });
      const admin = bearer(key);
      const receiver = await startReceiver(({ path }) => (path.startsWith('/fails') ? 503 : 200));
      const cli = (...args: string[]) => runCli(['webhooks', ...args, '--url', server.url], { cwd: tmpDir(), env: { AIRLOCK_API_KEY: key } });

      // One made over HTTP, with a token in its path as Slack's incoming-webhook URLs have…
      const http1 = await http('POST', `${server.url}/v1/webhooks`, { headers: admin, json: { url: receiver.url('/services/T0/B0/path-token-1234'), format: 'slack' } });
      expect(http1.status).toBe(201);
      // …and one from the command line, whose deliveries fail until they are dead.
      const added = await cli('add', receiver.url('/fails'), '--events', 'request.created', '--description', 'always 503', '--json');
      expect(added.code, added.stderr).toBe(0);
      const viaCli = JSON.parse(added.stdout) as { webhook: { id: string }; secret: string };
      const hooks = [
        { id: http1.body.webhook.id as string, secret: http1.body.secret as string },
        { id: viaCli.webhook.id, secret: viaCli.secret },
      ];
      for (const hook of hooks) expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
      expect(hooks[0]?.secret).not.toBe(hooks[1]?.secret);

      const request = await http('POST', `${server.url}/v1/approvals`, { headers: admin, json: { worker_id: 'w', task_name: 't', command: 'echo secretless', deployment_env: 'dev' } });
      expect(request.status).toBe(201);
      await until('a delivered and a dead delivery', async () => {
        const counts = await server.runtime.store.db.selectFrom('deliveries').select('status').execute();
        return counts.some((row) => row.status === 'delivered') && counts.some((row) => row.status === 'dead');
      });
      // The secret still signs: what arrived verifies with it.
      const [arrived] = receiver.at('/services/T0/B0/path-token-1234');
      expect(() => new Webhook(hooks[0]?.secret as string).verify(arrived?.body as string, arrived?.headers as Record<string, string>)).not.toThrow();

      const answers = [
        (await http('GET', `${server.url}/v1/webhooks`, { headers: admin })).text,
        ...(await Promise.all(hooks.map(async (hook) => (await http('GET', `${server.url}/v1/webhooks/${hook.id}`, { headers: admin })).text))),
        ...(await Promise.all(hooks.map(async (hook) => (await http('GET', `${server.url}/v1/webhooks/${hook.id}/deliveries`, { headers: admin })).text))),
      ];
      const listed = JSON.parse(answers[0] as string) as { webhooks: Array<Record<string, unknown>> };
      expect(Object.keys(listed.webhooks[0] ?? {}).sort()).toEqual(['created_at', 'created_by', 'description', 'events', 'format', 'id', 'removed_at', 'status', 'url']);
      const commands = [['list'], ['list', '--json'], ['show', viaCli.webhook.id], ['show', viaCli.webhook.id, '--json'], ['deliveries', viaCli.webhook.id], ['deliveries', viaCli.webhook.id, '--status', 'dead', '--json']];
      const runs = await Promise.all(commands.map((args) => cli(...args)));
      runs.forEach((run, index) => expect(run.code, `${commands[index]?.join(' ')}: ${run.stderr}`).toBe(0));
      const outputs = runs.map((run) => run.stdout + run.stderr);
      const audit = (await server.runtime.store.db.selectFrom('audit_events').select(['action', 'data']).execute()).map((row) => `${row.action} ${row.data}`);
      expect(audit.filter((row) => row.startsWith('webhook.created'))).toHaveLength(2);
      const stored = await server.runtime.store.db.selectFrom('webhook_subscriptions').selectAll().execute();
      await server.close();
      const logs = lines.join('\n');
      expect(logs).toContain('is dead after 2 attempt(s)');

      for (const hook of hooks) {
        const base64 = hook.secret.slice('whsec_'.length);
        for (const text of [...answers, ...outputs, ...audit, logs, JSON.stringify(stored)]) {
          expect(text).not.toContain(base64);
        }
      }
      // At rest the secret is sealed, not lost: the dispatcher opens it to sign.
      expect(stored.map((row) => row.secret_box)).toEqual([expect.stringMatching(/^v1\./), expect.stringMatching(/^v1\./)]);
      // The audit log names where events go by origin and hash: a URL's path may be its credential.
      expect(audit.join('\n')).not.toContain('path-token-1234');
      expect(logs).not.toContain('path-token-1234');
      expect(audit.join('\n')).toContain(new URL(receiver.url()).origin);
    } finally {
      await server.close();
    }
  });
});
