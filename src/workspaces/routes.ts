import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AuditLog } from '../audit/index.js';
import { principalOf } from '../http/auth.js';
import { publicUrl, serveMcp } from '../mcp/index.js';
import { createWorkspaceMcpServer } from './mcp.js';
import { CreateWorkspaceBody, ListWorkspacesQuery, WorkspaceParams } from './schema.js';
import type { Workspaces } from './service.js';

const MCP = '/v1/workspaces/:id/mcp';
const METADATA = '/.well-known/oauth-protected-resource/v1/workspaces/:id/mcp';

function idOf(request: FastifyRequest): string {
  return String((request.params as { id?: unknown }).id ?? '');
}

/**
 * /v1/workspaces: create, list, show, delete (soft) and restore one's own workspaces (admins: anyone's),
 * and each workspace's MCP endpoint with its file and git tools, authenticated like /mcp and open only
 * to the workspace's owner and admins.
 */
export async function workspaceRoutes(app: FastifyInstance, options: { workspaces: Workspaces; audit: AuditLog }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { workspaces } = options;
  const config = { scope: 'workspaces:use' as const };

  routes.post('/v1/workspaces', { config: { ...config, openapi: { responses: { '201': { description: 'The workspace as created' } } } }, schema: { body: CreateWorkspaceBody } }, async (request, reply) => {
    const workspace = await workspaces.create(principalOf(request), request.body);
    return reply.status(201).send({ workspace });
  });

  routes.get('/v1/workspaces', { config, schema: { querystring: ListWorkspacesQuery } }, async (request) => ({
    workspaces: await workspaces.list(principalOf(request), { all: request.query.all === 'true', ...(request.query.status ? { status: request.query.status } : {}) }),
  }));

  routes.get('/v1/workspaces/:id', { config, schema: { params: WorkspaceParams } }, async (request) => ({ workspace: await workspaces.get(principalOf(request), request.params.id) }));

  routes.delete('/v1/workspaces/:id', { config, schema: { params: WorkspaceParams } }, async (request) => ({ workspace: await workspaces.delete(principalOf(request), request.params.id) }));

  routes.post('/v1/workspaces/:id/restore', { config, schema: { params: WorkspaceParams } }, async (request) => ({ workspace: await workspaces.restore(principalOf(request), request.params.id) }));

  routes.get(METADATA, { schema: { params: WorkspaceParams } }, async (request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send({
      resource: publicUrl(request, `/v1/workspaces/${encodeURIComponent(idOf(request))}/mcp`),
      authorization_servers: [publicUrl(request, '')],
      bearer_methods_supported: ['header'],
      scopes_supported: ['workspaces:use'],
      resource_name: 'Airlock workspace',
      token_endpoint: publicUrl(request, '/v1/auth/token'),
    }),
  );

  serveMcp(app, {
    path: MCP,
    scope: 'workspaces:use',
    params: WorkspaceParams,
    resourceMetadata: (request) => `/.well-known/oauth-protected-resource/v1/workspaces/${encodeURIComponent(idOf(request))}/mcp`,
    audit: options.audit,
    bind: idOf,
    // The workspace must be the caller's (or the caller an admin) and active: before a session opens, and on every request after.
    authorize: async (request, principal) => {
      await workspaces.open(principal, idOf(request));
    },
    auditData: (request) => ({ workspace: idOf(request) }),
    open: async (request, caller) => {
      const { view } = await workspaces.open(caller.principal(), idOf(request));
      return createWorkspaceMcpServer(workspaces, options.audit, caller, { id: view.id, name: view.name });
    },
  });
}
