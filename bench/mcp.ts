/**
 * MCP benchmark against the plain HTTP API, measured in the same run on one `airlock serve` (SQLite):
 *   the MCP `run` tool over Streamable HTTP (request, auto-approve, mint and execute in one call)
 *   vs the same flow over the HTTP API (POST /approvals/request, /gateway/token, /gateway/execute),
 * each running /bin/true, with the same number of clients.
 * Usage: npm run bench:mcp
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Pool } from 'undici';
import { CLI, benchWorkspace, flowsPerSecond, json, mint } from './lib.js';

const FLOWS = 300;
const CLIENTS = 4;

const bench = benchWorkspace('mcp');

async function main(): Promise<void> {
  const key = await bench.initKey();
  const url = await bench.startProcess([CLI, 'serve', '--port', '0']);
  const pool = new Pool(url, { connections: 8 });
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = new Client({ name: 'airlock-bench', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
      return client;
    }),
  );
  console.log(`airlock MCP benchmark, node ${process.version}, SQLite store, airlock at ${url}\n`);

  const overHttp = async () => {
    const minted = await mint(pool, key, '/bin/true');
    const result = await json(pool, 'POST', '/gateway/execute', { 'x-capability-token': minted.token }, { command: '/bin/true', approval_id: minted.id, environment: 'dev' });
    if (!result.success) throw new Error(`execute failed: ${JSON.stringify(result)}`);
  };
  const overMcp = async (worker: number) => {
    const result = await (clients[worker] as Client).callTool({ name: 'run', arguments: { task_name: 'bench', command: '/bin/true', deployment_env: 'dev' } });
    if (result.isError) throw new Error(`run failed: ${JSON.stringify(result.content)}`);
  };

  // Warm both paths, then measure them one after the other, twice, in alternating order.
  await flowsPerSecond(40, CLIENTS, overHttp);
  await flowsPerSecond(40, CLIENTS, overMcp);
  const http = [await flowsPerSecond(FLOWS, CLIENTS, overHttp)];
  const mcp = [await flowsPerSecond(FLOWS, CLIENTS, overMcp)];
  mcp.push(await flowsPerSecond(FLOWS, CLIENTS, overMcp));
  http.push(await flowsPerSecond(FLOWS, CLIENTS, overHttp));
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  console.log(`run of /bin/true, ${CLIENTS} clients, ${FLOWS} flows per measurement`);
  console.log(`  MCP run tool (Streamable HTTP)       ${mean(mcp).toFixed(1)} flows/s`);
  console.log(`  HTTP API (request → token → execute) ${mean(http).toFixed(1)} flows/s`);
  console.log(`  ratio ${((mean(mcp) / mean(http)) * 100).toFixed(0)} %  (goal >= 80 %)`);
  await Promise.all(clients.map((client) => client.close()));
  await pool.close();
}

try {
  await main();
} finally {
  await bench.close();
}
