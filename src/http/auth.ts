import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import { actorOf, type ApiKeys, type Principal } from '../identity/api-keys.js';
import { hasScope, type Scope } from '../identity/scopes.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route requires; 'authenticated' for any valid key. Routes without it are public. */
    scope?: Scope | 'authenticated';
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Where a key may come from: the native bearer header, or the reference Wingman headers (aliases). */
const KEY_HEADERS = ['x-wingman-approval-request-key', 'x-wingman-approval-read-key', 'x-wingman-approval-decide-key'] as const;

/** The credential of an `Authorization: Bearer …` header, if there is one. */
export function bearerOf(request: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
}

function presentedKey(request: FastifyRequest): { key: string; via: string } | undefined {
  const bearer = bearerOf(request);
  if (bearer) return { key: bearer, via: 'authorization' };
  for (const header of KEY_HEADERS) {
    const value = request.headers[header];
    if (typeof value === 'string' && value.trim() !== '') return { key: value.trim(), via: header };
  }
  return undefined;
}

/** The principal of a request that passed the auth hook. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AirlockError('unauthorized', 'this route needs an authenticated principal', { status: 401 });
  return request.principal;
}

/**
 * One hook authenticates every route that declares a scope. Failures are audited (never with the key)
 * and answered 401 (no or bad key) or 403 (a good key without the scope).
 */
export function registerAuth(app: FastifyInstance, deps: { keys: ApiKeys; audit: AuditLog }): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request, reply) => {
    const scope = request.routeOptions.config.scope;
    if (!scope) return;
    const where = { method: request.method, route: request.routeOptions.url ?? request.url, ip: request.ip, request_id: request.id };
    const presented = presentedKey(request);
    const result = presented ? await deps.keys.authenticate(presented.key) : { failure: 'missing' as const };
    if ('failure' in result) {
      await deps.audit.record({ actor: 'anonymous', action: 'auth.failed', data: { reason: result.failure, via: presented?.via ?? null, ...where } });
      reply.header('www-authenticate', 'Bearer realm="airlock"');
      const detail =
        result.failure === 'missing'
          ? 'an API key is required: send Authorization: Bearer <key> (or an X-Wingman-Approval-*-Key header)'
          : result.failure === 'revoked'
            ? 'this API key has been revoked'
            : 'the API key is not valid';
      throw new AirlockError('unauthorized', detail, { status: 401 });
    }
    request.principal = result.principal;
    if (scope !== 'authenticated' && !hasScope(result.principal.scopes, scope)) {
      await deps.audit.record({ actor: actorOf(result.principal), action: 'auth.denied', data: { scope, ...where } });
      throw new AirlockError('forbidden', `this API key lacks the scope ${scope}`, { status: 403, details: { required_scope: scope } });
    }
  });
}
