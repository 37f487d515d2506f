import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isJSONRPCRequest, isJSONRPCResultResponse, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { messageOf } from '../errors.js';
import { MCP_PATH, TRANSPORT_HEADER } from './paths.js';

/**
 * `airlock mcp --stdio`: an MCP client on standard input/output (Claude Desktop, Claude Code, …)
 * reaches the running Airlock's /mcp over HTTP with the caller's credential. Messages pass through
 * unchanged both ways (progress notifications and cancellations included); nothing is decided or run
 * here, so the stdio path has exactly the server's rules.
 */
export async function bridgeStdio(options: { url: string; credential: () => Promise<string | undefined>; log: (line: string) => void }): Promise<void> {
  const upstream = new StreamableHTTPClientTransport(new URL(MCP_PATH, `${options.url}/`), {
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers);
      const credential = await options.credential();
      if (credential) headers.set('authorization', `Bearer ${credential}`);
      headers.set(TRANSPORT_HEADER, 'stdio');
      return fetch(input, { ...init, headers });
    },
  });
  const local = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    local.onclose = () => {
      void upstream.close().finally(resolve);
    };
  });

  local.onmessage = (message: JSONRPCMessage) => {
    upstream.send(message).catch((error: unknown) => {
      options.log(`airlock mcp: ${messageOf(error)}`);
      // A request the server never answered gets an answer all the same, so the client does not hang.
      if (isJSONRPCRequest(message)) void local.send({ jsonrpc: '2.0', id: message.id, error: { code: -32000, message: `Airlock at ${options.url} did not take the request: ${messageOf(error)}` } });
    });
  };
  upstream.onmessage = (message: JSONRPCMessage) => {
    // The negotiated version goes on every later HTTP request, as the Streamable HTTP transport requires.
    const version = isJSONRPCResultResponse(message) ? (message.result as { protocolVersion?: unknown }).protocolVersion : undefined;
    if (typeof version === 'string') upstream.setProtocolVersion(version);
    void local.send(message);
  };
  upstream.onerror = (error) => options.log(`airlock mcp: ${messageOf(error)}`);
  local.onerror = (error) => options.log(`airlock mcp: ${messageOf(error)}`);

  await upstream.start();
  await local.start();
  await closed;
}
