import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf, type Principal } from '../identity/index.js';
import { principalOf } from '../http/auth.js';
import { sendProblem } from '../http/problem.js';
import { SessionEventStore } from './event-store.js';
import { MCP_PATH, RESOURCE_METADATA_PATH, TRANSPORT_HEADER } from './paths.js';
import { createMcpServer, type McpDeps } from './server.js';


/** A session unused this long is closed (its client can start a new one). */
const IDLE_MS = 30 * 60_000;

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly server: McpServer;
  readonly principalId: string;
  /** The principal of the latest HTTP request of this session: what its tools act as. */
  readonly current: { principal: Principal };
  lastSeen: number;
}

/** The absolute URL of a path on this server, as the client reached it (X-Forwarded-* when trustProxy is on). */
export function publicUrl(request: FastifyRequest, path: string): string {
  return `${request.protocol}://${request.host}${path}`;
}

/**
 * MCP over Streamable HTTP at /mcp (sessions, resumable streams), authenticated like the rest of the
 * API, and the RFC 9728 protected-resource metadata that tells a client where to get credentials.
 * A session belongs to the principal that opened it; another principal gets 404 for it.
 */
export async function mcpRoutes(app: FastifyInstance, options: { deps: McpDeps }): Promise<void> {
  const sessions = new Map<string, Session>();

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, session] of sessions) if (now - session.lastSeen > IDLE_MS) void session.transport.close();
  }, 60_000);
  sweep.unref();
  app.addHook('preClose', async () => {
    clearInterval(sweep);
    await Promise.all([...sessions.values()].map((session) => session.transport.close().catch(() => undefined)));
  });

  app.get(RESOURCE_METADATA_PATH, async (request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send({
      resource: publicUrl(request, MCP_PATH),
      authorization_servers: [publicUrl(request, '')],
      bearer_methods_supported: ['header'],
      scopes_supported: ['approvals:request', 'approvals:read', 'gateway:execute', 'audit:read'],
      resource_name: 'Airlock',
      resource_documentation: 'https://github.com/airlock-dev/airlock#mcp',
      // Credentials are API keys (`airlock keys create`) or access tokens (POST /v1/auth/token, /v1/auth/login).
      token_endpoint: publicUrl(request, '/v1/auth/token'),
    }),
  );

  const existing = (request: FastifyRequest, reply: FastifyReply): Session | undefined => {
    const id = request.headers['mcp-session-id'];
    const session = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!session || session.principalId !== principalOf(request).id) {
      sendProblem(request, reply, 404, 'mcp_session_not_found', 'no such MCP session for this principal: start a new one with initialize');
      return undefined;
    }
    session.current.principal = principalOf(request);
    session.lastSeen = Date.now();
    return session;
  };

  const config = { scope: 'authenticated' as const, resourceMetadata: RESOURCE_METADATA_PATH };

  app.post(MCP_PATH, { config }, async (request, reply) => {
    let session: Session | undefined;
    if (request.headers['mcp-session-id'] !== undefined) {
      session = existing(request, reply);
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
      url: MCP_PATH,
      config,
      handler: async (request, reply) => {
        const session = existing(request, reply);
        if (!session) return reply;
        reply.hijack();
        await session.transport.handleRequest(request.raw, reply.raw);
        return reply;
      },
    });
  }

  async function open(request: FastifyRequest): Promise<Session> {
    const principal = principalOf(request);
    const declared = request.headers[TRANSPORT_HEADER];
    const transportName = declared === 'stdio' ? 'stdio' : 'streamable-http';
    const sessionId = randomUUID();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => sessionId, eventStore: new SessionEventStore() });
    // Tools see the principal of the HTTP request that carries each call (see `existing`).
    const current = { principal };
    const server = createMcpServer(options.deps, { principal: () => current.principal, transport: transportName, sessionId, ip: request.ip });
    const session: Session = { transport, server, principalId: principal.id, current, lastSeen: Date.now() };
    sessions.set(sessionId, session);
    transport.onclose = () => {
      sessions.delete(sessionId);
      void options.deps.audit.record({ actor: actorOf(current.principal), action: 'mcp.session_closed', data: { session: sessionId, transport: transportName } }).catch(() => undefined);
    };
    await server.connect(transport);
    void options.deps.audit
      .record({ actor: actorOf(principal), action: 'mcp.session_started', data: { session: sessionId, transport: transportName, ip: request.ip, client: clientOf(request.body) } })
      .catch(() => undefined);
    return session;
  }
}

function clientOf(body: unknown): string | null {
  const info = (body as { params?: { clientInfo?: { name?: unknown; version?: unknown } } }).params?.clientInfo;
  return typeof info?.name === 'string' ? `${info.name}${typeof info.version === 'string' ? ` ${info.version}` : ''}`.slice(0, 200) : null;
}
