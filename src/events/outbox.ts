import { sql } from 'kysely';
import type { AuditEvent } from '../audit/canonical.js';
import type { Store, Tx } from '../store/index.js';
import type { OutboxTable } from '../store/tables.js';
import { EVENT_TYPES, type DomainEvent } from './types.js';

/** PostgreSQL channel that tells every instance "the outbox grew" (NOTIFY is delivered on commit). */
export const OUTBOX_CHANNEL = 'airlock_outbox';

export function eventOf(row: OutboxTable): DomainEvent {
  return {
    seq: Number(row.seq),
    type: row.type,
    time: row.time,
    actor: row.actor,
    subject: row.subject_type && row.subject_id ? { type: row.subject_type, id: row.subject_id } : null,
    environment: row.environment,
    target: row.target,
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

/**
 * The transactional outbox: the domain events among audit events are written by the audit log's tap,
 * in the transaction and under the chain-head lock that appends them, so an event exists exactly when
 * its change committed, and seq order is commit order.
 */
export class Outbox {
  /** Called after a commit that wrote events (this instance's subscribers wake at once). */
  onWritten: (() => void) | undefined;

  constructor(private readonly store: Store) {}

  /** The audit log's tap: inside the appending transaction. */
  readonly tap = async (tx: Tx, events: readonly AuditEvent[]): Promise<void> => {
    const rows: OutboxTable[] = events
      .filter((event) => EVENT_TYPES[event.action] !== undefined)
      .map((event) => ({
        seq: event.seq,
        type: EVENT_TYPES[event.action] as string,
        time: event.time,
        actor: event.actor,
        subject_type: event.subject_type,
        subject_id: event.subject_id,
        environment: event.environment,
        target: event.target,
        data: event.data,
      }));
    if (rows.length === 0) return;
    await tx.db.insertInto('outbox').values(rows).execute();
    if (this.store.dialect === 'postgres') await sql`select pg_notify(${OUTBOX_CHANNEL}, ${String(rows.at(-1)?.seq)})`.execute(tx.db);
    tx.onCommit(() => this.onWritten?.());
  };

  /** Events after `seq`, oldest first. */
  async after(seq: number, limit = 500): Promise<DomainEvent[]> {
    const rows = await this.store.db.selectFrom('outbox').selectAll().where('seq', '>', seq).orderBy('seq').limit(limit).execute();
    return rows.map(eventOf);
  }

  /**
   * Removes events older than `before` that every channel has fanned out, and finished deliveries
   * (with their attempts) of that age; dead deliveries stay until re-driven or the event goes.
   */
  async prune(before: Date): Promise<{ events: number; deliveries: number }> {
    const cutoff = before.toISOString();
    const cursor = await this.store.db.selectFrom('outbox_cursors').select((eb) => eb.fn.min('last_seq').as('seq')).executeTakeFirst();
    const fannedOut = cursor?.seq === null || cursor?.seq === undefined ? Number.MAX_SAFE_INTEGER : Number(cursor.seq);
    return this.store.transaction(async (tx) => {
      const done = tx.db.selectFrom('deliveries').select('id').where('status', '=', 'delivered').where('delivered_at', '<', cutoff);
      await tx.db.deleteFrom('delivery_attempts').where('delivery_id', 'in', done).execute();
      const deliveries = await tx.db.deleteFrom('deliveries').where('status', '=', 'delivered').where('delivered_at', '<', cutoff).executeTakeFirst();
      const pending = tx.db.selectFrom('deliveries').select('event_seq');
      const events = await tx.db.deleteFrom('outbox').where('time', '<', cutoff).where('seq', '<=', fannedOut).where('seq', 'not in', pending).executeTakeFirst();
      return { events: Number(events.numDeletedRows), deliveries: Number(deliveries.numDeletedRows) };
    });
  }

  /** The newest event's seq (0 when there is none). */
  async head(): Promise<number> {
    const row = await this.store.db.selectFrom('outbox').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
    return Number(row?.seq ?? 0);
  }
}
