import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { messageOf } from '../errors.js';
import { principalOf } from '../http/auth.js';
import { actorOf } from '../identity/principal.js';
import type { Store } from '../store/store.js';
import { loadPublicKeys, retiredAuditKeyFiles, type AuditSigner } from './keys.js';
import { readHead, type AuditLog } from './log.js';
import { AuditQuery, queryAudit } from './query.js';
import { auditStatus, exportLines, verifyAndRecord } from './status.js';

const ExportQuery = z.strictObject({
  /** Only events after this seq. */
  after: z.coerce.number().int().min(0).default(0),
});

/** Progress lines of a verification are sent at most this often (plus the first and the last). */
const PROGRESS_MS = 100;

/**
 * GET /v1/audit/events: the newest events first; one's own unless the principal holds audit:read.
 * With audit:read: GET /v1/audit/status (head, checkpoints, last verification), POST /v1/audit/verify
 * (a verification streamed as NDJSON progress, recorded in the chain) and GET /v1/audit/export (JSONL).
 */
export async function auditRoutes(app: FastifyInstance, options: { store: Store; audit: AuditLog; signer: AuditSigner; keysDir?: string }): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { store, audit, signer } = options;
  // Read at each verification: a rotation since the start retires a key into the keys folder. Keys the
  // chain's own rotations introduce are followed by the verification itself.
  const publicKeys = () => new Map([...(options.keysDir ? loadPublicKeys(retiredAuditKeyFiles(options.keysDir)) : []), [signer.keyId, signer.publicKey]]);

  routes.get('/v1/audit/events', { config: { scope: 'approvals:read' }, schema: { querystring: AuditQuery } }, async (request) => {
    const { events, all } = await queryAudit(store, principalOf(request), request.query);
    return { events, scope: all ? 'all' : 'own', next_before_seq: events.length === request.query.limit ? events.at(-1)?.seq : null };
  });

  routes.get('/v1/audit/status', { config: { scope: 'audit:read' } }, async () => auditStatus(store, signer.keyId));

  routes.post('/v1/audit/verify', { config: { scope: 'audit:read', openapi: { responses: { '200': { description: 'NDJSON: `{"type":"progress","checked","total"}` lines, then one `result` (or `error`) line', contentType: 'application/x-ndjson' } } } } }, async (request, reply) => {
    const actor = actorOf(principalOf(request));
    const out = new PassThrough();
    const line = (value: unknown): void => {
      if (!out.writableEnded) out.write(`${JSON.stringify(value)}\n`);
    };
    let sentAt = 0;
    const progress = (checked: number, total: number): void => {
      const now = performance.now();
      if (checked !== 0 && checked !== total && now - sentAt < PROGRESS_MS) return;
      sentAt = now;
      line({ type: 'progress', checked, total });
    };
    Promise.resolve()
      .then(() => verifyAndRecord({ store, audit, publicKeys: publicKeys() }, actor, progress))
      .then(({ record }) => line({ type: 'result', ...record }))
      .catch((error: unknown) => {
        request.log.error({ error: messageOf(error) }, 'audit verification failed');
        line({ type: 'error', message: messageOf(error) });
      })
      .finally(() => out.end());
    return reply.type('application/x-ndjson; charset=utf-8').header('cache-control', 'no-store').send(out);
  });

  routes.get('/v1/audit/export', { config: { scope: 'audit:read', openapi: { responses: { '200': { description: 'The events after `after`, one JSON object a line (JSONL)', contentType: 'application/x-ndjson' } } } }, schema: { querystring: ExportQuery } }, async (request, reply) => {
    const head = await readHead(store.db);
    await audit.record({ actor: actorOf(principalOf(request)), action: 'audit.exported', data: { after: request.query.after, head_seq: head.seq, via: 'http' } });
    return reply
      .type('application/x-ndjson; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="airlock-audit-${request.query.after + 1}-${head.seq}.jsonl"`)
      .send(Readable.from(exportLines(store, request.query.after)));
  });
}
