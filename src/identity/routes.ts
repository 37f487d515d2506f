import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { principalOf } from '../http/auth.js';
import type { ApiKeys } from './api-keys.js';
import type { Mfa } from './mfa.js';
import { actorOf, type Principal } from './principal.js';
import { CreateKeyBody, CreateUserBody, KeyParams, PasswordBody, RoleBody, UserParams } from './schema.js';
import type { Users } from './users.js';

export function whoami(principal: Principal): Record<string, unknown> {
  return {
    id: principal.id,
    kind: principal.kind,
    name: principal.name,
    user: { id: principal.userId, username: principal.username, role: principal.role },
    role: principal.role,
    scopes: [...principal.scopes].sort(),
    // How this principal reached the server: an API key (agents, scripts) or a person's login.
    mode: principal.kind === 'api_key' ? 'api_key' : 'user',
    environments: principal.environments ?? null,
    targets: principal.targets ?? null,
  };
}

/** /v1/whoami for anyone; /v1/keys for everyone's own keys (admins: all); /v1/users for admins. */
export async function identityRoutes(app: FastifyInstance, options: { keys: ApiKeys; users: Users; mfa: Mfa }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { keys, users, mfa } = options;

  for (const path of ['/v1/whoami', '/v1/auth/whoami']) routes.get(path, { config: { scope: 'authenticated' } }, async (request) => whoami(principalOf(request)));

  routes.get('/v1/keys', { config: { scope: 'authenticated' } }, async (request) => ({ keys: await keys.list(principalOf(request)) }));

  routes.post('/v1/keys', { config: { scope: 'authenticated', openapi: { responses: { '201': { description: 'The key (shown only now) and what it may do' } } } }, schema: { body: CreateKeyBody } }, async (request, reply) => {
    const { body } = request;
    const created = await keys.create({
      by: principalOf(request),
      name: body.name,
      scopes: body.scopes,
      ...(body.user ? { owner: body.user } : {}),
      ...(body.expires_at ? { expiresAt: body.expires_at } : {}),
      ...(body.environments ? { environments: body.environments } : {}),
      ...(body.targets ? { targets: body.targets } : {}),
    });
    return reply.status(201).send({ key: created.key, ...created.info, note: 'the key is shown only now: store it' });
  });

  routes.delete('/v1/keys/:id', { config: { scope: 'authenticated' }, schema: { params: KeyParams } }, async (request) => ({
    key: await keys.revoke(request.params.id, principalOf(request)),
  }));

  routes.get('/v1/users', { config: { scope: 'admin' } }, async () => ({ users: await users.list() }));

  routes.post('/v1/users', { config: { scope: 'admin', openapi: { responses: { '201': { description: 'The user; a generated password is shown only now' } } } }, schema: { body: CreateUserBody } }, async (request, reply) => {
    const { body } = request;
    const created = await users.create({ username: body.username, role: body.role, kind: body.kind, actor: actorOf(principalOf(request)), ...(body.password ? { password: body.password } : {}) });
    return reply.status(201).send({ user: created.user, ...(created.password ? { password: created.password, note: 'the password is shown only now' } : {}) });
  });

  routes.get('/v1/users/:username', { config: { scope: 'admin' }, schema: { params: UserParams } }, async (request) => ({ user: await users.get(request.params.username) }));

  routes.post('/v1/users/:username/disable', { config: { scope: 'admin' }, schema: { params: UserParams } }, async (request) =>
    users.disable(request.params.username, actorOf(principalOf(request))),
  );
  routes.post('/v1/users/:username/enable', { config: { scope: 'admin' }, schema: { params: UserParams } }, async (request) =>
    users.enable(request.params.username, actorOf(principalOf(request))),
  );
  routes.post('/v1/users/:username/password', { config: { scope: 'admin' }, schema: { params: UserParams, body: PasswordBody } }, async (request) =>
    users.resetPassword(request.params.username, actorOf(principalOf(request)), request.body?.password),
  );
  routes.post('/v1/users/:username/role', { config: { scope: 'admin' }, schema: { params: UserParams, body: RoleBody } }, async (request) =>
    users.setRole(request.params.username, request.body.role, actorOf(principalOf(request))),
  );
  routes.post('/v1/users/:username/reset-totp', { config: { scope: 'admin' }, schema: { params: UserParams } }, async (request) => {
    const user = await users.get(request.params.username);
    await mfa.reset(user.id, actorOf(principalOf(request)));
    return { user: await users.get(request.params.username) };
  });
}
