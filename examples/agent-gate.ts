/**
 * Two agent tools behind Airlock's gate, run against a local server:
 *
 *   npm start                                              # terminal 1: the server on 127.0.0.1:5002
 *   export AIRLOCK_API_KEY=$(npx airlock keys create --name agent \
 *     --scope approvals:request,approvals:read,gateway:execute --json | jq -r .key)
 *   npx tsx examples/agent-gate.ts .                       # LOW: approved by policy, runs at once
 *   npx tsx examples/agent-gate.ts . --signal 1            # MEDIUM: waits until someone approves at /app
 *
 * Each call of a gated tool files a request, waits for the decision, mints the single-use capability
 * token and runs the command through the gateway; the function given to gate() only ever sees the
 * result of an approved execution.
 */
import { AirlockClient, AirlockExpiredError, AirlockRejectedError, AirlockTimeoutError, type ApprovalView } from 'airlock/client';

const airlock = new AirlockClient({
  url: process.env.AIRLOCK_URL ?? 'http://127.0.0.1:5002',
  apiKey: process.env.AIRLOCK_API_KEY,
  workerId: 'example-agent',
});

function announce(request: ApprovalView): void {
  if (request.status === 'PENDING') {
    process.stderr.write(`request ${request.request_id} is ${request.risk_level}: waiting for a decision (approve it at ${airlock.url}/app)\n`);
  }
}

/** LOW risk (a read-only program): the policy approves it at once. */
const diskUsage = airlock.gate((result, path) => ({ path, usage: result.stdout.trim(), exitCode: result.exit_code }), {
  environment: 'dev',
  // argv, not a string: whatever the path holds (spaces, quotes, $), it stays one argument.
  describe: (path: string) => ({ argv: ['du', '-sh', path], task_name: `disk usage of ${path}` }),
  onRequest: announce,
});

/** MEDIUM risk (signals a process): a person decides. */
const signalProcess = airlock.gate((result, pid) => (result.success ? `process ${pid} is alive` : `kill -0 ${pid} failed: ${result.stderr.trim()}`), {
  environment: 'dev',
  describe: (pid: number) => ({ argv: ['kill', '-0', String(pid)], task_name: `check that process ${pid} is alive` }),
  onRequest: announce,
  timeoutMs: 10 * 60_000,
});

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--signal');
  const pid = at >= 0 ? Number(args.splice(at, 2)[1]) : undefined;
  console.log(JSON.stringify(await diskUsage(args[0] ?? '.')));
  if (pid !== undefined) {
    try {
      console.log(await signalProcess(pid));
    } catch (error) {
      if (error instanceof AirlockRejectedError) {
        console.log(`not allowed: ${error.reason ?? 'no reason given'}`);
        return 3;
      }
      if (error instanceof AirlockTimeoutError || error instanceof AirlockExpiredError) {
        console.log(`nobody decided: ${error.message}`);
        return 4;
      }
      throw error;
    }
  }
  return 0;
}

process.exitCode = await main();
