import { createHash, randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { AuditLog } from '../../audit/index.js';
import { AirlockError } from '../../errors.js';
import type { Dispatcher } from '../../events/index.js';
import { actorOf, type Principal, type SecretBox } from '../../identity/index.js';
import type { Store } from '../../store/index.js';
import type { DeliveriesTable, DeliveryAttemptsTable, WebhookSubscriptionsTable } from '../../store/tables.js';
import { originOf } from './channel.js';
import type { CreateWebhookInput, WebhookFormat } from './schema.js';

/** The channel name deliveries of subscriptions carry. */
const CHANNEL = 'webhook';

export interface WebhookView {
  readonly id: string;
  readonly url: string;
  readonly events: string[];
  readonly format: WebhookFormat;
  readonly description: string | null;
  readonly status: 'active' | 'removed';
  readonly created_by: string;
  readonly created_at: string;
  readonly removed_at: string | null;
}

export interface AttemptView {
  readonly attempt: number;
  readonly at: string;
  readonly outcome: 'delivered' | 'failed';
  readonly status_code: number | null;
  readonly error: string | null;
  readonly duration_ms: number;
}

export interface DeliveryView {
  /** The idempotency key: the `webhook-id` header of every attempt. */
  readonly id: string;
  readonly webhook_id: string;
  readonly event_seq: number;
  readonly event_type: string | null;
  readonly status: 'pending' | 'delivered' | 'dead';
  readonly attempts: number;
  readonly next_attempt_at: string | null;
  readonly last_error: string | null;
  readonly created_at: string;
  readonly delivered_at: string | null;
  readonly history: AttemptView[];
}

export type DeliveryCounts = Record<DeliveryView['status'], number>;

/** A Standard Webhooks signing secret: `whsec_` and the base64 of 24 random bytes. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function view(row: WebhookSubscriptionsTable): WebhookView {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    format: row.format as WebhookFormat,
    description: row.description,
    status: row.disabled_at ? 'removed' : 'active',
    created_by: row.created_by,
    created_at: row.created_at,
    removed_at: row.disabled_at,
  };
}

/**
 * What the audit log keeps of a URL: its origin and a hash of the whole, never the path or query
 * themselves (a Slack incoming-webhook URL is its own credential).
 */
function auditedUrl(url: string): { origin: string; url_sha256: string } {
  return { origin: originOf(url), url_sha256: createHash('sha256').update(url).digest('hex') };
}

function notFound(id: string): AirlockError {
  return new AirlockError('webhook_not_found', `no webhook ${id}`, { status: 404 });
}

/**
 * Webhook subscriptions: created with a signing secret (sealed at rest, shown once), listed, removed
 * (kept, with their deliveries, as history), and their deliveries inspected and re-driven. Every
 * change is audited in its own transaction; the secret never is.
 */
export class Webhooks {
  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly box: SecretBox;
      readonly dispatcher: Dispatcher;
    },
  ) {}

  /** A new subscription and its secret: the only time the secret leaves the server. */
  async create(principal: Principal, input: CreateWebhookInput): Promise<{ webhook: WebhookView; secret: string }> {
    const secret = newSecret();
    const row: WebhookSubscriptionsTable = {
      id: uuidv7(),
      url: input.url,
      events: JSON.stringify(input.events),
      format: input.format,
      secret_box: this.deps.box.seal(secret),
      description: input.description ?? null,
      created_by: actorOf(principal),
      created_at: new Date().toISOString(),
      disabled_at: null,
    };
    await this.deps.store.transaction(async (tx) => {
      await tx.db.insertInto('webhook_subscriptions').values(row).execute();
      await this.deps.audit.append(tx, {
        actor: row.created_by,
        action: 'webhook.created',
        subject: { type: 'webhook', id: row.id },
        data: { ...auditedUrl(row.url), events: input.events, format: row.format, description: row.description },
      });
    });
    return { webhook: view(row), secret };
  }

  /** The active subscriptions, oldest first. */
  async list(): Promise<WebhookView[]> {
    const rows = await this.deps.store.db.selectFrom('webhook_subscriptions').selectAll().where('disabled_at', 'is', null).orderBy('id').execute();
    return rows.map(view);
  }

  /** One subscription (a removed one too) and how many of its deliveries are in each state. */
  async get(id: string): Promise<{ webhook: WebhookView; deliveries: DeliveryCounts }> {
    const row = await this.row(id);
    const counts = await this.deps.store.db
      .selectFrom('deliveries')
      .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
      .where('channel', '=', CHANNEL)
      .where('destination', '=', id)
      .groupBy('status')
      .execute();
    const deliveries: DeliveryCounts = { pending: 0, delivered: 0, dead: 0 };
    for (const count of counts) deliveries[count.status as DeliveryView['status']] = Number(count.count);
    return { webhook: view(row), deliveries };
  }

  /**
   * Removes a subscription: nothing more is delivered to it (pending deliveries die at their next
   * attempt); it stays readable with its deliveries. Removing it again changes nothing.
   */
  async remove(principal: Principal, id: string): Promise<WebhookView> {
    return this.deps.store.transaction(async (tx) => {
      const row = await tx.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw notFound(id);
      if (row.disabled_at) return view(row);
      const removed = { ...row, disabled_at: new Date().toISOString() };
      await tx.db.updateTable('webhook_subscriptions').set({ disabled_at: removed.disabled_at }).where('id', '=', id).where('disabled_at', 'is', null).execute();
      await this.deps.audit.append(tx, { actor: actorOf(principal), action: 'webhook.deleted', subject: { type: 'webhook', id }, data: { ...auditedUrl(row.url) } });
      return view(removed);
    });
  }

  /** A subscription's deliveries, newest first, each with every attempt. */
  async deliveries(id: string, query: { status?: DeliveryView['status'] | undefined; limit: number }): Promise<DeliveryView[]> {
    await this.row(id);
    let select = this.deps.store.db
      .selectFrom('deliveries')
      .leftJoin('outbox', 'outbox.seq', 'deliveries.event_seq')
      .selectAll('deliveries')
      .select('outbox.type as event_type')
      .where('deliveries.channel', '=', CHANNEL)
      .where('deliveries.destination', '=', id);
    if (query.status) select = select.where('deliveries.status', '=', query.status);
    const rows = await select.orderBy('deliveries.id', 'desc').limit(query.limit).execute();
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    const attempts = await this.deps.store.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', 'in', ids).orderBy('delivery_id').orderBy('attempt').execute();
    return rows.map((row) => deliveryView(row, row.event_type, attempts.filter((attempt) => attempt.delivery_id === row.id)));
  }

  /**
   * Sends dead deliveries again: one (it must be this subscription's and dead) or every dead one of
   * the subscription. Each gets one more attempt; audited when anything was re-driven.
   */
  async redrive(principal: Principal, id: string, deliveryId?: string): Promise<{ redriven: number }> {
    return this.deps.store.transaction(async (tx) => {
      const row = await tx.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw notFound(id);
      if (row.disabled_at) throw new AirlockError('webhook_removed', `webhook ${id} was removed: its deliveries cannot be sent again`, { status: 409 });
      if (deliveryId !== undefined) {
        const delivery = await tx.db.selectFrom('deliveries').select('status').where('id', '=', deliveryId).where('channel', '=', CHANNEL).where('destination', '=', id).executeTakeFirst();
        if (!delivery) throw new AirlockError('delivery_not_found', `webhook ${id} has no delivery ${deliveryId}`, { status: 404 });
        if (delivery.status !== 'dead') throw new AirlockError('delivery_not_dead', `delivery ${deliveryId} is ${delivery.status}: only dead deliveries are re-driven`, { status: 409 });
      }
      const redriven = await this.deps.dispatcher.redrive({ channel: CHANNEL, destination: id, ...(deliveryId !== undefined ? { ids: [deliveryId] } : {}) }, tx);
      if (redriven > 0) {
        await this.deps.audit.append(tx, {
          actor: actorOf(principal),
          action: 'webhook.redriven',
          subject: { type: 'webhook', id },
          data: { redriven, delivery_id: deliveryId ?? null },
        });
      }
      return { redriven };
    });
  }

  private async row(id: string): Promise<WebhookSubscriptionsTable> {
    const row = await this.deps.store.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(id);
    return row;
  }
}

function deliveryView(row: DeliveriesTable, eventType: string | null, attempts: readonly DeliveryAttemptsTable[]): DeliveryView {
  const status = row.status as DeliveryView['status'];
  return {
    id: row.id,
    webhook_id: row.destination,
    event_seq: Number(row.event_seq),
    event_type: eventType,
    status,
    attempts: row.attempts,
    next_attempt_at: status === 'pending' ? row.next_attempt_at : null,
    last_error: row.last_error,
    created_at: row.created_at,
    delivered_at: row.delivered_at,
    history: attempts.map((attempt) => ({
      attempt: attempt.attempt,
      at: attempt.at,
      outcome: attempt.outcome as AttemptView['outcome'],
      status_code: attempt.status_code,
      error: attempt.error,
      duration_ms: attempt.duration_ms,
    })),
  };
}
