import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { principalOf } from '../../http/auth.js';
import { CreateWebhookBody, DeliveriesQuery, RedriveBody, WebhookParams } from './schema.js';
import type { Webhooks } from './service.js';

/** /v1/webhooks: subscriptions, their deliveries and re-drives; admins only. */
export async function webhookRoutes(app: FastifyInstance, options: { webhooks: Webhooks }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { webhooks } = options;

  routes.get('/v1/webhooks', { config: { scope: 'admin' } }, async () => ({ webhooks: await webhooks.list() }));

  routes.post('/v1/webhooks', { config: { scope: 'admin', openapi: { responses: { '201': { description: 'The subscription and its signing secret (shown only now)' } } } }, schema: { body: CreateWebhookBody } }, async (request, reply) => {
    const created = await webhooks.create(principalOf(request), request.body);
    return reply.status(201).send({ ...created, note: 'the secret is shown only now: give it to the receiver, which verifies each delivery with it' });
  });

  routes.get('/v1/webhooks/:id', { config: { scope: 'admin' }, schema: { params: WebhookParams } }, async (request) => webhooks.get(request.params.id));

  routes.delete('/v1/webhooks/:id', { config: { scope: 'admin' }, schema: { params: WebhookParams } }, async (request) => ({
    webhook: await webhooks.remove(principalOf(request), request.params.id),
  }));

  routes.get('/v1/webhooks/:id/deliveries', { config: { scope: 'admin' }, schema: { params: WebhookParams, querystring: DeliveriesQuery } }, async (request) => ({
    deliveries: await webhooks.deliveries(request.params.id, request.query),
  }));

  routes.post('/v1/webhooks/:id/redrive', { config: { scope: 'admin' }, schema: { params: WebhookParams, body: RedriveBody } }, async (request) =>
    webhooks.redrive(principalOf(request), request.params.id, request.body?.delivery_id),
  );
}
