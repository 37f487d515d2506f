import type { FastifyInstance } from 'fastify';
import { publicUrl, serveMcp } from './endpoint.js';
import { MCP_PATH, RESOURCE_METADATA_PATH } from './paths.js';
import { createMcpServer, type McpDeps } from './server.js';

export { publicUrl } from './endpoint.js';

/**
 * MCP over Streamable HTTP at /mcp (sessions, resumable streams), authenticated like the rest of the
 * API, and the RFC 9728 protected-resource metadata that tells a client where to get credentials.
 * A session belongs to the principal that opened it; another principal gets 404 for it.
 */
export async function mcpRoutes(app: FastifyInstance, options: { deps: McpDeps }): Promise<void> {
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

  serveMcp(app, {
    path: MCP_PATH,
    scope: 'authenticated',
    resourceMetadata: () => RESOURCE_METADATA_PATH,
    audit: options.deps.audit,
    open: (_request, caller) => createMcpServer(options.deps, caller),
  });
}
