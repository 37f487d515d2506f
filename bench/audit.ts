/**
 * Audit chain benchmark: appends 1,000,000 events to SQLite, then times `airlock audit verify`.
 * Each figure is printed beside a bare baseline measured in the same run on the same machine:
 *   append: Airlock's chained append vs plain INSERTs of the same rows with better-sqlite3;
 *   verify: Airlock's full verification vs a bare scan of the same table.
 * Usage: npm run bench:audit [-- EVENTS]   (default 1,000,000)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { loadPublicKeys, verifyChain, type AuditEventInput } from '../src/audit/index.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/http/logger.js';
import { openRuntime } from '../src/runtime.js';

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const BATCH = 1000;
const SINGLE = 20_000;
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

const workDir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
const rate = (count: number, ms: number): number => Math.round(count / (ms / 1000));
const fmt = (n: number): string => n.toLocaleString('en');

function event(index: number): AuditEventInput {
  return {
    actor: `key:agent-${index % 7}`,
    action: 'approval.requested',
    subject: { type: 'approval', id: `apr_${index}` },
    environment: 'prd',
    target: 'web-1',
    data: { command: ['systemctl', 'status', 'nginx'], risk: 'LOW', index },
  };
}

/** The same rows written with no chain: prepared INSERTs in transactions of the same size. */
function baselineAppend(count: number, batch: number): number {
  const db = new SQLite(join(workDir, `baseline-${batch}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`create table events (seq integer primary key, id text, time text, actor text, action text, subject_type text,
    subject_id text, environment text, target text, data text, prev_hash text, hash text)`);
  const insert = db.prepare('insert into events values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const write = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const e = event(i);
      insert.run(i + 1, `id-${i}`, new Date().toISOString(), e.actor, e.action, e.subject?.type, e.subject?.id, e.environment, e.target, JSON.stringify(e.data), '', '');
    }
  });
  const started = performance.now();
  for (let from = 0; from < count; from += batch) write(from, Math.min(count, from + batch));
  const ms = performance.now() - started;
  db.close();
  return ms;
}

function baselineScan(file: string): { ms: number; rows: number } {
  const db = new SQLite(file, { readonly: true });
  const started = performance.now();
  let rows = 0;
  for (const _row of db.prepare('select * from audit_events order by seq').iterate()) rows++;
  const ms = performance.now() - started;
  db.close();
  return { ms, rows };
}

async function main(): Promise<void> {
  console.log(`airlock audit benchmark: ${fmt(EVENTS)} events, SQLite, node ${process.version}\n`);
  const result = loadConfig({ flags: { dataDir: join(workDir, 'data') }, env: {}, cwd: workDir });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  const config = result.config;
  const runtime = await openRuntime(config, createLogger('silent'));

  // Single-event transactions: what each request pays.
  const singleBase = baselineAppend(SINGLE, 1);
  let started = performance.now();
  for (let i = 0; i < SINGLE; i++) await runtime.audit.record(event(i));
  const singleMs = performance.now() - started;

  // Bulk: the rest of the million in transactions of BATCH events.
  const bulkCount = EVENTS - SINGLE;
  const bulkBase = baselineAppend(bulkCount, BATCH);
  started = performance.now();
  for (let from = 0; from < bulkCount; from += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, bulkCount - from) }, (_, k) => event(SINGLE + from + k));
    await runtime.audit.record(batch);
  }
  const bulkMs = performance.now() - started;

  const keys = loadPublicKeys([config.paths.auditPublicKeyFile]);
  const report = await verifyChain(runtime.store, keys);
  await runtime.close();
  if (!report.ok) throw new Error(`verification failed: ${JSON.stringify(report.problem)}`);

  const scan = baselineScan(config.store.dialect === 'sqlite' ? config.store.file : '');
  started = performance.now();
  const cli = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--data-dir', config.paths.base], { encoding: 'utf8' });
  const cliMs = performance.now() - started;
  if (cli.status !== 0) throw new Error(`airlock audit verify failed:\n${cli.stdout}${cli.stderr}`);
  const cliThreads = /(\d+) threads/.exec(cli.stdout)?.[1] ?? '1';

  const rows: Array<[string, number, number]> = [
    [`append, 1 event per transaction (${fmt(SINGLE)})`, rate(SINGLE, singleMs), rate(SINGLE, singleBase)],
    [`append, ${BATCH} events per transaction (${fmt(bulkCount)})`, rate(bulkCount, bulkMs), rate(bulkCount, bulkBase)],
    [`verify in process, 1 thread (${fmt(report.count)})`, rate(report.count, report.durationMs), rate(scan.rows, scan.ms)],
    [`\`airlock audit verify\` command, whole process, ${cliThreads} thread(s)`, rate(report.count, cliMs), rate(scan.rows, scan.ms)],
  ];
  console.log('figure'.padEnd(58), 'airlock ev/s'.padStart(14), 'baseline ev/s'.padStart(14), 'ratio'.padStart(7));
  for (const [name, value, base] of rows) {
    console.log(name.padEnd(58), fmt(value).padStart(14), fmt(base).padStart(14), (value / base).toFixed(2).padStart(7));
  }
  console.log(`\nbaselines: plain better-sqlite3 INSERTs of the same rows in the same transaction sizes; a bare SELECT * scan of the chain`);
  console.log(`verify: ${fmt(report.count)} events, ${report.checkpoints} checkpoints, in-process ${(report.durationMs / 1000).toFixed(2)} s, command ${(cliMs / 1000).toFixed(2)} s`);
  console.log(`goal: verify >= 200,000 events/s -> ${rate(report.count, cliMs) >= 200_000 ? 'met' : 'NOT met'} (command, whole process)`);
  console.log(`\`airlock audit verify\` printed:\n${cli.stdout.trim()}`);
}

try {
  await main();
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
