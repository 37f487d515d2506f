import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll } from 'vitest';
import { CLI, cleanEnv } from './cli.js';

export type McpTransportKind = 'streamable-http' | 'stdio';

const open: Client[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((client) => client.close().catch(() => undefined)));
});

/**
 * An MCP client from the SDK, connected as `key`: straight to /mcp over Streamable HTTP, or through
 * `airlock mcp --stdio` started as a child process, as Claude Desktop would.
 */
export async function connectMcp(kind: McpTransportKind, url: string, key: string): Promise<Client> {
  const client = new Client({ name: 'airlock-tests', version: '1.0.0' });
  const transport =
    kind === 'streamable-http'
      ? new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { authorization: `Bearer ${key}` } } })
      : new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', '--stdio'], env: cleanEnv({ AIRLOCK_URL: url, AIRLOCK_API_KEY: key }) as Record<string, string>, stderr: 'pipe' });
  await client.connect(transport);
  open.push(client);
  return client;
}

/** The text of a tool result. */
export function textOf(result: unknown): string {
  return (((result as { content?: unknown }).content ?? []) as { type: string; text?: string }[]).map((part) => part.text ?? '').join('\n');
}
