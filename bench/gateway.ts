/**
 * Gateway benchmarks, each against a bare baseline measured in the same run:
 *   P1  POST /gateway/execute of /bin/true over keep-alive HTTP vs spawning /bin/true directly (p50, p99)
 *   P2  full flows (request auto-approved → mint → execute) per second vs a bare Fastify route that spawns /bin/true
 *   P3  approval requests per second (autocannon) vs a bare Fastify route doing one SQLite insert
 * Airlock runs as `airlock serve` (SQLite) in a child process; so does the baseline server.
 * Usage: npm run bench:gateway
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { CLI, benchWorkspace, flowsPerSecond, json, mint } from './lib.js';

const BASELINE = fileURLToPath(new URL('./baseline-server.mjs', import.meta.url));
const P1_RUNS = 400;
const P2_FLOWS = 300;
const P2_CONCURRENCY = 4;
const P3_SECONDS = 10;
const P3_CONNECTIONS = 10;

const bench = benchWorkspace('gateway');
const { startProcess, initKey, work } = bench;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', reject);
    child.on('close', () => resolve());
  });
}

async function timeEach(runs: number, task: (index: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await task(i);
    times.push(performance.now() - started);
  }
  return times;
}

/** A 2 s warm-up (JIT, caches), then the measured run. */
async function cannon(url: string, path: string, headers: Record<string, string>, body: string): Promise<autocannon.Result> {
  const options = { url: `${url}${path}`, method: 'POST' as const, headers: { 'content-type': 'application/json', ...headers }, body, connections: P3_CONNECTIONS };
  await autocannon({ ...options, duration: 2 });
  return autocannon({ ...options, duration: P3_SECONDS });
}

async function main(): Promise<void> {
  const key = await initKey();
  const airlockUrl = await startProcess([CLI, 'serve', '--port', '0']);
  const baselineUrl = await startProcess([BASELINE, join(work, 'baseline.db')]);
  const airlock = new Pool(airlockUrl, { connections: 8 });
  const baseline = new Pool(baselineUrl, { connections: 8 });
  const fmt = (n: number, digits = 2) => n.toFixed(digits);
  console.log(`airlock gateway benchmarks, node ${process.version}, SQLite store, airlock at ${airlockUrl}\n`);

  // P1: one token per execute, minted beforehand; executes one at a time over a kept-alive connection.
  for (let i = 0; i < 30; i++) await spawnTrue();
  const tokens: Array<{ id: string; token: string }> = [];
  for (let i = 0; i < P1_RUNS + 20; i++) tokens.push(await mint(airlock, key, '/bin/true'));
  const execute = (minted: { id: string; token: string }) =>
    json(airlock, 'POST', '/gateway/execute', { 'x-capability-token': minted.token }, { command: '/bin/true', approval_id: minted.id, environment: 'dev' });
  for (const minted of tokens.slice(0, 20)) await execute(minted); // warm-up
  const viaGateway = await timeEach(P1_RUNS, (i) => execute(tokens[20 + i] as { id: string; token: string }));
  const direct = await timeEach(P1_RUNS, () => spawnTrue());
  const p50 = percentile(viaGateway, 50) / percentile(direct, 50);
  const p99 = percentile(viaGateway, 99) / percentile(direct, 99);
  console.log('P1  POST /gateway/execute of /bin/true vs spawning /bin/true directly');
  console.log(`    p50 ${fmt(percentile(viaGateway, 50))} ms vs ${fmt(percentile(direct, 50))} ms  ratio ${fmt(p50)}  (goal <= 1.3)`);
  console.log(`    p99 ${fmt(percentile(viaGateway, 99))} ms vs ${fmt(percentile(direct, 99))} ms  ratio ${fmt(p99)}\n`);

  // P2: whole flows against a bare route that only spawns.
  const auth = { authorization: `Bearer ${key}` };
  const fullFlow = async () => {
    const minted = await mint(airlock, key, '/bin/true');
    await execute(minted);
  };
  await flowsPerSecond(40, P2_CONCURRENCY, fullFlow);
  const flows = await flowsPerSecond(P2_FLOWS, P2_CONCURRENCY, fullFlow);
  await flowsPerSecond(40, P2_CONCURRENCY, () => json(baseline, 'POST', '/run', {}, {}));
  const bare = await flowsPerSecond(P2_FLOWS, P2_CONCURRENCY, () => json(baseline, 'POST', '/run', {}, {}));
  console.log(`P2  full flows (request → mint → execute), ${P2_CONCURRENCY} clients`);
  console.log(`    ${fmt(flows, 1)} flows/s vs ${fmt(bare, 1)} bare spawns/s  ratio ${fmt((flows / bare) * 100, 0)} %  (goal >= 70 %)\n`);

  // P3: approval requests under load.
  const requestBody = JSON.stringify({ worker_id: 'bench', task_name: 'bench', command: 'echo test', deployment_env: 'dev' });
  const requests = await cannon(airlockUrl, '/approvals/request', auth, requestBody);
  const inserts = await cannon(baselineUrl, '/insert', {}, requestBody);
  if (requests.non2xx > 0) throw new Error(`${requests.non2xx} approval requests failed`);
  console.log(`P3  approval requests (autocannon, ${P3_CONNECTIONS} connections, ${P3_SECONDS} s)`);
  console.log(`    ${fmt(requests.requests.average, 0)} req/s vs ${fmt(inserts.requests.average, 0)} bare inserts/s  ratio ${fmt((requests.requests.average / inserts.requests.average) * 100, 0)} %  (goal >= 60 %)`);
  console.log(`    latency p50 ${requests.latency.p50} ms, p99 ${requests.latency.p99} ms (goal p99 < 10 ms); bare p99 ${inserts.latency.p99} ms`);
  await airlock.close();
  await baseline.close();
}

try {
  await main();
} finally {
  await bench.close();
}
