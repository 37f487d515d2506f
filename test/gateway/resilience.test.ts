import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { createDatabase, storeKinds, type StoreKind } from '../helpers/databases.js';
import { approvedToken, execute, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { alive, spawnServer } from '../helpers/process.js';
import { tmpDir } from '../helpers/tmp.js';

/** A data directory initialised against a fresh database: its admin key and how to start servers on it. */
async function sharedSetup(kind: StoreKind) {
  const database = await createDatabase(kind);
  const dataDir = join(tmpDir(), 'data');
  const init = await runCli(['init', '--data-dir', dataDir, '--database-url', database.url], { cwd: tmpDir() });
  const admin = /alk_\S+/.exec(init.stdout)?.[0] as string;
  const start = () => spawnServer(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--database-url', database.url], { cwd: tmpDir(), env: cleanEnv() });
  return { database, dataDir, admin, start };
}

async function mint(url: string, key: string, command: string) {
  const created = await http('POST', `${url}/approvals/request`, { headers: bearer(key), json: { worker_id: 'w', task_name: 't', command, deployment_env: 'dev' } });
  const id = created.body.request.request_id as string;
  const token = await http('POST', `${url}/gateway/token`, { headers: bearer(key), json: { approval_id: id, command, environment: 'dev' } });
  return { id, token: token.body.token as string };
}

describe.each(storeKinds())('the gateway under stress on %s', (kind) => {
  it('runs one token exactly once when 200 executes race over 3 server processes', async () => {
    const setup = await sharedSetup(kind);
    const servers = await Promise.all([setup.start(), setup.start(), setup.start()]);
    const { id, token } = await mint(servers[0]!.url, setup.admin, 'echo once');
    const dispatcher = new Agent({ connections: 50 });
    const { request } = await import('undici');
    const responses = await Promise.all(
      Array.from({ length: 200 }, async (_, index) => {
        const response = await request(`${servers[index % 3]!.url}/gateway/execute`, {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/json', 'x-capability-token': token },
          body: JSON.stringify({ command: 'echo once', approval_id: id, environment: 'dev' }),
        });
        return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
      }),
    );
    await dispatcher.close();
    const succeeded = responses.filter((response) => response.status === 200);
    const replays = responses.filter((response) => response.status === 409);
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]?.body).toMatchObject({ success: true, output: 'once\n' });
    expect(replays).toHaveLength(199);
    for (const replay of replays) expect(replay.body).toEqual({ success: false, error: 'Token has already been used' });

    for (const server of servers) server.signal('SIGTERM');
    await Promise.all(servers.map((server) => server.exited));
    const store = await openStore(setup.database.target);
    const executions = await store.db.selectFrom('executions').selectAll().execute();
    await store.close();
    expect(executions).toHaveLength(1);
    const verify = await runCli(['audit', 'verify', '--data-dir', setup.dataDir, '--database-url', setup.database.url], { cwd: tmpDir() });
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('marks an execution interrupted when its server is killed -9, and the chain still verifies', async () => {
    const setup = await sharedSetup(kind);
    const first = await setup.start();
    const { id, token } = await mint(first.url, setup.admin, 'sleep 30');
    const running = execute(first.url, token, { command: 'sleep 30', approval_id: id, environment: 'dev' }).catch(() => undefined);
    const store = await openStore(setup.database.target);
    for (let attempt = 0; attempt < 100; attempt++) {
      if ((await store.db.selectFrom('executions').select('status').executeTakeFirst())?.status === 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await store.db.selectFrom('executions').select('status').executeTakeFirst())?.status).toBe('running');
    // The gateway records which process group runs the command.
    let identity: string | null = null;
    for (let attempt = 0; attempt < 100 && !identity; attempt++) {
      identity = (await store.db.selectFrom('executions').select('process').executeTakeFirst())?.process ?? null;
      if (!identity) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const pid = Number(identity?.split(':')[0]);
    expect(alive(pid)).toBe(true);
    first.signal('SIGKILL');
    await first.exited;
    await running;
    // The server is gone but the command it started still runs, unsupervised…
    expect(alive(pid)).toBe(true);

    const second = await setup.start();
    const execution = await store.db.selectFrom('executions').selectAll().executeTakeFirstOrThrow();
    expect(execution).toMatchObject({ status: 'interrupted', error: 'the gateway stopped while it ran' });
    // …until the restarted gateway stops it.
    for (let attempt = 0; attempt < 40 && alive(pid); attempt++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alive(pid)).toBe(false);
    const interrupted = await store.db.selectFrom('audit_events').select('data').where('action', '=', 'execution.interrupted').executeTakeFirstOrThrow();
    expect(JSON.parse(interrupted.data)).toMatchObject({ killed_leftover_process: true });
    const actions = (await store.db.selectFrom('audit_events').select('action').orderBy('seq').execute()).map((row) => row.action);
    expect(actions).toEqual(expect.arrayContaining(['execution.started', 'execution.interrupted']));
    await store.close();
    second.signal('SIGTERM');
    await second.exited;
    const verify = await runCli(['audit', 'verify', '--data-dir', setup.dataDir, '--database-url', setup.database.url], { cwd: tmpDir() });
    expect(verify.code, verify.stdout).toBe(0);
  });
});

describe.runIf(storeKinds().includes('postgres'))('with the database gone', () => {
  it('refuses to execute with 503 and runs nothing', async () => {
    const gate = await startGate('postgres', { database: { connectTimeoutMs: 1000 } });
    const marker = join(tmpDir(), 'marker');
    const command = `touch ${marker}`;
    const { id, token } = await approvedToken(gate, command);
    const name = new URL(gate.database.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: process.env.AIRLOCK_TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`alter database ${name} allow_connections false`);
      const killed = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name]);
      expect(killed.rowCount).toBeGreaterThan(0);
      const response = await execute(gate.url, token, { command, approval_id: id, environment: 'dev' });
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ success: false, code: 'store_unavailable' });
      expect(existsSync(marker)).toBe(false);
    } finally {
      await admin.query(`alter database ${name} allow_connections true`);
      await admin.end();
    }
    // Back again: the token was never consumed, so it still runs once.
    const retried = await execute(gate.url, token, { command, approval_id: id, environment: 'dev' });
    expect(retried.body).toMatchObject({ success: true });
    expect(existsSync(marker)).toBe(true);
  });
});
