import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { principalOf } from '../http/auth.js';
import type { Store } from '../store/store.js';
import { AuditQuery, queryAudit } from './query.js';

/** GET /v1/audit/events: the newest events first; one's own unless the principal holds audit:read. */
export async function auditRoutes(app: FastifyInstance, options: { store: Store }): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/v1/audit/events', { config: { scope: 'approvals:read' }, schema: { querystring: AuditQuery } }, async (request) => {
    const { events, all } = await queryAudit(options.store, principalOf(request), request.query);
    return { events, scope: all ? 'all' : 'own', next_before_seq: events.length === request.query.limit ? events.at(-1)?.seq : null };
  });
}
