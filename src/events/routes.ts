import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../http/auth.js';
import type { EventHub } from './hub.js';
import type { Outbox } from './outbox.js';
import { PUBLISHED_TYPES, visibleTo, type DomainEvent } from './types.js';

const HEARTBEAT_MS = 15_000;

const EventsQuery = z.strictObject({
  /** Resume after this seq (as Last-Event-ID does); without either, only new events. */
  after: z.coerce.number().int().min(0).optional(),
  /** Comma-separated event types. */
  types: z
    .string()
    .optional()
    .transform((value) => (value ? value.split(',').map((type) => type.trim()) : undefined))
    .refine((types) => types === undefined || types.every((type) => PUBLISHED_TYPES.includes(type)), { error: `types are ${PUBLISHED_TYPES.join(', ')}` }),
});

/** Headers read besides the credential; any others pass. */
const EventsHeaders = z.looseObject({
  'last-event-id': z.string().optional().describe('Resume after this seq: what EventSource sends when it reconnects (a value that is not a seq is ignored)'),
});

const STREAM_DOCS = {
  responses: { '200': { description: 'Server-Sent Events: `id` is the seq, `event` the type, `data` the event as JSON; comments keep the connection alive', contentType: 'text/event-stream' } },
};

function frame(event: DomainEvent): string {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * GET /v1/events: Server-Sent Events of what the principal may see, from the outbox. With Last-Event-ID
 * (or ?after=) it first replays what came after that id, then goes on live; nothing falls in between,
 * because the live feed is subscribed before the replay and deduplicated by seq.
 */
export async function eventRoutes(app: FastifyInstance, options: { outbox: Outbox; hub: EventHub }): Promise<void> {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.withTypeProvider<ZodTypeProvider>().get('/v1/events', { config: { scope: 'authenticated', openapi: STREAM_DOCS }, schema: { querystring: EventsQuery, headers: EventsHeaders } }, async (request, reply) => {
    const lastEventId = Number(request.headers['last-event-id']);
    const after = Number.isSafeInteger(lastEventId) && lastEventId >= 0 ? lastEventId : (request.query.after ?? options.hub.position);
    const types = request.query.types;
    let sent = after;
    let backlog: DomainEvent[] | undefined = [];
    const wanted = (event: DomainEvent) => event.seq > sent && (types === undefined || types.includes(event.type)) && visibleTo(principalOf(request), event);
    const write = (events: readonly DomainEvent[]) => {
      const chunk = events.filter(wanted);
      if (chunk.length === 0) return;
      sent = (chunk.at(-1) as DomainEvent).seq;
      reply.raw.write(chunk.map(frame).join(''));
    };

    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    reply.raw.write(`retry: 2000\n: airlock events after ${after}\n\n`);
    const unsubscribe = options.hub.subscribe((events) => (backlog ? backlog.push(...events) : write(events)));
    const heartbeat = setInterval(() => reply.raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const end = () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(end);
      reply.raw.end();
    };
    open.add(end);
    reply.raw.on('close', end);

    for (let page = await options.outbox.after(sent); page.length > 0; page = await options.outbox.after(sent)) {
      const before = sent;
      write(page);
      if (sent === before) sent = (page.at(-1) as DomainEvent).seq; // a page of nothing visible: move on
    }
    write(backlog);
    backlog = undefined;
  });
}
