import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll } from 'vitest';
import type { RawConfig } from '../../src/config/index.js';
import type { RunningServer } from '../../src/http/server.js';
import { createDatabase, type StoreKind } from './databases.js';
import { bearer, http } from './http.js';
import { startTestServer } from './server.js';

const open: Client[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((client) => client.close().catch(() => undefined)));
});

/** An MCP client from the SDK, connected over Streamable HTTP to one workspace's endpoint. */
export async function connectWorkspace(url: string, key: string, id: string): Promise<Client> {
  const client = new Client({ name: 'airlock-tests', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`/v1/workspaces/${id}/mcp`, url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  open.push(client);
  return client;
}

/** A tool call's outcome: its structured content, whether it failed, and the code of a failure. */
export async function call(client: Client, name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args });
  const structured = (result.structuredContent ?? {}) as Record<string, any>;
  const text = ((result.content ?? []) as { text?: string }[]).map((part) => part.text ?? '').join('\n');
  return { error: Boolean(result.isError), code: result.isError ? (structured.code as string) : undefined, structured, text };
}

/** A server on a fresh database, with two people (alice and bob, requesters) who each have a key for their workspaces. */
export async function startWorkspaceServer(kind: StoreKind, settings: RawConfig = {}) {
  const database = await createDatabase(kind);
  const server: RunningServer = await startTestServer({ ...settings, database: { url: database.url }, rateLimit: { enabled: false } });
  const { users, keys } = server.runtime;
  const people: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
  for (const name of ['alice', 'bob'] as const) {
    await users.create({ username: name, role: 'requester', password: "Workspace-Password-Strong-12345", actor: 'test' });
    people[name] = (await keys.create({ name: `${name}-agent`, scopes: ['workspaces:use', 'approvals:request', 'approvals:read', 'gateway:execute'], owner: name, actor: 'test' })).key;
  }
  const admin = (await keys.create({ name: 'admin', scopes: ['admin'], actor: 'test' })).key;
  const url = server.url;
  return {
    server,
    database,
    url,
    alice: people.alice,
    bob: people.bob,
    admin,
    async create(key: string, body: Record<string, unknown>) {
      const response = await http('POST', `${url}/v1/workspaces`, { headers: bearer(key), json: body });
      if (response.status !== 201) throw new Error(`create failed: ${response.status} ${response.text}`);
      return response.body.workspace as { id: string; name: string; status: string; mcp_path: string; container_id: string | null };
    },
    api: (method: string, path: string, key: string, json?: unknown) => http(method, `${url}${path}`, { headers: bearer(key), ...(json !== undefined ? { json } : {}) }),
    audit: async (action?: string) => {
      let query = server.runtime.store.db.selectFrom('audit_events').select(['seq', 'actor', 'action', 'subject_id', 'data']).orderBy('seq');
      if (action) query = query.where('action', '=', action);
      return (await query.execute()).map((row) => ({ ...row, data: JSON.parse(row.data) as Record<string, unknown> }));
    },
  };
}

/** Where a workspace's files live on disk. */
export function filesOf(server: RunningServer, id: string): string {
  return `${server.runtime.config.paths.workspacesDir}/${id}/files`;
}
