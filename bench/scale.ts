/**
 * Scale-out benchmark on PostgreSQL, each figure as a ratio to a baseline measured in the same run:
 *   S1  full flows per second (request auto-approved LOW → mint → execute `true`) from a fixed number of
 *       clients, with 2 API processes and 1, 2 or 4 gateway processes; baseline: 1 gateway.
 *       The configurations run twice, in the order 1 2 4 4 2 1, so a drift of the shared machine
 *       weighs on each alike; the figure is the mean of the two.
 *   S2  audit appends per second, one event per transaction, from 4 writer processes vs 1 writer;
 *       beside it the same rows INSERTed into a plain table (no chain, no head lock), 1 and 4 writers.
 * CPU is sampled from /proc for every process (grouped: API, gateways with what they fork, PostgreSQL,
 * this client, everything else on the machine) to show where the time goes.
 * Creates a database of its own on the server of AIRLOCK_TEST_DATABASE_URL (or the URL given) and drops it.
 * Usage: npm run bench:scale [-- postgres://user@host:5432/db]
 *   (AIRLOCK_BENCH_FLOWS and AIRLOCK_BENCH_WRITER_SECONDS shorten a trial run: 300 flows, 8 s by default)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { CLI, benchWorkspace, json, percentile } from './lib.js';

const API_PROCESSES = 2;
const GATEWAY_COUNTS = [1, 2, 4];
const CLIENTS = 16;
const WARMUP_FLOWS = 30;
const FLOWS = Number(process.env.AIRLOCK_BENCH_FLOWS ?? 300);
const WRITER_SECONDS = Number(process.env.AIRLOCK_BENCH_WRITER_SECONDS ?? 8);
const TICKS_PER_SECOND = 100; // USER_HZ of /proc on Linux
const WRITER = fileURLToPath(new URL('./audit-writer.mjs', import.meta.url));

const adminUrl = process.argv[2] ?? process.env.AIRLOCK_TEST_DATABASE_URL;
if (!adminUrl) {
  console.error('give a PostgreSQL URL (npm run bench:scale -- postgres://…) or set AIRLOCK_TEST_DATABASE_URL');
  process.exit(2);
}
const databaseName = `airlock_bench_${randomBytes(5).toString('hex')}`;
const databaseUrl = (() => {
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName}`;
  return url.toString();
})();

const bench = benchWorkspace('scale');
const work = bench.work;
const auditKeyFile = join(work, 'audit-ed25519.pem');
const targetsFile = join(work, 'targets.yaml');
const common: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: work,
  AIRLOCK_DATABASE_URL: databaseUrl,
  AIRLOCK_DATA_DIR: join(work, 'data'),
  AIRLOCK_AUDIT_KEY_FILE: auditKeyFile,
  AIRLOCK_TARGETS_FILE: targetsFile,
  AIRLOCK_SECRET_KEY: randomBytes(24).toString('base64url'),
  AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: 'Tangerine-Lighthouse-Quarry-93!',
  AIRLOCK_DATABASE_POOL_SIZE: '8',
  // The limiter stays on, counting in Redis as a multi-instance deployment does, at a limit never reached.
  AIRLOCK_API_RATE_LIMIT: '1000000',
  AIRLOCK_REDIS_URL: 'redis://127.0.0.1:6379',
  AIRLOCK_REDIS_KEY_PREFIX: `airlock-bench:${randomBytes(6).toString('hex')}:`,
};
const apiKeysDir = join(work, 'api-keys');

interface Server {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
}
const servers: Server[] = [];

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `airlock serve` in a process group of its own (so its CPU, forks included, can be told apart). */
function serve(name: string, role: 'api' | 'gateway', env: Record<string, string>, port = 0): Promise<Server> {
  const child = spawn(process.execPath, [CLI, 'serve', '--role', role, '--instance-id', name, '--port', String(port)], {
    cwd: work,
    env: { ...common, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const url = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"airlock listening"/.exec(out)?.[1];
      if (!url) return;
      child.stdout?.off('data', onData);
      child.stdout?.resume(); // keep draining its log lines
      const server = { name, url, child };
      servers.push(server);
      resolve(server);
    };
    child.stdout?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${name} exited ${code}: ${out}`)));
  });
}

async function stopServers(): Promise<void> {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          if (server.child.exitCode !== null) return resolve();
          server.child.once('exit', () => resolve());
          try {
            process.kill(-(server.child.pid as number), 'SIGTERM');
          } catch {
            resolve();
          }
        }),
    ),
  );
}

// ---- CPU accounting from /proc ----------------------------------------------------------------

/** CPU ticks of every process (own + reaped children, so a gateway's forked commands count to it), by pid. */
interface CpuSample {
  /** Busy and total ticks of the whole machine (/proc/stat). */
  readonly busy: number;
  readonly total: number;
  readonly processes: Map<number, { ticks: number; category: string }>;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/**
 * Where each process belongs: one of our process groups (by `categoryOfGroup`), this client, a PostgreSQL
 * backend of the benchmark's database, PostgreSQL's shared processes (WAL writer, checkpointer, postmaster),
 * or `other` (everything else on the machine, other databases' backends included).
 */
async function sampleCpu(categoryOfGroup: (pgid: number) => string | undefined, sql: pg.Client): Promise<CpuSample> {
  const backends = new Map((await sql.query<{ pid: number; datname: string | null }>('select pid, datname from pg_stat_activity')).rows.map((row) => [row.pid, row.datname]));
  const processes = new Map<number, { ticks: number; category: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const pid = Number(entry);
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    let category = pid === process.pid ? 'client' : categoryOfGroup(Number(fields[2]));
    if (!category && comm === 'postgres') {
      const database = backends.get(pid);
      category = database === databaseName ? 'postgres' : database ? 'other' : 'pg shared';
    }
    processes.set(pid, { ticks, category: category ?? 'other' });
  }
  return { ...machineTicks(), processes };
}

interface CpuUse {
  readonly seconds: number;
  /** Share of all cores busy over the interval. */
  readonly utilisation: number;
  /** CPU seconds by category; `other` also takes what processes that ended in between had used. */
  readonly bySeconds: Map<string, number>;
}

function cpuBetween(before: CpuSample, after: CpuSample, seconds: number): CpuUse {
  const bySeconds = new Map<string, number>();
  let known = 0;
  for (const [pid, { ticks, category }] of after.processes) {
    const used = Math.max(0, ticks - (before.processes.get(pid)?.ticks ?? 0)) / TICKS_PER_SECOND;
    if (category === 'other') continue;
    bySeconds.set(category, (bySeconds.get(category) ?? 0) + used);
    known += used;
  }
  const busy = (after.busy - before.busy) / TICKS_PER_SECOND;
  bySeconds.set('other', Math.max(0, busy - known));
  return { seconds, utilisation: (after.busy - before.busy) / Math.max(1, after.total - before.total), bySeconds };
}

// ---- S1: full flows ---------------------------------------------------------------------------

/** A connection to the benchmark's database: which PostgreSQL backends are ours. */
let monitor: pg.Client | undefined;
const sample = (categoryOfGroup: (pgid: number) => string | undefined) => sampleCpu(categoryOfGroup, monitor as pg.Client);

interface FlowRun {
  readonly gateways: number;
  readonly flowsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpu: CpuUse;
}

async function runFlows(key: string, apiPools: Pool[], gatewayPools: Pool[], count: number, categoryOfGroup: (pgid: number) => string | undefined): Promise<Omit<FlowRun, 'gateways'>> {
  const auth = { authorization: `Bearer ${key}` };
  const command = 'true';
  const durations: number[] = [];
  let next = 0;
  const flow = async (n: number) => {
    const started = performance.now();
    const { request } = await json(apiPools[n % apiPools.length] as Pool, 'POST', '/v1/approvals', auth, { command, target: 'box', deployment_env: 'dev', worker_id: 'bench', task_name: 'scale' });
    if (request.status !== 'APPROVED') throw new Error(`request ${request.request_id} is ${request.status}`);
    const body = { approval_id: request.request_id, command, environment: 'dev' };
    const { token } = await json(apiPools[(n + 1) % apiPools.length] as Pool, 'POST', '/v1/tokens', auth, body);
    const ran = await json(gatewayPools[n % gatewayPools.length] as Pool, 'POST', '/v1/execute', { 'x-capability-token': token }, body);
    if (ran.exit_code !== 0) throw new Error(`execution ${ran.execution_id} ended ${ran.status}`);
    durations.push(performance.now() - started);
  };
  const before = await sample(categoryOfGroup);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < count) await flow(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuBetween(before, await sample(categoryOfGroup), seconds);
  return { flowsPerSecond: count / seconds, p50: percentile(durations, 50), p99: percentile(durations, 99), cpu };
}

// ---- S2: concurrent appenders -----------------------------------------------------------------

async function runWriters(mode: 'chain' | 'bare', writers: number): Promise<{ perSecond: number; cpu: CpuUse }> {
  const children = Array.from({ length: writers }, (_, i) =>
    spawn(process.execPath, [WRITER, mode, databaseUrl, auditKeyFile, `${mode}-${writers}-${i}`, String(WRITER_SECONDS)], {
      cwd: work,
      env: { PATH: common.PATH, HOME: work },
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
    }),
  );
  const lines = children.map((child) => {
    let out = '';
    const waiters: Array<() => void> = [];
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      for (const waiter of waiters.splice(0)) waiter();
    });
    /** Resolves with the output's line number `index` once it is there. */
    const line = (index: number) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const all = out.split('\n');
          if (all.length > index + 1) resolve(all[index] as string);
          else waiters.push(check);
        };
        child.once('exit', (code) => reject(new Error(`writer exited ${code}: ${out}`)));
        check();
      });
    return line;
  });
  await Promise.all(lines.map((line) => line(0))); // "ready"
  const pgids = new Set(children.map((child) => child.pid as number));
  const categoryOfGroup = (pgid: number) => (pgids.has(pgid) ? 'writers' : undefined);
  const before = await sample(categoryOfGroup);
  const started = performance.now();
  for (const child of children) child.stdin?.write('go\n');
  const results = (await Promise.all(lines.map((line) => line(1)))).map((text) => JSON.parse(text) as { count: number; ms: number });
  const seconds = (performance.now() - started) / 1000;
  // Sampled while the writers still live (they wait for their stdin to end), so their CPU is theirs.
  const cpu = cpuBetween(before, await sample(categoryOfGroup), seconds);
  await Promise.all(children.map((child) => new Promise((resolve) => (child.once('close', resolve), child.stdin?.end()))));
  const total = results.reduce((sum, result) => sum + result.count, 0);
  // Each writer appended for the same span; the rate is the sum over that span.
  const span = Math.max(...results.map((result) => result.ms)) / 1000;
  return { perSecond: total / span, cpu };
}

// ---- report -----------------------------------------------------------------------------------

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const perUnit = (cpu: CpuUse, units: number, category: string) => ((cpu.bySeconds.get(category) ?? 0) * 1000) / units;

async function main(): Promise<void> {
  await admin(`create database ${databaseName}`);
  monitor = new pg.Client({ connectionString: databaseUrl });
  await monitor.connect();
  writeFileSync(auditKeyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(targetsFile, 'targets:\n  box:\n    executor: local\n    environments: [dev]\n    capabilities: [exec]\n    constraints:\n      concurrency: 256\n');
  const cores = cpus().length;
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`airlock scale benchmark, node ${process.version}, ${cores} cores (${cpus()[0]?.model ?? 'unknown'}), load average before: ${load()}`);
  console.log(`PostgreSQL database ${databaseName}; ${API_PROCESSES} API processes, ${CLIENTS} clients, ${FLOWS} flows per measurement\n`);

  // The API processes (sharing one keys folder) and four gateways trusting the first API's JWKS, all at once.
  const jwksPort = await freePort();
  const gatewayEnv = { AIRLOCK_JWKS_URL: `http://127.0.0.1:${jwksPort}/.well-known/jwks.json` };
  const started = await Promise.all([
    ...Array.from({ length: API_PROCESSES }, (_, i) => serve(`api-${i + 1}`, 'api', { AIRLOCK_KEYS_DIR: apiKeysDir }, i === 0 ? jwksPort : 0)),
    ...Array.from({ length: Math.max(...GATEWAY_COUNTS) }, (_, i) => serve(`gw-${i + 1}`, 'gateway', { ...gatewayEnv, AIRLOCK_KEYS_DIR: join(work, `gw-${i + 1}-keys`) })),
  ]);
  const apis = started.slice(0, API_PROCESSES);
  const gateways = started.slice(API_PROCESSES);
  const created = await runCliJson(['keys', 'create', '--name', 'bench', '--scope', 'approvals:request,approvals:read,gateway:execute', '--json']);
  const key = created.key as string;

  const groupOf = new Map(started.map((server) => [server.child.pid as number, server.name.startsWith('api') ? 'api' : 'gateways']));
  const categoryOfGroup = (pgid: number) => groupOf.get(pgid);
  const apiPools = apis.map((server) => new Pool(server.url, { connections: CLIENTS }));
  const gatewayPools = gateways.map((server) => new Pool(server.url, { connections: CLIENTS }));

  // Warm-up on every gateway (JIT, the JWKS fetch, connection pools).
  await runFlows(key, apiPools, gatewayPools, WARMUP_FLOWS, categoryOfGroup);
  const runs: FlowRun[] = [];
  for (const count of [...GATEWAY_COUNTS, ...[...GATEWAY_COUNTS].reverse()]) {
    const run = await runFlows(key, apiPools, gatewayPools.slice(0, count), FLOWS, categoryOfGroup);
    runs.push({ gateways: count, ...run });
    console.log(`  run: ${count} gateway(s) ${fmt(run.flowsPerSecond)} flows/s, p50 ${fmt(run.p50, 0)} ms, machine ${fmt(run.cpu.utilisation * 100, 0)} % busy, other processes ${fmt(perUnit(run.cpu, FLOWS, 'other'), 0)} ms per flow`);
  }
  for (const pool of [...apiPools, ...gatewayPools]) await pool.close();
  await stopServers();

  const ours = ['api', 'gateways', 'postgres', 'pg shared', 'client'];
  const categories = [...ours, 'other'];
  const byCount = GATEWAY_COUNTS.map((count) => {
    const of = runs.filter((run) => run.gateways === count);
    const perFlow = new Map(categories.map((category) => [category, mean(of.map((run) => perUnit(run.cpu, FLOWS, category)))]));
    return { count, flows: mean(of.map((run) => run.flowsPerSecond)), p50: mean(of.map((run) => run.p50)), p99: mean(of.map((run) => run.p99)), busy: mean(of.map((run) => run.cpu.utilisation)), perFlow };
  });
  const baseline = byCount[0]?.flows ?? 1;
  console.log(`\nS1  full flows (request → auto-approve → mint → execute \`true\`), ${API_PROCESSES} API processes, ${CLIENTS} clients; baseline 1 gateway (mean of 2 runs each)`);
  console.log(`    ${'gateways'.padEnd(9)}${'flows/s'.padStart(9)}${'ratio'.padStart(8)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'busy'.padStart(7)}   cpu ms per flow: ${categories.join(' / ')}  (ours)`);
  for (const row of byCount) {
    const cpu = categories.map((category) => fmt(row.perFlow.get(category) ?? 0, 1)).join(' / ');
    const own = ours.reduce((sum, category) => sum + (row.perFlow.get(category) ?? 0), 0);
    console.log(`    ${String(row.count).padEnd(9)}${fmt(row.flows).padStart(9)}${fmt(row.flows / baseline, 2).padStart(8)}${fmt(row.p50, 0).padStart(8)}${fmt(row.p99, 0).padStart(8)}${`${fmt(row.busy * 100, 0)} %`.padStart(7)}   ${cpu}  (${fmt(own, 1)})`);
  }
  const ownPerFlow = mean(byCount.map((row) => ours.reduce((sum, category) => sum + (row.perFlow.get(category) ?? 0), 0)));
  console.log(`    Airlock's own processes (API, gateways and their forks, its PostgreSQL backends, the client) use ${fmt(ownPerFlow)} ms of CPU per flow:`);
  console.log(`    with the ${cores} cores to itself that is at most ${fmt((cores * 1000) / ownPerFlow)} flows/s, whatever the number of gateways`);

  // S2: appenders, the chain and a bare table, 1 then 4 writers.
  await (monitor as pg.Client).query('create table bench_bare (seq bigserial primary key, time text not null, actor text not null, action text not null, subject_id text, data text not null)');
  const appends: Array<{ mode: 'chain' | 'bare'; writers: number; perSecond: number; cpu: CpuUse }> = [];
  for (const mode of ['chain', 'bare'] as const) {
    for (const writers of [1, 4]) appends.push({ mode, writers, ...(await runWriters(mode, writers)) });
  }
  console.log(`\nS2  appends, one event per transaction, ${WRITER_SECONDS} s each; baseline 1 writer`);
  console.log(`    ${'what'.padEnd(44)}${'appends/s'.padStart(10)}${'ratio'.padStart(8)}${'busy'.padStart(7)}   cpu ms per append: writers / postgres / pg shared / other`);
  for (const mode of ['chain', 'bare'] as const) {
    const single = appends.find((row) => row.mode === mode && row.writers === 1)?.perSecond ?? 1;
    for (const row of appends.filter((entry) => entry.mode === mode)) {
      const total = row.perSecond * row.cpu.seconds;
      const cpu = ['writers', 'postgres', 'pg shared', 'other'].map((category) => fmt(perUnit(row.cpu, total, category), 2)).join(' / ');
      const what = mode === 'chain' ? `audit chain (AuditLog.record), ${row.writers} writer(s)` : `bare INSERT into a plain table, ${row.writers} writer(s)`;
      console.log(`    ${what.padEnd(44)}${fmt(row.perSecond, 0).padStart(10)}${fmt(row.perSecond / single, 2).padStart(8)}${`${fmt(row.cpu.utilisation * 100, 0)} %`.padStart(7)}   ${cpu}`);
    }
  }
  const chain = (writers: number) => appends.find((row) => row.mode === 'chain' && row.writers === writers)?.perSecond ?? 0;
  const bare = (writers: number) => appends.find((row) => row.mode === 'bare' && row.writers === writers)?.perSecond ?? 1;
  console.log(`    chain vs bare: 1 writer ${fmt(chain(1) / bare(1), 2)}, 4 writers ${fmt(chain(4) / bare(4), 2)}; one chained append takes ${fmt(1000 / chain(1), 1)} ms end to end with 1 writer, most of it holding the head row (from the lock to the commit)`);
  console.log(`\nload average after: ${load()}`);
}

async function runCliJson(args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...common, AIRLOCK_KEYS_DIR: apiKeysDir } });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`airlock ${args.join(' ')} exited ${code}: ${err}`);
  return JSON.parse(out) as Record<string, unknown>;
}

try {
  await main();
} finally {
  await stopServers();
  await monitor?.end().catch(() => undefined);
  await bench.close();
  await admin(`drop database if exists ${databaseName} with (force)`).catch((error: unknown) => console.error(`could not drop ${databaseName}: ${String(error)}`));
}
