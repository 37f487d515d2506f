import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { isAirlockError } from '../errors.js';
import { bearerOf, principalOf } from '../http/auth.js';
import type { RouteDocs } from '../http/openapi.js';
import { sendProblem } from '../http/problem.js';
import type { Tokens } from '../tokens/index.js';
import { ExecuteAnswer, ExecuteBody, ExecutionParams, MintBody, ReplayAnswer } from './schema.js';
import { exportJWK } from 'jose';
import type { KeyPair } from '../audit/index.js';
import type { Store } from '../store/index.js';
import { REPLAY_ERROR, findExecution, type ExecutionService } from './service.js';

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

/** The API side of tokens: minting, and the public keys gateways and clients verify with. */
export async function tokenRoutes(app: FastifyInstance, options: { tokens: Tokens }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { tokens } = options;

  routes.get('/.well-known/jwks.json', async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(await tokens.jwks()));

  for (const path of ['/gateway/token', '/v1/tokens']) {
    // Who may mint is decided per request (a decider, or the requester itself): see Tokens.mint.
    routes.post(path, { config: { scope: 'authenticated' }, schema: { body: MintBody } }, async (request) => tokens.mint(principalOf(request), request.body));
  }
}

/** A gateway instance publishes its receipt key, so anyone can check the receipts it signs. */
export async function receiptKeyRoutes(app: FastifyInstance, options: { receiptKey: KeyPair }): Promise<void> {
  const jwk = { ...(await exportJWK(options.receiptKey.publicKey)), kid: options.receiptKey.keyId, alg: 'EdDSA', use: 'sig' };
  app.get('/.well-known/jwks.json', async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send({ keys: [jwk] }));
}

/** The gate's own credential and answers, for the API document. */
const EXECUTE_DOCS: RouteDocs = {
  security: [{ capabilityToken: [] }, { capabilityBearer: [] }],
  responses: {
    '200': { description: 'The operation ran (success tells whether it succeeded), with a signed receipt', schema: ExecuteAnswer },
    '409': { description: 'The token was used before: the reference answer, nothing ran', schema: ReplayAnswer },
  },
};

/** The gate: a capability token in, one execution out. */
export async function executeRoutes(app: FastifyInstance, options: { gateway: ExecutionService }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  for (const path of ['/gateway/execute', '/v1/execute']) {
    routes.post(path, { config: { openapi: EXECUTE_DOCS }, schema: { body: ExecuteBody } }, async (request, reply) => {
      try {
        return await options.gateway.execute(capabilityToken(request), request.body, { ip: request.ip });
      } catch (error) {
        return sendGatewayError(error, request, reply);
      }
    });
  }
}

/** Executions as recorded, read from the store: any API instance answers for any gateway. */
export async function executionRoutes(app: FastifyInstance, options: { store: Store }): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/v1/executions/:id', { config: { scope: 'approvals:read' }, schema: { params: ExecutionParams } }, async (request) => ({
    execution: await findExecution(options.store, request.params.id),
  }));
}
