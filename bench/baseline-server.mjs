// The bare baselines of bench/gateway.ts: a Fastify server with nothing of Airlock's.
//   POST /run     spawns /bin/true and answers when it exits
//   POST /insert  inserts one row into a SQLite table (WAL, as Airlock's store)
// Usage: node bench/baseline-server.mjs DB_FILE   (prints {"url": …} when listening)
import { spawn } from 'node:child_process';
import SQLite from 'better-sqlite3';
import Fastify from 'fastify';

const db = new SQLite(process.argv[2]);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('create table if not exists requests (id integer primary key, body text not null, created_at text not null)');
const insert = db.prepare('insert into requests (body, created_at) values (?, ?)');

const app = Fastify();
app.post('/run', () =>
  new Promise((resolve, reject) => {
    const child = spawn('/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', reject);
    child.on('close', (code) => resolve({ success: code === 0, exit_code: code }));
  }),
);
app.post('/insert', (request) => {
  const { lastInsertRowid } = insert.run(JSON.stringify(request.body), new Date().toISOString());
  return { id: Number(lastInsertRowid) };
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ url }));
