import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { isAirlockError } from '../errors.js';
import { bearerOf, principalOf } from '../http/auth.js';
import { sendProblem } from '../http/problem.js';
import type { Tokens } from '../tokens/service.js';
import { ExecuteBody, ExecutionParams, MintBody } from './schema.js';
import { REPLAY_ERROR, type Gateway } from './service.js';

/** The capability token of a request: X-Capability-Token (reference) or a bearer that is a JWT. */
function capabilityToken(request: FastifyRequest): string | undefined {
  const header = request.headers['x-capability-token'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim();
  const bearer = bearerOf(request);
  return bearer && bearer.split('.').length === 3 ? bearer : undefined;
}

/**
 * Gateway errors stay problem+json and also carry the reference gateway's `success: false` and
 * `error`; a replay answers exactly the reference body.
 */
function sendGatewayError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (!isAirlockError(error)) throw error;
  if (error.code === 'token_replayed') return reply.status(409).send({ success: false, error: REPLAY_ERROR });
  return sendProblem(request, reply, error.status, error.code, error.message, { ...error.details, success: false, error: error.message });
}

export async function gatewayRoutes(app: FastifyInstance, options: { gateway: Gateway; tokens: Tokens }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { gateway, tokens } = options;

  routes.get('/.well-known/jwks.json', async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(await tokens.jwks()));

  for (const path of ['/gateway/token', '/v1/tokens']) {
    // Who may mint is decided per request (a decider, or the requester itself): see Tokens.mint.
    routes.post(path, { config: { scope: 'authenticated' }, schema: { body: MintBody } }, async (request) => tokens.mint(principalOf(request), request.body));
  }

  for (const path of ['/gateway/execute', '/v1/execute']) {
    routes.post(path, { schema: { body: ExecuteBody } }, async (request, reply) => {
      try {
        return await gateway.execute(capabilityToken(request), request.body, { ip: request.ip });
      } catch (error) {
        return sendGatewayError(error, request, reply);
      }
    });
  }

  routes.get('/v1/executions/:id', { config: { scope: 'approvals:read' }, schema: { params: ExecutionParams } }, async (request) => ({
    execution: await gateway.get(request.params.id),
  }));
}
