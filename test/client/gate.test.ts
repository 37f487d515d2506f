import { getEventListeners } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AirlockBadRequestError,
  AirlockClient,
  AirlockClientError,
  AirlockExpiredError,
  AirlockRejectedError,
  AirlockTimeoutError,
  type ApprovalView,
  type ExecuteResponse,
} from '../../src/client/index.js';
import { rawSql } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { rejectionOf } from './rejection.js';
import { tmpDir } from '../helpers/tmp.js';

/** A callback that records the request a gated call filed, and a promise of it. */
function filed() {
  let resolve!: (request: ApprovalView) => void;
  const request = new Promise<ApprovalView>((done) => (resolve = done));
  return { onRequest: (view: ApprovalView) => resolve(view), request };
}

describe('gate(): a tool behind the approval gate', () => {
  let gate: Awaited<ReturnType<typeof startGate>>;
  let agent: AirlockClient;
  let approver: AirlockClient;
  /** Every run of a wrapped body leaves a file here and counts: nothing else may create them. */
  let sideEffects: string;
  let bodyRuns = 0;
  const body =
    <T>(map: (result: ExecuteResponse) => T) =>
    (result: ExecuteResponse, ...args: unknown[]): T => {
      bodyRuns += 1;
      writeFileSync(join(sideEffects, `run-${bodyRuns}.json`), JSON.stringify({ args, execution: result.execution_id }));
      return map(result);
    };

  beforeAll(async () => {
    gate = await startGate('sqlite', { rateLimit: { enabled: false } });
    agent = new AirlockClient({ url: gate.url, apiKey: gate.agent, workerId: 'gate-test' });
    approver = new AirlockClient({ url: gate.url, apiKey: gate.approver });
    sideEffects = tmpDir();
  });

  async function executionsOf(id: string) {
    return (await approver.requests.history(id)).executions;
  }

  it('LOW: approved by the policy, executed through the gateway, fn maps the result', async () => {
    const dir = tmpDir();
    for (const name of ['plain', 'with space', "it's", '$HOME']) writeFileSync(join(dir, name), '');
    mkdirSync(join(dir, 'sub'));
    const requests = filed();
    const listDir = agent.gate(
      body((result) => result.stdout.split('\n').filter(Boolean)),
      { environment: 'dev', describe: (path: string) => ({ argv: ['ls', '-A', path], task_name: `list ${path}` }), onRequest: requests.onRequest },
    );
    const before = bodyRuns;
    expect(await listDir(dir)).toEqual(['$HOME', "it's", 'plain', 'sub', 'with space']);
    expect(bodyRuns).toBe(before + 1);
    const request = await requests.request;
    expect(request).toMatchObject({ status: 'APPROVED', auto_approved: true, risk_level: 'LOW', task_name: `list ${dir}`, worker_id: 'gate-test', op: { kind: 'exec', argv: ['ls', '-A', dir] } });
    expect(await agent.requests.get(request.request_id)).toMatchObject({ status: 'EXECUTED' });
    expect(await executionsOf(request.request_id)).toHaveLength(1);
  });

  it('MEDIUM: waits until another client approves, then runs once', async () => {
    const requests = filed();
    const multiply = agent.gate(
      body((result) => Number(result.stdout.trim())),
      { environment: 'dev', describe: (a: number, b: number) => ({ argv: ['expr', String(a), '*', String(b)] }), onRequest: requests.onRequest },
    );
    const before = bodyRuns;
    let settled = false;
    const product = multiply(6, 7).finally(() => (settled = true));
    const request = await requests.request;
    expect(request).toMatchObject({ status: 'PENDING', risk_level: 'MEDIUM', command: "expr 6 '*' 7" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    expect(bodyRuns).toBe(before);
    expect(await executionsOf(request.request_id)).toEqual([]);

    await approver.requests.approve(request.request_id, { reason: 'arithmetic is fine' });
    expect(await product).toBe(42);
    expect(bodyRuns).toBe(before + 1);
    expect(await executionsOf(request.request_id)).toMatchObject([{ status: 'succeeded', exit_code: 0, output: '42\n' }]);
  });

  it('a rejection throws AirlockRejectedError with the approver\'s reason; the body never runs and nothing executes', async () => {
    const requests = filed();
    const restart = agent.gate(
      body(() => 'restarted'),
      { environment: 'dev', describe: (service: string) => ({ argv: ['systemctl', 'restart', service], instruction: 'restart the web tier' }), onRequest: requests.onRequest },
    );
    const before = bodyRuns;
    const outcome = rejectionOf(restart('nginx'));
    const request = await requests.request;
    await approver.requests.reject(request.request_id, { reason: 'not during the freeze' });
    const error = await outcome;
    expect(error).toBeInstanceOf(AirlockRejectedError);
    expect(error).toMatchObject({ code: 'request_rejected', reason: 'not during the freeze', request: { request_id: request.request_id, status: 'REJECTED' } });
    expect(error.decidedBy).toEqual(expect.any(String));
    expect(bodyRuns).toBe(before);
    expect(existsSync(join(sideEffects, `run-${before + 1}.json`))).toBe(false);
    expect(await executionsOf(request.request_id)).toEqual([]);
    const actions = (await approver.requests.history(request.request_id)).events.map((event) => event.action);
    expect(actions).not.toContain('token.minted');
    expect(actions).not.toContain('execution.started');
  });

  it('expiry throws AirlockExpiredError; nothing runs', async () => {
    const requests = filed();
    const signal = agent.gate(body(() => 'signalled'), { environment: 'dev', describe: (pid: number) => ({ argv: ['kill', '-0', String(pid)] }), onRequest: requests.onRequest });
    const before = bodyRuns;
    const outcome = rejectionOf(signal(1));
    const request = await requests.request;
    // Nobody decides before its time runs out (moved into the past rather than waited for).
    await rawSql(gate.database, 'update approvals set expires_at = ? where id = ?', ['2000-01-01T00:00:00.000Z', request.request_id]);
    const error = await outcome;
    expect(error).toBeInstanceOf(AirlockExpiredError);
    expect(error).toMatchObject({ code: 'request_expired', request: { status: 'EXPIRED' } });
    expect(bodyRuns).toBe(before);
    expect(await executionsOf(request.request_id)).toEqual([]);
  });

  it('a timeout throws AirlockTimeoutError and an abort an AbortError; nothing runs, and the request stays pending', async () => {
    const before = bodyRuns;
    const timed = filed();
    const slow = agent.gate(body(() => 'ran'), { environment: 'dev', timeoutMs: 300, describe: () => ({ argv: ['kill', '-0', '1'] }), onRequest: timed.onRequest });
    const timeout = await rejectionOf(slow());
    expect(timeout).toBeInstanceOf(AirlockTimeoutError);
    expect(await agent.requests.get((await timed.request).request_id)).toMatchObject({ status: 'PENDING' });

    // The signal of one call comes from describe (e.g. a framework's abortSignal argument).
    const aborted = filed();
    const controller = new AbortController();
    const cancellable = agent.gate(body(() => 'ran'), { environment: 'dev', describe: (signal: AbortSignal) => ({ argv: ['kill', '-0', '1'], signal }), onRequest: aborted.onRequest });
    const outcome = rejectionOf(cancellable(controller.signal));
    const request = await aborted.request;
    controller.abort();
    expect(await outcome).toMatchObject({ name: 'AbortError' });
    // Approved after the caller gave up: still nothing runs, since nobody asks for the token.
    await approver.requests.approve(request.request_id);
    expect(await agent.requests.get(request.request_id)).toMatchObject({ status: 'APPROVED', minted_at: null });
    expect(bodyRuns).toBe(before);
  });

  it('a long-lived signal in the options keeps no listener of calls that ended', async () => {
    const lifetime = new AbortController();
    const echo = agent.gate((result) => result.stdout, { environment: 'dev', signal: lifetime.signal, describe: (word: string, call: AbortSignal) => ({ argv: ['echo', word], signal: call }) });
    for (const word of ['one', 'two', 'three']) expect(await echo(word, new AbortController().signal)).toBe(`${word}\n`);
    expect(getEventListeners(lifetime.signal, 'abort')).toHaveLength(0);
  });

  it('a command that runs and fails reaches fn, which decides what the tool returns', async () => {
    const read = agent.gate(body((result) => (result.success ? result.stdout : `failed with ${result.exit_code}: ${result.stderr.trim()}`)), {
      environment: 'dev',
      describe: (path: string) => ({ argv: ['cat', path] }),
    });
    expect(await read('/no/such/file')).toMatch(/^failed with 1: cat: \/no\/such\/file: No such file or directory$/);
  });

  it('a typed operation, with its defaults as the request states them', async () => {
    const info = agent.gate(body((result) => result.result as { hostname: string }), { environment: 'dev', describe: () => ({ op: { name: 'system.info' } }) });
    expect(await info()).toMatchObject({ hostname: expect.any(String) });
  });

  it('refused requests throw the server\'s typed error before anything runs', async () => {
    const before = bodyRuns;
    const nowhere = agent.gate(body(() => 'ran'), { environment: 'nowhere', describe: () => ({ command: 'echo hi' }) });
    const error = await rejectionOf(nowhere());
    expect(error).toBeInstanceOf(AirlockBadRequestError);
    expect(error).toMatchObject({ code: 'environment_not_allowed' });
    const shell = agent.gate(body(() => 'ran'), { environment: 'dev', describe: () => ({ command: 'echo hi | tee /tmp/x' }) });
    expect(await rejectionOf(shell())).toMatchObject({ status: 403, code: 'shell_not_allowed' });
    expect(() => agent.gate(body(() => 'ran'), { environment: 'dev' } as never)).toThrow(AirlockClientError);
    expect(bodyRuns).toBe(before);
  });
});
