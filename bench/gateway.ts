/**
 * Gateway benchmarks, each against a bare baseline measured in the same run:
 *   P1  POST /gateway/execute of /bin/true over keep-alive HTTP vs spawning /bin/true directly (p50, p99)
 *   P2  full flows (request auto-approved → mint → execute) per second vs a bare Fastify route that spawns /bin/true
 *   P3  approval requests per second (autocannon) vs a bare Fastify route doing one SQLite insert
 * Airlock runs as `airlock serve` (SQLite) in a child process; so does the baseline server.
 * Usage: npm run bench:gateway
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Pool } from 'undici';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('./baseline-server.mjs', import.meta.url));
const P1_RUNS = 400;
const P2_FLOWS = 300;
const P2_CONCURRENCY = 4;
const P3_SECONDS = 10;
const P3_CONNECTIONS = 10;

const work = mkdtempSync(join(tmpdir(), 'airlock-bench-gateway-'));
const children: ChildProcess[] = [];
// The rate limiter stays on (its cost is part of the figure) with a limit the benchmark never reaches.
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, AIRLOCK_API_RATE_LIMIT: '1000000' };

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Starts a process that prints its URL (pino's "airlock listening" line or the baseline's JSON). */
function startProcess(args: string[]): Promise<string> {
  const child = spawn(process.execPath, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
      if (url) resolve(url);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

async function initKey(): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'init'], { cwd: work, env });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => child.on('close', resolve));
  const key = /alk_\S+/.exec(out)?.[0];
  if (!key) throw new Error(`airlock init printed no key:\n${out}`);
  return key;
}

async function json(pool: Pool, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: unknown): Promise<any> {
  const response = await pool.request({ method, path, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const parsed = (await response.body.json()) as any;
  if (response.statusCode >= 300) throw new Error(`${method} ${path} → ${response.statusCode} ${JSON.stringify(parsed)}`);
  return parsed;
}

async function mint(pool: Pool, key: string, command: string): Promise<{ id: string; token: string }> {
  const auth = { authorization: `Bearer ${key}` };
  const { request } = await json(pool, 'POST', '/approvals/request', auth, { worker_id: 'bench', task_name: 'bench', command, deployment_env: 'dev' });
  const { token } = await json(pool, 'POST', '/gateway/token', auth, { approval_id: request.request_id, command, environment: 'dev' });
  return { id: request.request_id, token };
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

async function flowsPerSecond(count: number, concurrency: number, flow: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await flow();
    }),
  );
  return count / ((performance.now() - started) / 1000);
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
  for (const child of children) child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 300));
  rmSync(work, { recursive: true, force: true });
}
