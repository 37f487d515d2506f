import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../http/auth.js';
import { actorOf, type ApiKeys } from './api-keys.js';
import { ScopeSchema } from './scopes.js';

const CreateKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(ScopeSchema).min(1).max(20),
});

const KeyParams = z.strictObject({ id: z.string().min(1).max(100) });

/** /v1/whoami for anyone with a key; /v1/keys for admins. */
export async function identityRoutes(app: FastifyInstance, options: { keys: ApiKeys }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { keys } = options;

  routes.get('/v1/whoami', { config: { scope: 'authenticated' } }, async (request) => {
    const principal = principalOf(request);
    return { id: principal.id, kind: principal.kind, name: principal.name, scopes: [...principal.scopes].sort() };
  });

  routes.get('/v1/keys', { config: { scope: 'admin' } }, async () => ({ keys: await keys.list() }));

  routes.post('/v1/keys', { config: { scope: 'admin' }, schema: { body: CreateKeyBody } }, async (request, reply) => {
    const created = await keys.create({ name: request.body.name, scopes: request.body.scopes, actor: actorOf(principalOf(request)) });
    return reply.status(201).send({ key: created.key, ...created.info, note: 'the key is shown only now: store it' });
  });

  routes.delete('/v1/keys/:id', { config: { scope: 'admin' }, schema: { params: KeyParams } }, async (request) => ({
    key: await keys.revoke(request.params.id, actorOf(principalOf(request))),
  }));
}
