// One of several processes appending to one database at once, for bench/scale.ts:
//   node bench/audit-writer.mjs MODE DATABASE_URL AUDIT_KEY_FILE NAME SECONDS
// MODE chain: Airlock's AuditLog.record, one event per transaction (lock the head row, insert, move the head, commit).
// MODE bare:  the same row into a plain table, one per transaction (BEGIN, INSERT, COMMIT): no chain, no lock.
// Prints "ready" once connected, starts on a "go" line on stdin, appends for SECONDS, prints {"count", "ms"},
// and exits when its stdin ends (so the benchmark can read its CPU time while it still exists).
import { createInterface } from 'node:readline';
import pg from 'pg';
import { AuditLog, loadAuditSigner, openStore, parseDatabaseUrl } from '../dist/index.js';

const [mode, databaseUrl, auditKeyFile, name, seconds] = process.argv.slice(2);
const event = (index) => ({ actor: `key:${name}`, action: 'bench.append', subject: { type: 'approval', id: `${name}-${index}` }, environment: 'dev', target: 'box', data: { index, writer: name } });

let append;
let close;
if (mode === 'chain') {
  const target = parseDatabaseUrl(databaseUrl, '', process.cwd());
  if ('error' in target) throw new Error(target.error);
  const store = await openStore(target, { poolSize: 2 });
  const signer = loadAuditSigner(auditKeyFile, `${auditKeyFile}.pub`, { create: false });
  const audit = new AuditLog(store, { signer, checkpointEvery: 1000 });
  append = (index) => audit.record(event(index));
  close = () => store.close();
} else {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  append = async (index) => {
    const row = event(index);
    await client.query('begin');
    await client.query('insert into bench_bare (time, actor, action, subject_id, data) values ($1, $2, $3, $4, $5)', [new Date().toISOString(), row.actor, row.action, row.subject.id, JSON.stringify(row.data)]);
    await client.query('commit');
  };
  close = () => client.end();
}

process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
for (let line = await lines.next(); !line.done && line.value.trim() !== 'go'; line = await lines.next());
const started = performance.now();
let count = 0;
while (performance.now() - started < Number(seconds) * 1000) await append(count++);
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ count, ms })}\n`);
while (!(await lines.next()).done);
await close();
process.exit(0);
