import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { principalOf } from '../http/auth.js';
import { actorOf } from '../identity/principal.js';
import { IncidentInput, IncidentQuery } from './schema.js';
import type { Incidents } from './service.js';

/** GET /v1/incidents (audit:read) and POST /v1/incidents (admin): incidents in the audit chain. */
export async function incidentRoutes(app: FastifyInstance, options: { incidents: Incidents }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { incidents } = options;

  routes.get('/v1/incidents', { config: { scope: 'audit:read' }, schema: { querystring: IncidentQuery } }, async (request) => ({
    incidents: await incidents.list(request.query),
  }));

  routes.post('/v1/incidents', { config: { scope: 'admin', openapi: { responses: { '201': { description: 'The incident as recorded, with its place in the audit chain' } } } }, schema: { body: IncidentInput } }, async (request, reply) => {
    const incident = await incidents.record(actorOf(principalOf(request)), request.body);
    return reply.status(201).send({ incident });
  });
}
