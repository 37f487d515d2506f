import type { Command } from 'commander';
import type { JSONWebKeySet } from 'jose';
import { ApiClient } from './api.js';
import { withJson } from './json-doc.js';
import { wholeNumber } from './options.js';
import { print, printJson, statusColor } from './output.js';

interface SmokeFlags {
  url?: string;
  env: string;
  wait: number;
  requestKey?: string;
  readKey?: string;
  decideKey?: string;
  json?: boolean;
}

interface Outcome {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

/**
 * The reference production test suite (8 tests) against any Airlock: health, readiness, a request,
 * a token, an execution, replay protection, a forged token, and the execution's record with a receipt
 * that verifies against the published keys. Keys: $AIRLOCK_REQUEST_KEY, $AIRLOCK_READ_KEY,
 * $AIRLOCK_DECIDE_KEY, each defaulting to $AIRLOCK_API_KEY.
 */
export async function smoke(flags: SmokeFlags, env: NodeJS.ProcessEnv = process.env): Promise<Outcome[]> {
  const fallback = env.AIRLOCK_API_KEY;
  const keys = {
    request: flags.requestKey ?? env.AIRLOCK_REQUEST_KEY ?? fallback,
    read: flags.readKey ?? env.AIRLOCK_READ_KEY ?? fallback,
    decide: flags.decideKey ?? env.AIRLOCK_DECIDE_KEY ?? fallback,
  };
  const client = new ApiClient(flags.url ? { url: flags.url } : {}, env);
  const [{ REFERENCE_INSTRUCTION }, { verifyReceipt }] = await Promise.all([import('../approvals/instruction.js'), import('../gateway/receipts.js')]);
  const outcomes: Outcome[] = [];
  const state: { id?: string; token?: string; executionId?: string } = {};
  const step = async (name: string, run: () => Promise<string>): Promise<void> => {
    try {
      outcomes.push({ name, pass: true, detail: await run() });
    } catch (error) {
      outcomes.push({ name, pass: false, detail: (error as Error).message });
    }
  };
  const expect = (condition: boolean, message: string): void => {
    if (!condition) throw new Error(message);
  };
  const body = () => ({ command: 'echo test', approval_id: state.id, environment: flags.env });

  await step('Gateway health check', async () => {
    const health = await client.raw('GET', '/health', { key: null });
    expect(health.status === 200 && health.body?.status === 'healthy', `GET /health answered ${health.status}`);
    return `healthy, ${health.body.checks?.database?.dialect ?? 'store'} reachable`;
  });
  await step('API readiness check', async () => {
    const ready = await client.raw('GET', '/ready', { key: null });
    expect(ready.status === 200, `GET /ready answered ${ready.status}`);
    return 'ready';
  });
  await step('Request low-risk approval', async () => {
    const created = await client.raw('POST', '/approvals/request', {
      key: null,
      headers: { 'x-wingman-approval-request-key': keys.request ?? '' },
      body: { worker_id: 'airlock-smoke', task_name: 'Smoke - Echo Command', instruction: REFERENCE_INSTRUCTION, deployment_env: flags.env },
    });
    expect(created.status === 201, `answered ${created.status}: ${created.body?.detail ?? ''}`);
    state.id = created.body.request.request_id;
    if (created.body.request.status === 'APPROVED') return `auto-approved (${created.body.request.risk_level})`;
    // A human decides: long-poll instead of polling every 3 s.
    const deadline = Date.now() + flags.wait * 1000;
    let status = created.body.request.status as string;
    while (status === 'PENDING' && Date.now() < deadline) {
      const wait = Math.max(1, Math.min(30, Math.ceil((deadline - Date.now()) / 1000)));
      const polled = await client.raw('GET', `/approvals/${state.id}?wait=${wait}`, { key: null, headers: { 'x-wingman-approval-read-key': keys.read ?? '' } });
      status = polled.body?.request?.status ?? status;
    }
    expect(status === 'APPROVED', `request ${state.id} is ${status}`);
    return 'approved';
  });
  await step('Generate capability token', async () => {
    expect(state.id !== undefined, 'no approved request');
    const minted = await client.raw('POST', '/gateway/token', { key: null, headers: { 'x-wingman-approval-decide-key': keys.decide ?? '' }, body: body() });
    expect(minted.status === 200 && typeof minted.body?.token === 'string', `answered ${minted.status}: ${minted.body?.detail ?? ''}`);
    state.token = minted.body.token;
    return `expires ${minted.body.expires_at}`;
  });
  await step('Execute command via gateway', async () => {
    expect(state.token !== undefined, 'no token');
    const ran = await client.raw('POST', '/gateway/execute', { key: null, headers: { 'x-capability-token': state.token ?? '' }, body: body() });
    expect(ran.status === 200 && ran.body?.success === true && ran.body.output === 'test\n', `answered ${ran.status}: ${JSON.stringify(ran.body).slice(0, 200)}`);
    state.executionId = ran.body.execution_id;
    return `execution ${state.executionId}`;
  });
  await step('Token replay protection', async () => {
    const replay = await client.raw('POST', '/gateway/execute', { key: null, headers: { 'x-capability-token': state.token ?? '' }, body: body() });
    expect(replay.status === 409 && replay.body?.error === 'Token has already been used', `answered ${replay.status}: ${JSON.stringify(replay.body).slice(0, 200)}`);
    return 'replay blocked';
  });
  await step('Invalid token rejection', async () => {
    const forged = await client.raw('POST', '/gateway/execute', { key: null, headers: { 'x-capability-token': 'invalid.token.here' }, body: body() });
    expect(forged.status === 401 && forged.body?.success === false, `answered ${forged.status}`);
    return 'invalid token rejected';
  });
  await step('Audit log verification', async () => {
    expect(state.executionId !== undefined, 'no execution');
    const execution = await client.raw('GET', `/v1/executions/${state.executionId}`, { key: keys.read ?? null });
    expect(execution.status === 200 && execution.body?.execution?.status === 'succeeded', `answered ${execution.status}`);
    const jwks = await client.raw('GET', '/.well-known/jwks.json', { key: null });
    const receipt = await verifyReceipt(execution.body.execution.receipt, jwks.body as JSONWebKeySet);
    return `recorded, receipt verified at audit event ${receipt.audit_seq}`;
  });
  return outcomes;
}

export function registerSmoke(program: Command): void {
  withJson(program.command('smoke'), { shape: 'array', fields: ['name', 'pass', 'detail'] }, 'print the results as JSON')
    .description('run the reference 8-test production suite against a server; exits 1 on any failure')
    .option('--url <url>', 'the Airlock server (default: $AIRLOCK_URL, then http://127.0.0.1:5002)')
    .option('-e, --env <environment>', 'environment to request in', 'test')
    .option('--wait <seconds>', 'how long to wait for a human decision when the request is pending', wholeNumber(0), 60)
    .option('--request-key <key>', 'request key (default: $AIRLOCK_REQUEST_KEY, then $AIRLOCK_API_KEY)')
    .option('--read-key <key>', 'read key (default: $AIRLOCK_READ_KEY, then $AIRLOCK_API_KEY)')
    .option('--decide-key <key>', 'decide key (default: $AIRLOCK_DECIDE_KEY, then $AIRLOCK_API_KEY)')
    .addHelpText('after', '\nExamples:\n  AIRLOCK_API_KEY=alk_… airlock smoke --url http://127.0.0.1:5002\n  airlock smoke --env prd --wait 120')
    .action(async (flags: SmokeFlags) => {
      const outcomes = await smoke(flags);
      if (flags.json) printJson(outcomes);
      else {
        outcomes.forEach((outcome, index) => print(`Test ${index + 1}: ${outcome.name.padEnd(30)} ${statusColor(outcome.pass ? 'PASS' : 'FAIL')}  ${outcome.detail}`));
        const failed = outcomes.filter((outcome) => !outcome.pass).length;
        print(failed === 0 ? `ALL ${outcomes.length} TESTS PASSED` : `${failed} of ${outcomes.length} TESTS FAILED`);
      }
      process.exitCode = outcomes.every((outcome) => outcome.pass) ? 0 : 1;
    });
}
