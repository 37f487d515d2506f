import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalEvent, chainHash } from '../../src/audit/index.js';
import { createLogger } from '../../src/http/logger.js';
import { openRuntime } from '../../src/runtime.js';
import { events } from '../helpers/audit.js';
import { runCli } from '../helpers/cli.js';
import { cloneDatabase, createDatabase, dropAppendOnlyTriggers, rawSql, storeKinds, type StoreKind, type TestDatabase } from '../helpers/databases.js';
import { testConfig } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

/** Per store: a data directory with its audit key and a chain of 25 events, checkpoints every 10, built once. */
const originals = new Map<StoreKind, Promise<{ database: TestDatabase; dataDir: string }>>();

async function original(kind: StoreKind): Promise<{ database: TestDatabase; dataDir: string }> {
  const database = await createDatabase(kind);
  const dataDir = join(tmpDir(), 'data');
  const config = testConfig({ dataDir, database: { url: database.url }, audit: { checkpointEvery: 10 } });
  const runtime = await openRuntime(config, createLogger('silent'));
  for (let i = 0; i < 25; i++) await runtime.audit.record(events(1));
  await runtime.close();
  return { database, dataDir };
}

/** A database of its own holding a copy of that chain (each test tampers with its own), and how to verify it. */
async function chain(kind: StoreKind, threads: number): Promise<{ database: TestDatabase; verify: () => ReturnType<typeof runCli> }> {
  if (!originals.has(kind)) originals.set(kind, original(kind));
  const { database: source, dataDir } = await (originals.get(kind) as ReturnType<typeof original>);
  const database = await cloneDatabase(source);
  const verify = () => runCli(['audit', 'verify', '--data-dir', dataDir, '--database-url', database.url, '--threads', String(threads)], { cwd: tmpDir() });
  return { database, verify };
}

// With 3 threads the 25 events are checked as ranges 1-9, 10-18 and 19-25 in worker threads, then stitched.
const cases = storeKinds().flatMap((kind) => [1, 3].map((threads) => ({ kind, threads })));

describe.each(cases)('audit verify against tampering on $kind with $threads thread(s)', ({ kind, threads }) => {
  it('passes an untouched chain, with its checkpoints', async () => {
    const { verify } = await chain(kind, threads);
    const result = await verify();
    expect(result.stdout).toContain('audit chain OK: 25 events, head 25');
    expect(result.stdout).toContain('2 signed checkpoint(s) verified');
    expect(result.stdout.includes('3 threads')).toBe(threads === 3);
    expect(result.code).toBe(0);
  });

  it('names the seq of a row whose data was changed', async () => {
    const { database, verify } = await chain(kind, threads);
    await dropAppendOnlyTriggers(database);
    await rawSql(database, `update audit_events set data = '{"index":99}' where seq = 7`);
    const result = await verify();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/BROKEN at seq 7: hash does not match/);
  });

  it('names the seq of a row deleted from the middle', async () => {
    const { database, verify } = await chain(kind, threads);
    await dropAppendOnlyTriggers(database);
    await rawSql(database, `delete from audit_events where seq = 12`);
    const result = await verify();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/BROKEN at seq 12: event 12 is missing/);
  });

  it('names the checkpoint whose signature was forged', async () => {
    const { database, verify } = await chain(kind, threads);
    await dropAppendOnlyTriggers(database);
    const forged = Buffer.alloc(64, 7).toString('base64url');
    await rawSql(database, `update audit_checkpoints set signature = '${forged}' where seq = 10`);
    const result = await verify();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/BROKEN at seq 10: the checkpoint signature at 10 is invalid/);
  });

  it('catches a rewrite that recomputes every later hash, at the next signed checkpoint', async () => {
    const { database, verify } = await chain(kind, threads);
    await dropAppendOnlyTriggers(database);
    // The attacker knows the format: change event 13 and rebuild the chain from there so every link holds.
    const { openStore } = await import('../../src/store/index.js');
    const store = await openStore(database.target);
    const rows = await store.db.selectFrom('audit_events').selectAll().where('seq', '>=', 13).orderBy('seq').execute();
    let prev = rows[0]?.prev_hash as string;
    for (const row of rows) {
      const data = row.seq === 13 ? '{"index":13,"note":"rewritten"}' : row.data;
      const hash = chainHash(prev, canonicalEvent({ ...row, data }));
      await store.db.updateTable('audit_events').set({ data, prev_hash: prev, hash }).where('seq', '=', row.seq).execute();
      prev = hash;
    }
    await store.db.updateTable('audit_head').set({ hash: prev }).execute();
    await store.close();
    const result = await verify();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/BROKEN at seq 20: the signed checkpoint at 20 names another hash/);
  });

  it('names the first missing seq when the newest events are removed', async () => {
    const { database, verify } = await chain(kind, threads);
    await dropAppendOnlyTriggers(database);
    await rawSql(database, `delete from audit_events where seq > 22`);
    const result = await verify();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/BROKEN at seq 23: the head says the chain ends at 25/);
  });

  it('refuses checkpoints signed by a key it was not given', async () => {
    const { database } = await chain(kind, threads);
    const stranger = join(tmpDir(), 'data');
    await runCli(['init', '--data-dir', stranger, '--database-url', database.url], { cwd: tmpDir() });
    const result = await runCli(['audit', 'verify', '--data-dir', stranger, '--database-url', database.url, '--threads', String(threads)], { cwd: tmpDir() });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/BROKEN at seq 10: the checkpoint at 10 is signed by unknown key/);
  });
});
