import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../src/events/index.js';
import { followEvents } from '../../src/events/sse-client.js';
import { Cluster, freePort } from '../helpers/cluster.js';
import { createDatabase } from '../helpers/databases.js';
import { bearer, http, type HttpResult } from '../helpers/http.js';
import { connectMcp } from '../helpers/mcp.js';
import type { ServerProcess } from '../helpers/process.js';

// DESIGN.md section 3: many instances of each role share one PostgreSQL, and correctness (single use,
// audit order, event fan-out, shared limits) comes from the database and Redis, never from process memory.
// Three API instances and two gateways run as real `airlock serve` processes on one database.
const DATABASE = process.env.AIRLOCK_TEST_DATABASE_URL;
const REDIS_URL = 'redis://127.0.0.1:6379';
/** What every flow of these tests produces in the chain: an auto-approved LOW request, its token, one execution. */
const FLOW_ACTIONS = ['approval.requested', 'approval.decided', 'token.minted', 'execution.started', 'execution.finished'];

interface Minted {
  readonly id: string;
  readonly token: string;
  readonly body: { approval_id: string; command: string; environment: string };
}

describe.skipIf(!DATABASE)('many instances on one PostgreSQL (skipped without AIRLOCK_TEST_DATABASE_URL: the multi-instance guarantees are PostgreSQL\'s)', () => {
  let cluster: Cluster;
  let sql: pg.Pool;
  let apis: ServerProcess[];
  let gateways: ServerProcess[];
  let apiEnv: Record<string, string>;
  let gatewayEnv: (name: string) => Record<string, string>;
  let admin: string;
  let agent: string;

  /** One row of a query against the cluster's database. */
  async function one<T = Record<string, unknown>>(statement: string, params: unknown[] = []): Promise<T> {
    return (await sql.query(statement, params)).rows[0] as T;
  }
  async function rows<T = Record<string, unknown>>(statement: string, params: unknown[] = []): Promise<T[]> {
    return (await sql.query(statement, params)).rows as T[];
  }

  async function newKey(name: string, scopes: string[]): Promise<string> {
    const created = await http('POST', `${apis[0]!.url}/v1/keys`, { headers: bearer(admin), json: { name, scopes } });
    expect(created.status, created.text).toBe(201);
    return created.body.key as string;
  }

  const requestOn = (api: ServerProcess, command: string) =>
    http('POST', `${api.url}/v1/approvals`, { headers: bearer(agent), json: { command, target: 'box', deployment_env: 'dev', worker_id: 'cluster', task_name: 'multi-instance' } });
  const mintOn = (api: ServerProcess, id: string, command: string) => http('POST', `${api.url}/v1/tokens`, { headers: bearer(agent), json: { approval_id: id, command, environment: 'dev' } });
  const executeOn = (gateway: ServerProcess, minted: Minted) => http('POST', `${gateway.url}/v1/execute`, { headers: { 'x-capability-token': minted.token }, json: minted.body });

  /** Requests `command` on one API instance (LOW: approved by policy at once) and mints its token on another. */
  async function minted(command: string, requestApi: ServerProcess, mintApi: ServerProcess): Promise<Minted> {
    const created = await requestOn(requestApi, command);
    expect(created.status, created.text).toBe(201);
    expect(created.body.request.status).toBe('APPROVED');
    const id = created.body.request.request_id as string;
    const token = await mintOn(mintApi, id, command);
    expect(token.status, token.text).toBe(200);
    return { id, token: token.body.token as string, body: { approval_id: id, command, environment: 'dev' } };
  }

  /** Flow `n`: request on API n, mint on API n+1 (never the same one), execute on gateway n, read on API n+2. */
  async function flow(n: number, command = `echo flow ${n}`): Promise<{ minted: Minted; ran: HttpResult }> {
    const made = await minted(command, apis[n % 3]!, apis[(n + 1) % 3]!);
    const ran = await executeOn(gateways[n % 2]!, made);
    expect(ran.status, ran.text).toBe(200);
    expect(ran.body.stdout).toBe(`${command.slice(5)}\n`);
    const read = await http('GET', `${apis[(n + 2) % 3]!.url}/v1/approvals/${made.id}`, { headers: bearer(agent) });
    expect(read.body.request.status).toBe('EXECUTED');
    return { minted: made, ran };
  }

  /** `airlock audit verify` passes, and the chain is one gap-free order; returns its last seq. */
  async function chainIsWhole(): Promise<number> {
    const verified = await cluster.cli(['audit', 'verify'], apiEnv);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    return oneOrder();
  }

  async function oneOrder(): Promise<number> {
    // One order: seq runs 1..N without a gap or a repeat, and the head is its end.
    // (PostgreSQL's bigint and count(*) arrive as strings.)
    const shape = await one<{ n: string; first: string; last: string }>('select count(*) as n, min(seq) as first, max(seq) as last from audit_events');
    const head = await one<{ seq: string }>('select seq from audit_head where id = 1');
    const last = Number(shape.last);
    expect({ count: Number(shape.n), first: Number(shape.first), head: Number(head.seq) }).toEqual({ count: last, first: 1, head: last });
    return last;
  }

  beforeAll(async () => {
    const database = await createDatabase('postgres');
    cluster = new Cluster(database.url);
    sql = new pg.Pool({ connectionString: database.url, max: 3 });
    writeFileSync(
      join(cluster.dir, 'targets.yaml'),
      'targets:\n  box:\n    executor: local\n    environments: [dev]\n    capabilities: [exec]\n    constraints:\n      concurrency: 64\n',
    );
    // Both roles append to the chain, so every instance holds the one audit key; token keys stay with the API instances.
    const auditKey = join(cluster.dir, 'audit-ed25519.pem');
    writeFileSync(auditKey, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const common = {
      AIRLOCK_TARGETS_FILE: join(cluster.dir, 'targets.yaml'),
      AIRLOCK_AUDIT_KEY_FILE: auditKey,
      AIRLOCK_DATABASE_POOL_SIZE: '5',
      // The safety-net poll is as slow as allowed: events from other instances reach a stream through NOTIFY.
      AIRLOCK_EVENTS_POLL_MS: '60000',
    };
    apiEnv = {
      ...common,
      AIRLOCK_KEYS_DIR: join(cluster.dir, 'api-keys'),
      AIRLOCK_REDIS_URL: REDIS_URL,
      AIRLOCK_REDIS_KEY_PREFIX: `airlock-test:${randomBytes(6).toString('hex')}:`,
      AIRLOCK_API_RATE_LIMIT: '1000000',
    };
    const jwksPort = await freePort();
    gatewayEnv = (name) => ({ ...common, AIRLOCK_KEYS_DIR: join(cluster.dir, `${name}-keys`), AIRLOCK_JWKS_URL: `http://127.0.0.1:${jwksPort}/.well-known/jwks.json` });
    // All at once, on an empty keys folder the API instances share: one of them creates each key, the others load it.
    const started = await Promise.all([
      cluster.start('api', 'api-1', apiEnv, jwksPort),
      cluster.start('api', 'api-2', apiEnv),
      cluster.start('api', 'api-3', apiEnv),
      cluster.start('gateway', 'gw-1', gatewayEnv('gw-1')),
      cluster.start('gateway', 'gw-2', gatewayEnv('gw-2')),
      cluster.key('admin', 'admin', apiEnv),
    ]);
    apis = started.slice(0, 3) as ServerProcess[];
    gateways = started.slice(3, 5) as ServerProcess[];
    admin = started[5] as string;
    agent = await newKey('agent', ['approvals:request', 'approvals:read', 'gateway:execute']);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    await sql?.end();
  }, 60_000);

  it('consumes a token once across gateways: one run, every other attempt refused as a replay', async () => {
    const made = await minted('echo only once', apis[0]!, apis[1]!);
    // The same token, four times on each gateway, all in flight together.
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => executeOn(gateways[i % 2]!, made)));
    const ran = answers.filter((answer) => answer.status === 200);
    expect(ran.length, answers.map((answer) => `${answer.status} ${answer.text}`).join('\n')).toBe(1);
    expect(ran[0]!.body.stdout).toBe('only once\n');
    for (const refused of answers.filter((answer) => answer.status !== 200)) {
      expect(refused.status, refused.text).toBe(409);
      expect(refused.body).toEqual({ success: false, error: 'Token has already been used' });
    }

    const executions = await rows<{ id: string; status: string }>('select id, status from executions where approval_id = $1', [made.id]);
    expect(executions).toEqual([{ id: ran[0]!.body.execution_id, status: 'succeeded' }]);
    const jti = decodeJwt(made.token).jti as string;
    const events = await rows<{ action: string; n: string }>(
      "select action, count(*) as n from audit_events where actor = $1 and action like 'execution.%' group by action order by action",
      [`token:${jti}`],
    );
    expect(events.map((event) => [event.action, Number(event.n)])).toEqual([
      ['execution.finished', 1],
      ['execution.refused', 7],
      ['execution.started', 1],
    ]);
  });

  it('keeps one audit order under concurrent load from every instance: the chain verifies, seq has no gap, nothing is missing', async () => {
    const before = await oneOrder();
    const flows = 24;
    // Eight clients at a time, each flow spread over three API instances and one of the two gateways, with reads.
    let next = 0;
    const results: Array<{ minted: Minted; ran: HttpResult }> = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < flows) results.push(await flow(next++));
      }),
    );
    expect(results).toHaveLength(flows);

    const after = await chainIsWhole();
    // Exactly what the flows must have written, and nothing else: five events each.
    expect(after - before).toBe(flows * FLOW_ACTIONS.length);
    const counts = await rows<{ action: string; n: string }>('select action, count(*) as n from audit_events where seq > $1 group by action order by action', [before]);
    expect(Object.fromEntries(counts.map((row) => [row.action, Number(row.n)]))).toEqual(Object.fromEntries(FLOW_ACTIONS.map((action) => [action, flows])));
    // Each flow's own events, in its order, whichever instances wrote them.
    for (const { minted: made, ran } of results) {
      const own = await rows<{ action: string }>(
        "select action from audit_events where seq > $1 and ((subject_type = 'approval' and subject_id = $2) or (subject_type = 'execution' and subject_id = $3)) order by seq",
        [before, made.id, ran.body.execution_id],
      );
      expect(own.map((row) => row.action)).toEqual(FLOW_ACTIONS);
    }
    // Both gateways ran some of them.
    const byGateway = await rows<{ instance_id: string }>('select distinct instance_id from executions where approval_id = any($1) order by instance_id', [results.map((result) => result.minted.id)]);
    expect(byGateway.map((row) => row.instance_id)).toEqual(['gw-1', 'gw-2']);
  });

  it('streams every event to SSE clients on every API instance, in order and without gaps, whichever instance wrote it', async () => {
    const start = Number((await one<{ seq: string | null }>('select max(seq) as seq from outbox')).seq ?? 0);
    const abort = new AbortController();
    const streams = apis.map((api) => ({ api, events: [] as DomainEvent[], connections: 0, done: undefined as Promise<void> | undefined }));
    for (const stream of streams) {
      stream.done = followEvents({
        url: stream.api.url,
        credential: async () => agent,
        after: start,
        signal: abort.signal,
        onConnected: () => stream.connections++,
        onEvent: (event) => stream.events.push(event),
      });
    }
    try {
      await until(() => streams.every((stream) => stream.connections > 0));
      const flows = 6;
      await Promise.all(Array.from({ length: flows }, (_, n) => flow(100 + n)));

      const expected = await rows<{ seq: string; type: string }>('select seq, type from outbox where seq > $1 order by seq', [start]);
      expect(expected).toHaveLength(flows * FLOW_ACTIONS.length);
      const last = Number(expected.at(-1)!.seq);
      await until(() => streams.every((stream) => (stream.events.at(-1)?.seq ?? 0) >= last), 50_000);
      for (const stream of streams) {
        expect(stream.events.map((event) => [event.seq, event.type]), stream.api.url).toEqual(expected.map((row) => [Number(row.seq), row.type]));
        // One connection each: nothing was filled in by a reconnect's replay.
        expect(stream.connections).toBe(1);
      }
    } finally {
      abort.abort();
      await Promise.all(streams.map((stream) => stream.done));
    }
  });

  it('shares one rate limit across API instances through Redis', async () => {
    const limit = 30;
    const prefix = `airlock-test:${randomBytes(6).toString('hex')}:`;
    // Three more API instances on the same database, with a low limit and counters of their own in Redis.
    const limited = await Promise.all(
      [1, 2, 3].map((i) => cluster.start('api', `api-limited-${i}`, { ...apiEnv, AIRLOCK_API_RATE_LIMIT: String(limit), AIRLOCK_REDIS_KEY_PREFIX: prefix })),
    );
    try {
      const reader = await newKey('reader', ['approvals:read']);
      // One principal's requests, spread round-robin over the three instances, one after another.
      const answers: HttpResult[] = [];
      for (let i = 0; i < limit + 15; i++) answers.push(await http('GET', `${limited[i % 3]!.url}/v1/whoami`, { headers: bearer(reader) }));
      // The limit holds for the deployment, not per instance (which would admit 3 × 30): the first 30 pass
      // whichever instance answered, each seeing the shared count go down; every later one is refused.
      answers.slice(0, limit).forEach((answer, i) => {
        expect(answer.status, answer.text).toBe(200);
        expect(answer.headers['ratelimit-limit']).toBe(String(limit));
        expect(answer.headers['ratelimit-remaining']).toBe(String(limit - i - 1));
      });
      for (const refused of answers.slice(limit)) {
        expect(refused.status, refused.text).toBe(429);
        expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(refused.body).toMatchObject({ status: 429, code: 'rate_limited', type: 'urn:airlock:problem:rate_limited', limit });
        expect(refused.body.retry_after_seconds).toBe(Number(refused.headers['retry-after']));
        expect(refused.headers['ratelimit-remaining']).toBe('0');
      }
      // Another principal still has its own count.
      const other = await newKey('other reader', ['approvals:read']);
      expect((await http('GET', `${limited[0]!.url}/v1/whoami`, { headers: bearer(other) })).status).toBe(200);
    } finally {
      for (const instance of limited) instance.signal('SIGTERM');
      expect(await Promise.all(limited.map((instance) => instance.exited))).toEqual([0, 0, 0]);
    }
  });

  it('keeps an MCP session on the instance that opened it: another instance answers 404, so /mcp needs sticky sessions', async () => {
    const client = await connectMcp('streamable-http', apis[0]!.url, agent);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId as string;
    expect(sessionId).toBeTruthy();
    const call = (api: ServerProcess) =>
      http('POST', `${api.url}/mcp`, {
        headers: { ...bearer(agent), 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18', accept: 'application/json, text/event-stream' },
        json: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      });
    const elsewhere = await call(apis[1]!);
    expect(elsewhere.status, elsewhere.text).toBe(404);
    expect(elsewhere.body.code).toBe('mcp_session_not_found');
    // The instance that holds it answers.
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  });

  // Last: it kills instances of the shared cluster.
  it('loses nothing when an API instance and a gateway are killed mid-load; the gateway marks what it left running interrupted on restart', async () => {
    const [, , victimApi] = apis as [ServerProcess, ServerProcess, ServerProcess];
    const victimGateway = gateways[1]!;
    const before = Number((await one<{ seq: string }>('select seq from audit_head where id = 1')).seq);

    // A command still running on the gateway when it dies.
    const long = await minted('sleep 20', apis[0]!, apis[1]!);
    const longRun = executeOn(victimGateway, long).then(
      (answer) => answer,
      (error: unknown) => error,
    );
    await until(async () => (await one('select 1 as found from executions where approval_id = $1', [long.id])) !== undefined);

    const acknowledged = { requests: [] as string[], tokens: [] as string[], executions: [] as Array<{ id: string; executionId: string; receipt: string }> };
    const lookUp: string[] = [];
    const lostTokens: string[] = [];
    const unexpected: string[] = [];
    let noAnswer = 0;

    /** Like a load balancer: a call that got no answer goes to the next instance. */
    async function onAny(instances: readonly ServerProcess[], first: number, call: (instance: ServerProcess) => Promise<HttpResult>): Promise<HttpResult | undefined> {
      for (let attempt = 0; attempt < instances.length; attempt++) {
        try {
          return await call(instances[(first + attempt) % instances.length]!);
        } catch {
          noAnswer++;
        }
      }
      return undefined;
    }

    async function resilientFlow(n: number): Promise<void> {
      const command = `echo load ${n}`;
      const created = await onAny(apis, n, (api) => requestOn(api, command));
      if (created?.status !== 201) return void unexpected.push(`request ${n}: ${created?.status} ${created?.text}`);
      const id = created.body.request.request_id as string;
      acknowledged.requests.push(id);
      const token = await onAny(apis, n + 1, (api) => mintOn(api, id, command));
      // A mint whose answer was lost may have committed: the retry is told so, and that token is never seen.
      if (token?.status === 409 && token.body.code === 'token_already_minted') return void lostTokens.push(id);
      if (token?.status !== 200) return void unexpected.push(`mint ${n}: ${token?.status} ${token?.text}`);
      acknowledged.tokens.push(id);
      const made = { id, token: token.body.token as string, body: { approval_id: id, command, environment: 'dev' } };
      let ran: HttpResult | undefined;
      try {
        ran = await executeOn(gateways[n % 2]!, made);
      } catch {
        // No answer: it may have run. A retry elsewhere is safe (the token is single use); what happened is looked up afterwards.
        noAnswer++;
        lookUp.push(id);
        ran = await executeOn(gateways[(n + 1) % 2]!, made).catch(() => undefined);
        if (ran?.status === 409) return;
      }
      if (ran?.status !== 200) return void unexpected.push(`execute ${n}: ${ran?.status} ${ran?.text}`);
      acknowledged.executions.push({ id, executionId: ran.body.execution_id as string, receipt: ran.body.receipt as string });
    }

    // Six clients run flows over every instance; the kill comes after the 10th flow, and 20 more follow it.
    let next = 0;
    let done = 0;
    let killed = false;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < 30) {
          await resilientFlow(next++);
          if (++done >= 10 && !killed) {
            killed = true;
            victimApi.signal('SIGKILL');
            victimGateway.signal('SIGKILL');
          }
        }
      }),
    );
    expect(await victimApi.exited).not.toBe(0);
    expect(await victimGateway.exited).not.toBe(0);
    expect(unexpected).toEqual([]);
    // Calls did reach the dead instances and were answered elsewhere.
    expect(noAnswer).toBeGreaterThan(0);
    expect(await longRun).toBeInstanceOf(Error);

    // The killed gateway comes back under its instance id and marks what it left running.
    const restarted = await cluster.start('gateway', 'gw-2', gatewayEnv('gw-2'));
    const longExecution = await one<{ id: string; status: string; instance_id: string }>('select id, status, instance_id from executions where approval_id = $1', [long.id]);
    expect(longExecution).toMatchObject({ status: 'interrupted', instance_id: 'gw-2' });
    const interrupted = await one<{ actor: string }>("select actor from audit_events where action = 'execution.interrupted' and subject_id = $1", [longExecution.id]);
    expect(interrupted?.actor).toBe('system:gw-2');
    // ...and serves again.
    const again = await minted('echo back again', apis[0]!, apis[1]!);
    expect((await executeOn(restarted, again)).body.stdout).toBe('back again\n');

    // Every approval that reached EXECUTED has exactly one execution, started and ended in the chain; nothing runs any more.
    const executedWithout = await rows("select a.id, count(e.id) as n from approvals a left join executions e on e.approval_id = a.id where a.status = 'EXECUTED' group by a.id having count(e.id) <> 1");
    expect(executedWithout).toEqual([]);
    expect(await rows("select e.id from executions e join approvals a on a.id = e.approval_id where a.status <> 'EXECUTED'")).toEqual([]);
    expect(await rows("select id from executions where status = 'running'")).toEqual([]);
    const unaccounted = await rows(
      `select e.id, e.status,
         (select count(*) from audit_events s where s.action = 'execution.started' and s.subject_id = e.id) as started,
         (select count(*) from audit_events s where s.action in ('execution.finished', 'execution.interrupted') and s.subject_id = e.id) as ended
       from executions e`,
    );
    expect(unaccounted.filter((row) => Number(row.started) !== 1 || Number(row.ended) !== 1)).toEqual([]);
    // Executions whose answer was lost are either recorded (finished, or interrupted on the killed gateway) or never consumed.
    for (const id of lookUp) {
      const state = await one<{ status: string; executions: string }>('select a.status, (select count(*) from executions e where e.approval_id = a.id) as executions from approvals a where a.id = $1', [id]);
      expect([['EXECUTED', 1], ['APPROVED', 0]], id).toContainEqual([state.status, Number(state.executions)]);
    }

    // Everything a client was told happened is in the chain.
    const recorded = async (action: string, ids: readonly string[]) =>
      new Set((await rows<{ subject_id: string }>('select subject_id from audit_events where action = $1 and seq > $2 and subject_id = any($3)', [action, before, ids])).map((row) => row.subject_id));
    expect(acknowledged.requests.length).toBeGreaterThanOrEqual(30);
    expect(await recorded('approval.requested', acknowledged.requests)).toEqual(new Set(acknowledged.requests));
    expect(await recorded('token.minted', acknowledged.tokens)).toEqual(new Set(acknowledged.tokens));
    const executionIds = acknowledged.executions.map((execution) => execution.executionId);
    expect(await recorded('execution.finished', executionIds)).toEqual(new Set(executionIds));
    // Each receipt names the chain position of its execution.finished event.
    for (const { executionId, receipt } of acknowledged.executions) {
      const claims = decodeJwt(receipt) as { audit_seq: number; audit_hash: string };
      const event = await one<{ subject_id: string; hash: string }>('select subject_id, hash from audit_events where seq = $1', [claims.audit_seq]);
      expect(event).toEqual({ subject_id: executionId, hash: claims.audit_hash });
    }
    await chainIsWhole();
  });
});

/** Waits for a condition that must come true (a bound only so a broken build fails rather than hangs). */
async function until(condition: () => boolean | Promise<boolean>, boundMs = 30_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('the condition never came true');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
