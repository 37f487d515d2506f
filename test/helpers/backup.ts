import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { BACKUP_TABLES } from '../../src/backup/index.js';
import { openStore } from '../../src/store/index.js';
import { cleanEnv } from './cli.js';
import { createLogger } from '../../src/http/logger.js';
import { openRuntime } from '../../src/runtime.js';
import { events } from './audit.js';
import { createDatabase, type StoreKind, type TestDatabase } from './databases.js';
import { testConfig } from './server.js';
import { approvedToken, execute, type startGate } from './gate.js';
import { bearer, http } from './http.js';
import { login } from './identity.js';

const APPENDER = fileURLToPath(new URL('../fixtures/append-until-stopped.mjs', import.meta.url));

/** A process appending to the chain until stopped: wait for it to have appended n events, then stop it. */
export function startAppender(dataDir: string, databaseUrl: string) {
  const child = spawn(process.execPath, [APPENDER, dataDir, databaseUrl, 'appender'], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let count = 0;
  let output = '';
  let stderr = '';
  const waiting = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const numbers = output.trim().split('\n').filter((line) => /^\d+$/.test(line));
    count = Number(numbers.at(-1) ?? count);
    for (const check of waiting) check();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  void exited.then(() => {
    for (const check of waiting) check();
  });
  return {
    /** Resolves once the appender has appended at least `n` events in all. */
    appended(n: number): Promise<number> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (count >= n) {
            waiting.delete(check);
            resolve(count);
          } else if (child.exitCode !== null) {
            waiting.delete(check);
            reject(new Error(`the appender ended after ${count} events: ${stderr}`));
          }
        };
        waiting.add(check);
        check();
      });
    },
    get count() {
      return count;
    },
    /** Closes its input; resolves with the number of events it appended. */
    async stop(): Promise<number> {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`the appender failed (${code}): ${stderr}`);
      const stopped = /stopped (\d+)/.exec(output);
      return Number(stopped?.[1]);
    },
  };
}

/** Real data through the API: a session, an executed request, a rejected one, checkpoints. */
export async function populate(gate: Awaited<ReturnType<typeof startGate>>): Promise<void> {
  await login(gate.url, { username: gate.person.username, password: gate.person.password, code: () => gate.person.code() });
  const approved = await approvedToken(gate, 'echo backed up');
  const ran = await execute(gate.url, approved.token, { command: approved.command, approval_id: approved.id, environment: approved.environment });
  if (ran.status !== 200) throw new Error(`execute failed: ${ran.text}`);
  const pending = await gate.request({ command: 'systemctl restart nginx', deployment_env: 'dev' });
  if (pending.body?.request?.status !== 'PENDING') throw new Error(`expected a pending request: ${pending.text}`);
  if (pending.status !== 201) throw new Error(`request failed: ${pending.text}`);
  const rejected = await gate.decide(pending.body.request.request_id as string, 'reject', gate.approver, 'not during business hours');
  if (rejected.status !== 200) throw new Error(`reject failed: ${rejected.text}`);
  const added = await http('POST', `${gate.url}/v1/users`, { headers: bearer(gate.admin), json: { username: 'carol', role: 'auditor', password: 'Auditor-Password-Long-Enough-1' } });
  if (added.status !== 201) throw new Error(`adding a user failed: ${added.text}`);
  await gate.server.runtime.audit.checkpoint();
}

/** Rows per table, straight from a database. */
export async function tableCounts(database: TestDatabase): Promise<Record<string, number>> {
  const store = await openStore(database.target);
  try {
    const counts: Record<string, number> = {};
    for (const table of BACKUP_TABLES) {
      const row = await store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('count')).executeTakeFirstOrThrow();
      counts[table] = Number(row.count);
    }
    return counts;
  } finally {
    await store.close();
  }
}

/** Every row of a table in a stable order (by its first column, then the whole row), for comparing databases. */
export async function tableRows(database: TestDatabase, table: (typeof BACKUP_TABLES)[number], where?: { seqAtMost: number }): Promise<unknown[]> {
  const store = await openStore(database.target);
  try {
    let query = store.db.selectFrom(table).selectAll();
    if (where && (table === 'audit_events' || table === 'audit_checkpoints')) query = query.where('seq' as never, '<=', where.seqAtMost as never);
    const rows = (await query.execute()) as Array<Record<string, unknown>>;
    return rows.map((row) => JSON.stringify(Object.fromEntries(Object.entries(row).sort(([a], [b]) => a.localeCompare(b))))).sort();
  } finally {
    await store.close();
  }
}

/** Whether nothing at all was written to a database: no SQLite file, or no table in PostgreSQL. */
export async function untouched(database: TestDatabase): Promise<boolean> {
  if (database.target.dialect === 'sqlite') return !existsSync(database.target.file);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query("select count(*)::int as count from information_schema.tables where table_schema = 'public'");
    return rows[0].count === 0;
  } finally {
    await client.end();
  }
}

/** The uncompressed lines of a backup file. */
export function backupLines(file: string): string[] {
  return gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter((line) => line !== '');
}

/** Rewrites a backup's lines; with `reseal` the end line's sha256 is recomputed, as a forger would. */
export function rewriteBackup(file: string, out: string, change: (lines: string[]) => string[], options: { reseal: boolean }): void {
  const lines = change(backupLines(file));
  if (options.reseal) {
    const body = lines.slice(0, -1).map((line) => `${line}\n`).join('');
    lines[lines.length - 1] = JSON.stringify({ type: 'end', sha256: createHash('sha256').update(body).digest('hex') });
  }
  writeFileSync(out, gzipSync(`${lines.join('\n')}\n`), { mode: 0o600 });
}

/** A store with some users and events, made through a runtime that is closed again: a backup source. */
export async function sourceStore(kind: StoreKind, options: { events?: number; checkpointEvery?: number } = {}) {
  const database = await createDatabase(kind);
  const config = testConfig({ database: { url: database.url }, audit: { checkpointEvery: options.checkpointEvery ?? 5 } });
  const runtime = await openRuntime(config, createLogger('silent'));
  await runtime.users.create({ username: 'dana', role: 'approver', password: 'Approver-Password-Long-Enough-2', actor: 'test' });
  // A few events per transaction, so that checkpoints fall along the chain.
  const all = events(options.events ?? 23);
  for (let start = 0; start < all.length; start += 3) await runtime.audit.record(all.slice(start, start + 3));
  await runtime.audit.checkpoint();
  await runtime.close();
  return { database, config, dataDir: config.paths.base };
}
