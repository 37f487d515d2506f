import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { TRANSPORT_HEADER } from './paths.js';

/**
 * A message to an MCP endpoint: JSON-RPC 2.0 as the SDK defines it. The SDK's transport validates each
 * message and answers a bad one with a JSON-RPC error, as the protocol requires, so this schema is
 * documented rather than applied by the route.
 */
export const McpMessage = JSONRPCMessageSchema;

/** The headers an MCP endpoint reads besides the credential; any others pass. */
export const McpHeaders = z.looseObject({
  'mcp-session-id': z.string().optional().describe('The session, as the answer to initialize named it; required on every later request'),
  'mcp-protocol-version': z.string().optional().describe('The negotiated MCP protocol version'),
  'last-event-id': z.string().optional().describe('GET: resume the stream after this event'),
  [TRANSPORT_HEADER]: z.string().optional().describe('"stdio" when `airlock mcp --stdio` relays the messages (recorded in the audit log)'),
});
