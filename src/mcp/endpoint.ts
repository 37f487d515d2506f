import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';
import type { AuditLog } from '../audit/index.js';
import { principalOf } from '../http/auth.js';
import { sendProblem } from '../http/problem.js';
import { actorOf, type Principal, type Scope } from '../identity/index.js';
import type { RouteDocs } from '../http/openapi.js';
import { SessionEventStore } from './event-store.js';
import { TRANSPORT_HEADER } from './paths.js';
import { McpHeaders, McpMessage } from './schema.js';
import type { McpCaller } from './tools.js';

/** What the API document says of the Streamable HTTP transport's three methods. */
const POST_DOCS: RouteDocs = {
  body: McpMessage,
  responses: {
    '200': { description: 'The JSON-RPC answer: as application/json, or as a text/event-stream of messages ending with it. The answer to initialize carries Mcp-Session-Id.', schema: McpMessage },
    '202': { description: 'Accepted: a notification or a response, which has no answer' },
  },
};
const GET_DOCS: RouteDocs = { responses: { '200': { description: "The session's stream of server messages (Server-Sent Events; Last-Event-ID resumes it)", contentType: 'text/event-stream' } } };
const DELETE_DOCS: RouteDocs = { responses: { '200': { description: 'The session is closed' } } };

/** A session unused this long is closed (its client can start a new one). */
const IDLE_MS = 30 * 60_000;

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly server: McpServer;
  readonly principalId: string;
  /** What else the session belongs to (a workspace), as `bind` named it when it opened. */
  readonly binding: string;
  /** The principal of the latest HTTP request of this session: what its tools act as. */
  readonly current: { principal: Principal };
  lastSeen: number;
}

/** One MCP endpoint served over Streamable HTTP. */
export interface McpEndpoint {
  /** The route, e.g. `/mcp` or `/v1/workspaces/:id/mcp`. */
  readonly path: string;
  readonly scope: Scope | 'authenticated';
  /** The RFC 9728 metadata path for a request to this endpoint, named in the 401 challenge. */
  readonly resourceMetadata: (request: FastifyRequest) => string;
  /** The schema of the path's parameters (e.g. the workspace id), if it has any. */
  readonly params?: ZodType;
  readonly audit: AuditLog;
  /** What a session belongs to besides its principal (e.g. the workspace in the path); another gets 404 for it. */
  readonly bind?: (request: FastifyRequest) => string;
  /**
   * Refuses, by throwing an AirlockError, a principal that may not use the endpoint as addressed. Runs
   * before a session opens and again on every later request of the session.
   */
  readonly authorize?: (request: FastifyRequest, principal: Principal) => Promise<void>;
  /** Builds the server of a new session (its tools, resources, prompts). */
  readonly open: (request: FastifyRequest, caller: McpCaller) => McpServer | Promise<McpServer>;
  /** What the session's audit events carry besides the session and transport. */
  readonly auditData?: (request: FastifyRequest) => Record<string, unknown>;
}

/** The absolute URL of a path on this server, as the client reached it (X-Forwarded-* when trustProxy is on). */
export function publicUrl(request: FastifyRequest, path: string): string {
  return `${request.protocol}://${request.host}${path}`;
}

/**
 * Serves one MCP endpoint with the SDK's Streamable HTTP transport under `reply.hijack()`: sessions
 * (resumable streams, idle sweep), authenticated like the rest of the API, each bound to the principal
 * that opened it (and to what `bind` names): another principal gets 404 for it.
 */
export function serveMcp(app: FastifyInstance, endpoint: McpEndpoint): void {
  const sessions = new Map<string, Session>();
  const bindingOf = (request: FastifyRequest): string => endpoint.bind?.(request) ?? '';

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const session of sessions.values()) if (now - session.lastSeen > IDLE_MS) void session.transport.close();
  }, 60_000);
  sweep.unref();
  app.addHook('preClose', async () => {
    clearInterval(sweep);
    await Promise.all([...sessions.values()].map((session) => session.transport.close().catch(() => undefined)));
  });

  const existing = async (request: FastifyRequest, reply: FastifyReply): Promise<Session | undefined> => {
    const id = request.headers['mcp-session-id'];
    const session = typeof id === 'string' ? sessions.get(id) : undefined;
    const principal = principalOf(request);
    if (!session || session.principalId !== principal.id || session.binding !== bindingOf(request)) {
      sendProblem(request, reply, 404, 'mcp_session_not_found', 'no such MCP session for this principal: start a new one with initialize');
      return undefined;
    }
    await endpoint.authorize?.(request, principal);
    session.current.principal = principal;
    session.lastSeen = Date.now();
    return session;
  };

  const config = { scope: endpoint.scope, resourceMetadata: endpoint.resourceMetadata };
  const schema = { headers: McpHeaders, ...(endpoint.params ? { params: endpoint.params } : {}) };

  app.post(endpoint.path, { config: { ...config, openapi: POST_DOCS }, schema }, async (request, reply) => {
    let session: Session | undefined;
    if (request.headers['mcp-session-id'] !== undefined) {
      session = await existing(request, reply);
      if (!session) return reply;
    } else if (isInitializeRequest(request.body)) {
      session = await open(request);
    } else {
      return sendProblem(request, reply, 400, 'mcp_session_required', 'send initialize first, then the Mcp-Session-Id it returns');
    }
    reply.hijack();
    await session.transport.handleRequest(request.raw, reply.raw, request.body);
    return reply;
  });

  for (const method of ['GET', 'DELETE'] as const) {
    app.route({
      method,
      url: endpoint.path,
      config: { ...config, openapi: method === 'GET' ? GET_DOCS : DELETE_DOCS },
      schema,
      handler: async (request, reply) => {
        const session = await existing(request, reply);
        if (!session) return reply;
        reply.hijack();
        await session.transport.handleRequest(request.raw, reply.raw);
        return reply;
      },
    });
  }

  async function open(request: FastifyRequest): Promise<Session> {
    const principal = principalOf(request);
    await endpoint.authorize?.(request, principal);
    const declared = request.headers[TRANSPORT_HEADER];
    const transportName = declared === 'stdio' ? 'stdio' : 'streamable-http';
    const sessionId = randomUUID();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => sessionId, eventStore: new SessionEventStore() });
    // Tools see the principal of the HTTP request that carries each call (see `existing`).
    const current = { principal };
    const server = await endpoint.open(request, { principal: () => current.principal, transport: transportName, sessionId, ip: request.ip });
    const session: Session = { transport, server, principalId: principal.id, binding: bindingOf(request), current, lastSeen: Date.now() };
    const extra = endpoint.auditData?.(request) ?? {};
    sessions.set(sessionId, session);
    transport.onclose = () => {
      sessions.delete(sessionId);
      void endpoint.audit.record({ actor: actorOf(current.principal), action: 'mcp.session_closed', data: { session: sessionId, transport: transportName, ...extra } }).catch(() => undefined);
    };
    await server.connect(transport);
    void endpoint.audit
      .record({ actor: actorOf(principal), action: 'mcp.session_started', data: { session: sessionId, transport: transportName, ip: request.ip, client: clientOf(request.body), ...extra } })
      .catch(() => undefined);
    return session;
  }
}

function clientOf(body: unknown): string | null {
  const info = (body as { params?: { clientInfo?: { name?: unknown; version?: unknown } } }).params?.clientInfo;
  return typeof info?.name === 'string' ? `${info.name}${typeof info.version === 'string' ? ` ${info.version}` : ''}`.slice(0, 200) : null;
}
