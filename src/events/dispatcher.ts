import { randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { messageOf } from '../errors.js';
import type { Store } from '../store/index.js';
import type { Database, DeliveriesTable } from '../store/tables.js';
import type { EventHub } from './hub.js';
import { eventOf } from './outbox.js';
import type { DomainEvent } from './types.js';

/**
 * A way events leave Airlock (webhooks, Telegram). `destinations` decides, from the database only, who
 * gets an event; `send` carries one delivery out and throws when it did not arrive.
 */
export interface Channel {
  readonly name: string;
  /**
   * Reads through `db`, the fan-out's transaction: on SQLite's single connection a query on the store's
   * own handle would wait for that very transaction to end.
   */
  destinations(event: DomainEvent, db: Kysely<Database>): Promise<string[]>;
  send(event: DomainEvent, destination: string, delivery: { readonly id: string; readonly attempt: number }): Promise<{ statusCode?: number }>;
}

/** A failure that will not get better by retrying (a 4xx answer, a destination that is gone): dead at once. */
export class PermanentFailure extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

export interface DispatcherOptions {
  /** After this many failed attempts a delivery is dead (re-drivable). */
  readonly maxAttempts: number;
  /** The first retry waits about this long; each next one twice as long, with jitter, up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** How long a claimed delivery is another instance's to leave alone. */
  readonly leaseMs: number;
  readonly log: (message: string) => void;
}

const CLAIM_BATCH = 50;
const FAN_OUT_BATCH = 200;

/**
 * Turns outbox events into deliveries and carries them out, durably: each channel's cursor and the
 * deliveries it creates commit together, so an event is fanned out exactly once; a delivery is claimed
 * with a lease before it is sent, retried with exponential backoff and jitter, recorded attempt by
 * attempt, and dead after maxAttempts. A crash anywhere loses nothing: what was not marked delivered
 * is sent again after the restart (at least once; the delivery id is the idempotency key).
 */
export class Dispatcher {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly hub: EventHub,
    private readonly channels: readonly Channel[],
    private readonly options: DispatcherOptions,
  ) {}

  async start(): Promise<void> {
    if (this.channels.length === 0) return;
    // A channel seen for the first time starts at the newest event, not at the beginning of history.
    const now = new Date().toISOString();
    for (const channel of this.channels) {
      await this.store.db
        .insertInto('outbox_cursors')
        .values({ consumer: channel.name, last_seq: this.hub.position, updated_at: now })
        .onConflict((oc) => oc.column('consumer').doNothing())
        .execute();
    }
    this.unsubscribe = this.hub.subscribe(() => this.wake());
    this.timer = setInterval(() => this.wake(), Math.min(1000, this.options.baseDelayMs));
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.timer);
    await this.running;
  }

  /** Fans out and sends what is due (once at a time; a wake-up meanwhile runs it again after). */
  wake(): void {
    if (this.stopped || this.channels.length === 0) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.cycle()
      .catch((error: unknown) => this.options.log(`dispatcher: ${messageOf(error)}`))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Dead (or given) deliveries go back to pending, due now. */
  async redrive(filter: { ids?: readonly string[]; channel?: string }): Promise<number> {
    let update = this.store.db.updateTable('deliveries').set({ status: 'pending', next_attempt_at: new Date().toISOString(), lease_until: null }).where('status', '=', 'dead');
    if (filter.ids) update = update.where('id', 'in', [...filter.ids]);
    if (filter.channel) update = update.where('channel', '=', filter.channel);
    const result = await update.executeTakeFirst();
    this.wake();
    return Number(result.numUpdatedRows);
  }

  private async cycle(): Promise<void> {
    for (const channel of this.channels) while ((await this.fanOut(channel)) === FAN_OUT_BATCH);
    while ((await this.sendDue()) === CLAIM_BATCH);
  }

  /** One batch of a channel's events after its cursor → deliveries; cursor and deliveries in one transaction. */
  private async fanOut(channel: Channel): Promise<number> {
    return this.store.transaction(async (tx) => {
      const cursorQuery = tx.db.selectFrom('outbox_cursors').select('last_seq').where('consumer', '=', channel.name);
      // Another instance fanning out the same channel waits here, then sees the cursor it moved.
      const cursor = await (tx.dialect === 'postgres' ? cursorQuery.forUpdate() : cursorQuery).executeTakeFirst();
      if (!cursor) return 0;
      const rows = await tx.db.selectFrom('outbox').selectAll().where('seq', '>', Number(cursor.last_seq)).orderBy('seq').limit(FAN_OUT_BATCH).execute();
      if (rows.length === 0) return 0;
      const now = new Date().toISOString();
      const deliveries: DeliveriesTable[] = [];
      for (const event of rows.map(eventOf)) {
        for (const destination of await channel.destinations(event, tx.db)) {
          deliveries.push({ id: uuidv7(), channel: channel.name, destination, event_seq: event.seq, status: 'pending', attempts: 0, next_attempt_at: now, lease_until: null, last_error: null, created_at: now, delivered_at: null });
        }
      }
      if (deliveries.length > 0) {
        await tx.db.insertInto('deliveries').values(deliveries).onConflict((oc) => oc.columns(['channel', 'destination', 'event_seq']).doNothing()).execute();
      }
      await tx.db.updateTable('outbox_cursors').set({ last_seq: Number(rows.at(-1)?.seq), updated_at: now }).where('consumer', '=', channel.name).execute();
      return rows.length;
    });
  }

  /** Claims and sends the deliveries that are due: how many it claimed. */
  private async sendDue(): Promise<number> {
    const now = new Date().toISOString();
    const due = await this.store.db
      .selectFrom('deliveries')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('event_seq')
      .limit(CLAIM_BATCH)
      .execute();
    let claimed = 0;
    await Promise.all(
      due.map(async (delivery) => {
        if (!(await this.claim(delivery, now))) return;
        claimed += 1;
        await this.deliver(delivery);
      }),
    );
    return claimed;
  }

  private async claim(delivery: DeliveriesTable, now: string): Promise<boolean> {
    const lease = new Date(Date.now() + this.options.leaseMs).toISOString();
    const result = await this.store.db
      .updateTable('deliveries')
      .set({ lease_until: lease })
      .where('id', '=', delivery.id)
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  private async deliver(delivery: DeliveriesTable): Promise<void> {
    const channel = this.channels.find((candidate) => candidate.name === delivery.channel);
    const row = await this.store.db.selectFrom('outbox').selectAll().where('seq', '=', delivery.event_seq).executeTakeFirst();
    const attempt = delivery.attempts + 1;
    const started = performance.now();
    let outcome: { ok: true; statusCode?: number } | { ok: false; error: string; statusCode?: number; permanent: boolean };
    try {
      if (!channel) throw new PermanentFailure(`no channel ${delivery.channel} is configured`);
      if (!row) throw new PermanentFailure(`event ${delivery.event_seq} is gone`);
      const sent = await channel.send(eventOf(row), delivery.destination, { id: delivery.id, attempt });
      outcome = { ok: true, ...(sent.statusCode !== undefined ? { statusCode: sent.statusCode } : {}) };
    } catch (error) {
      const statusCode = (error as { statusCode?: number }).statusCode;
      outcome = { ok: false, error: messageOf(error).slice(0, 1000), ...(statusCode !== undefined ? { statusCode } : {}), permanent: error instanceof PermanentFailure };
    }
    const durationMs = Math.round(performance.now() - started);
    const at = new Date().toISOString();
    const dead = !outcome.ok && (outcome.permanent || attempt >= this.options.maxAttempts);
    await this.store.transaction(async (tx) => {
      await tx.db
        .insertInto('delivery_attempts')
        .values({ delivery_id: delivery.id, attempt, at, outcome: outcome.ok ? 'delivered' : 'failed', status_code: outcome.statusCode ?? null, error: outcome.ok ? null : outcome.error, duration_ms: durationMs })
        .execute();
      await tx.db
        .updateTable('deliveries')
        .set({
          attempts: attempt,
          status: outcome.ok ? 'delivered' : dead ? 'dead' : 'pending',
          delivered_at: outcome.ok ? at : null,
          last_error: outcome.ok ? null : outcome.error,
          next_attempt_at: outcome.ok || dead ? at : new Date(Date.now() + this.backoff(attempt)).toISOString(),
          lease_until: null,
        })
        .where('id', '=', delivery.id)
        .execute();
    });
    if (dead) this.options.log(`delivery ${delivery.id} (${delivery.channel} → ${delivery.destination}) is dead after ${attempt} attempt(s): ${outcome.ok ? '' : outcome.error}`);
  }

  /** Full jitter: a random wait up to base·2^(attempt-1), capped. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (attempt - 1));
    return Math.max(this.options.baseDelayMs / 2, randomInt(Math.max(1, Math.floor(ceiling))));
  }
}
