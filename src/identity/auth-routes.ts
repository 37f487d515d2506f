import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { sameSecret } from '../constant-time.js';
import { AirlockError } from '../errors.js';
import { principalOf, sessionCookieOf, SESSION_COOKIE } from '../http/auth.js';
import type { ApiKeys } from './api-keys.js';
import { isApiKey } from './api-keys.js';
import type { Challenges } from './challenges.js';
import type { Mfa } from './mfa.js';
import { actorOf, type Principal } from './principal.js';
import { whoami } from './routes.js';
import { ChallengeParams, CodeBody, IntrospectBody, LoginBody, PlanChallengeBody, RefreshBody } from './schema.js';
import type { Sessions } from './sessions.js';

/** Routes where passwords and codes are tried: the stricter per-IP limit of authentication endpoints. */
const AUTH_LIMIT = { rateLimitGroup: 'auth' } as const;

/** Only people (a session or an access token) may do this; an API key cannot act for its owner here. */
function person(request: FastifyRequest): Principal {
  const principal = principalOf(request);
  if (principal.kind === 'api_key') throw new AirlockError('person_required', 'this needs a person logged in (session or access token), not an API key', { status: 403 });
  return principal;
}

function sessionCookie(request: FastifyRequest, reply: FastifyReply, value: string, expires: Date): void {
  reply.setCookie(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'strict', secure: request.protocol === 'https', path: '/', expires });
}

/**
 * Login, logout, access and refresh tokens, introspection (RFC 7662), TOTP enrollment and step-up
 * challenges.
 */
export async function authRoutes(app: FastifyInstance, options: { sessions: Sessions; keys: ApiKeys; mfa: Mfa; challenges: Challenges; introspectSecret: string | undefined }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { sessions, keys, mfa, challenges } = options;
  // RFC 7662 clients send forms; this parser is confined to this plugin's routes.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  routes.post('/v1/auth/login', { config: AUTH_LIMIT, schema: { body: LoginBody } }, async (request, reply) => {
    const { body } = request;
    const result = await sessions.login({ username: body.username, password: body.password, totp: body.totp, ip: request.ip });
    sessionCookie(request, reply, result.session, new Date(result.expires_at));
    const tokens = body.tokens ? await sessions.grant(result.sessionId) : undefined;
    return { user: result.user, expires_at: result.expires_at, csrf_token: result.csrf, ...(tokens ?? {}) };
  });

  // Public: a browser asks whether its cookie is a live session (an answer, not a 401, when it is not)
  // and, after a reload, gets the CSRF token again. Cross-site pages cannot read it (no CORS with
  // credentials), and the SameSite=Strict cookie is not sent by them anyway.
  routes.get('/v1/auth/session', { config: AUTH_LIMIT }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const cookie = request.cookies?.[SESSION_COOKIE];
    const session = cookie ? await sessions.describeSession(cookie) : undefined;
    if (!session) return { authenticated: false };
    return { authenticated: true, expires_at: session.expires_at, mfa: session.mfa, totp_enrolled: session.totp_enrolled, csrf_token: session.csrf_token, whoami: whoami(session.principal) };
  });

  routes.post('/v1/auth/logout', { config: { scope: 'authenticated' } }, async (request, reply) => {
    const principal = person(request);
    await sessions.logout(principal.id, actorOf(principal));
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { logged_out: true };
  });

  routes.post('/v1/auth/token', { config: { scope: 'authenticated' } }, async (request) => {
    const principal = person(request);
    if (!sessionCookieOf(request)) throw new AirlockError('session_required', 'an access token is issued for a session cookie; programs log in with "tokens": true', { status: 400 });
    return sessions.grant(principal.id);
  });

  routes.post('/v1/auth/refresh', { config: AUTH_LIMIT, schema: { body: RefreshBody } }, async (request) => sessions.refresh(request.body.refresh_token));

  // RFC 7662: a form (or JSON), and a credential of its own rather than a principal's.
  const introspection = { config: { ...AUTH_LIMIT, openapi: { security: [{ introspection: [] }] } }, schema: { body: IntrospectBody, consumes: ['application/x-www-form-urlencoded', 'application/json'] } };
  routes.post('/v1/auth/introspect', introspection, async (request) => {
    if (!options.introspectSecret) throw new AirlockError('introspection_disabled', 'introspection is off: set AIRLOCK_INTROSPECT_SECRET to turn it on', { status: 404 });
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1] ?? (request.headers['x-introspect-secret'] as string | undefined);
    if (presented === undefined || !sameSecret(options.introspectSecret, presented)) {
      throw new AirlockError('unauthorized', 'introspection needs its own credential: Authorization: Bearer <AIRLOCK_INTROSPECT_SECRET>', { status: 401 });
    }
    const { token } = request.body;
    if (!isApiKey(token)) return sessions.introspect(token);
    const result = await keys.authenticate(token);
    if ('failure' in result) return { active: false };
    const key = await keys.get(result.principal.id);
    return {
      active: true,
      token_type: 'api_key',
      scope: [...result.principal.scopes].sort().join(' '),
      sub: result.principal.userId,
      username: result.principal.username,
      client_id: key?.prefix,
      ...(key?.expires_at ? { exp: Math.floor(Date.parse(key.expires_at) / 1000) } : {}),
      ...(key ? { iat: Math.floor(Date.parse(key.created_at) / 1000) } : {}),
    };
  });

  routes.post('/v1/auth/totp/enroll', { config: { scope: 'authenticated', ...AUTH_LIMIT } }, async (request) => {
    const principal = person(request);
    const enrollment = await mfa.enroll(principal.userId, actorOf(principal));
    return { ...enrollment, next: 'confirm with POST /v1/auth/totp/confirm {"code": "<current code>"}' };
  });

  routes.post('/v1/auth/totp/confirm', { config: { scope: 'authenticated', ...AUTH_LIMIT }, schema: { body: CodeBody } }, async (request) => {
    const principal = person(request);
    const { recovery_codes } = await mfa.confirm(principal.userId, request.body.code, actorOf(principal));
    return { enrolled: true, recovery_codes, note: 'the recovery codes are shown only now: each works once in place of a TOTP code' };
  });

  routes.post('/v1/challenges', { config: { scope: 'authenticated', openapi: { responses: { '201': { description: 'The challenge, to be approved with a TOTP code' } } } }, schema: { body: PlanChallengeBody } }, async (request, reply) => {
    const challenge = await challenges.plan(principalOf(request), request.body);
    return reply.status(201).send({ challenge });
  });

  routes.get('/v1/challenges/:id', { config: { scope: 'authenticated' }, schema: { params: ChallengeParams } }, async (request) => ({
    challenge: await challenges.status(principalOf(request), request.params.id),
  }));

  routes.post('/v1/challenges/:id/approve', { config: { scope: 'authenticated', ...AUTH_LIMIT }, schema: { params: ChallengeParams, body: CodeBody } }, async (request) => ({
    challenge: await challenges.approve(person(request), request.params.id, request.body.code),
  }));
}
