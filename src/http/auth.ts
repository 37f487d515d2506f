import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import { actorOf, csrfMatches, hasScope, isApiKey, type ApiKeys, type Principal, type Scope, type Sessions } from '../identity/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route requires; 'authenticated' for any valid principal. Routes without it are public. */
    scope?: Scope | 'authenticated';
    /** The path of this resource's RFC 9728 metadata, named in the 401 challenge (MCP authorization). */
    resourceMetadata?: string | ((request: FastifyRequest) => string);
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The session cookie: HTTP-only, SameSite=Strict, Secure over TLS (set by the login route). */
export const SESSION_COOKIE = 'airlock_session';
/** State-changing requests made with the session cookie must echo the session's CSRF token here. */
export const CSRF_HEADER = 'x-csrf-token';

/** Where a key may come from: the native bearer header, or the reference Wingman headers (aliases). */
const KEY_HEADERS = ['x-wingman-approval-request-key', 'x-wingman-approval-read-key', 'x-wingman-approval-decide-key'] as const;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** The credential of an `Authorization: Bearer …` header, if there is one. */
export function bearerOf(request: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
}

type Presented = { kind: 'key' | 'bearer' | 'cookie'; credential: string; via: string };

function presentedCredential(request: FastifyRequest): Presented | undefined {
  const bearer = bearerOf(request);
  if (bearer) return { kind: isApiKey(bearer) ? 'key' : 'bearer', credential: bearer, via: 'authorization' };
  for (const header of KEY_HEADERS) {
    const value = request.headers[header];
    if (typeof value === 'string' && value.trim() !== '') return { kind: 'key', credential: value.trim(), via: header };
  }
  const cookie = request.cookies?.[SESSION_COOKIE];
  if (cookie) return { kind: 'cookie', credential: cookie, via: 'cookie' };
  return undefined;
}

/** The principal of a request that passed the auth hook. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AirlockError('unauthorized', 'this route needs an authenticated principal', { status: 401 });
  return request.principal;
}

/** The session cookie's secret of a request, when it was authenticated by one. */
export function sessionCookieOf(request: FastifyRequest): string | undefined {
  return request.principal?.kind === 'session' ? request.cookies?.[SESSION_COOKIE] : undefined;
}

async function authenticate(deps: { keys: ApiKeys; sessions: Sessions }, presented: Presented): Promise<{ principal: Principal } | { failure: string }> {
  if (presented.kind === 'key') return deps.keys.authenticate(presented.credential);
  if (presented.kind === 'bearer' && !JWT_SHAPE.test(presented.credential)) return { failure: 'malformed' };
  const principal = presented.kind === 'cookie' ? await deps.sessions.authenticateSession(presented.credential) : await deps.sessions.authenticateAccessToken(presented.credential);
  return principal ? { principal } : { failure: presented.kind === 'cookie' ? 'session_invalid' : 'token_invalid' };
}

const FAILURE_DETAIL: Record<string, string> = {
  malformed: 'the credential is neither an API key (alk_…) nor an access token',
  unknown: 'the API key is not valid',
  missing: 'credentials are required: send Authorization: Bearer <API key or access token> (or an X-Wingman-Approval-*-Key header), or log in',
  revoked: 'this API key has been revoked',
  expired: 'this API key has expired',
  owner_disabled: 'the owner of this API key is disabled',
  session_invalid: 'the session has ended: log in again',
  token_invalid: 'the access token is not valid (expired, or its session ended): refresh it or log in again',
};

/**
 * One hook authenticates every route that declares a scope: API keys, access tokens and session
 * cookies (the latter with a CSRF check on state-changing requests). Failures are audited (never with
 * the credential) and answered 401 (no or bad credential) or 403 (no scope, or no CSRF token).
 */
export function registerAuth(app: FastifyInstance, deps: { keys: ApiKeys; sessions: Sessions; audit: AuditLog }): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request, reply) => {
    const scope = request.routeOptions.config.scope;
    if (!scope) return;
    const where = { method: request.method, route: request.routeOptions.url ?? request.url, ip: request.ip, request_id: request.id };
    const presented = presentedCredential(request);
    const result = presented ? await authenticate(deps, presented) : { failure: 'missing' };
    if ('failure' in result) {
      await deps.audit.record({ actor: 'anonymous', action: 'auth.failed', data: { reason: result.failure, via: presented?.via ?? null, ...where } });
      const declared = request.routeOptions.config.resourceMetadata;
      const metadata = typeof declared === 'function' ? declared(request) : declared;
      reply.header('www-authenticate', `Bearer realm="airlock"${metadata ? `, resource_metadata="${request.protocol}://${request.host}${metadata}"` : ''}`);
      throw new AirlockError('unauthorized', FAILURE_DETAIL[result.failure] ?? 'the credential is not valid', { status: 401 });
    }
    const principal = result.principal;
    if (presented?.kind === 'cookie' && !SAFE_METHODS.has(request.method)) {
      const csrf = request.headers[CSRF_HEADER];
      if (typeof csrf !== 'string' || !csrfMatches(presented.credential, csrf)) {
        await deps.audit.record({ actor: actorOf(principal), action: 'auth.csrf_refused', data: where });
        throw new AirlockError('csrf_failed', `a request made with the session cookie must send the session's CSRF token in ${CSRF_HEADER}`, { status: 403 });
      }
    }
    request.principal = principal;
    if (scope !== 'authenticated' && !hasScope(principal.scopes, scope)) {
      await deps.audit.record({ actor: actorOf(principal), action: 'auth.denied', data: { scope, ...where } });
      throw new AirlockError('forbidden', `this ${principal.kind === 'api_key' ? 'API key' : 'user'} lacks the scope ${scope}`, { status: 403, details: { required_scope: scope } });
    }
  });
}
