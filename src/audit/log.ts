import { v7 as uuidv7 } from 'uuid';
import { Statement, allColumns, insertStatement } from '../store/statements.js';
import type { Store, Tx } from '../store/store.js';
import type { AuditEventsTable } from '../store/tables.js';
import { canonicalEvent, canonicalJson, chainHash, type AuditEvent } from './canonical.js';
import type { AuditSigner } from './keys.js';
import type { AuditMirror } from './mirror.js';

export interface AuditEventInput {
  /** Who acted: a user, a key, `system`. */
  readonly actor: string;
  /** What happened, dotted: `server.started`, `approval.decided`. */
  readonly action: string;
  readonly subject?: { readonly type: string; readonly id: string };
  readonly environment?: string;
  readonly target?: string;
  readonly data?: Record<string, unknown>;
}

export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
  readonly checkpointSeq: number;
}

export interface Checkpoint {
  readonly seq: number;
  readonly hash: string;
  readonly time: string;
  readonly key_id: string;
  readonly signature: string;
  /** At an `audit.key_rotated` event: the key handed over from, and its signature of `handOverMessage`. */
  readonly prev_key_id?: string | null;
  readonly prev_signature?: string | null;
}

/** The action of the event that introduces a new audit key (see `AuditLog.rotateKey`). */
export const KEY_ROTATED_ACTION = 'audit.key_rotated';

export interface AuditLogOptions {
  readonly signer: AuditSigner;
  /** Sign the head at least every this many events. */
  readonly checkpointEvery: number;
  readonly mirror?: AuditMirror;
  /** Told how many events each commit added (metrics). */
  readonly onCommitted?: (events: readonly AuditEvent[]) => void;
  /** Called inside the appending transaction, under the chain-head lock: what must commit with the events (the event outbox). */
  readonly tap?: (tx: Tx, events: readonly AuditEvent[]) => Promise<void>;
}

/** Rows per INSERT: well under SQLite's and PostgreSQL's bound-parameter limits. */
const INSERT_CHUNK = 500;

const EVENT_COLUMNS = allColumns<AuditEventsTable>()('seq', 'id', 'time', 'actor', 'action', 'subject_type', 'subject_id', 'environment', 'target', 'data', 'prev_hash', 'hash');
/** The INSERT of n events, made on first use (most appends are of one or two events). */
const insertEvents = new Map<number, Statement>();
function insertEventsOf(count: number): Statement {
  let statement = insertEvents.get(count);
  if (!statement) {
    statement = insertStatement('audit_events', EVENT_COLUMNS, count);
    insertEvents.set(count, statement);
  }
  return statement;
}
const LOCK_HEAD = new Statement<{ seq: number; hash: string; checkpoint_seq: number }>({
  sqlite: 'select seq, hash, checkpoint_seq from audit_head where id = 1',
  // SQLite's BEGIN IMMEDIATE already holds the lock.
  postgres: 'select seq, hash, checkpoint_seq from audit_head where id = 1 for update',
});
const MOVE_HEAD = new Statement('update audit_head set seq = ?, hash = ?, checkpoint_seq = ?, updated_at = ? where id = 1');

/** What a checkpoint signs: the position and hash of the head, the time and the key. */
export function checkpointMessage(checkpoint: Omit<Checkpoint, 'signature'>): string {
  return canonicalJson({ chain: 'airlock-audit/v1', hash: checkpoint.hash, key_id: checkpoint.key_id, seq: checkpoint.seq, time: checkpoint.time });
}

/**
 * What the old key signs when it hands over to a new one: the same position as the checkpoint, and
 * the new key's id. No ordinary checkpoint has this form, so only the old key's holder can vouch for a
 * new key; a checkpoint that merely covers a rotation event vouches for nothing.
 */
export function handOverMessage(handOver: { seq: number; hash: string; time: string; key_id: string; new_key_id: string }): string {
  return canonicalJson({
    chain: 'airlock-audit/v1',
    hash: handOver.hash,
    key_id: handOver.key_id,
    new_key_id: handOver.new_key_id,
    purpose: 'key-rotation',
    seq: handOver.seq,
    time: handOver.time,
  });
}

/**
 * The append-only, hash-linked audit chain. Every append locks the single head row, so appends from
 * any number of processes on one database form one order.
 */
export class AuditLog {
  constructor(
    private readonly store: Store,
    private readonly options: AuditLogOptions,
  ) {}

  /** Appends events inside the caller's transaction: they commit or vanish with the change they record. */
  append(tx: Tx, input: AuditEventInput | readonly AuditEventInput[]): Promise<AuditEvent[]> {
    const inputs = Array.isArray(input) ? (input as readonly AuditEventInput[]) : [input as AuditEventInput];
    return this.appendEvents(tx, inputs, true);
  }

  /** Appends under the head lock; signs a checkpoint when one is due and `checkpoints` allows it. */
  private async appendEvents(tx: Tx, inputs: readonly AuditEventInput[], checkpoints: boolean): Promise<AuditEvent[]> {
    if (inputs.length === 0) return [];
    const head = await lockHead(tx);
    const time = new Date().toISOString();
    let { seq, hash } = head;
    const events: AuditEvent[] = inputs.map((event) => {
      seq += 1;
      const fields = {
        seq,
        id: uuidv7(),
        time,
        actor: event.actor,
        action: event.action,
        subject_type: event.subject?.type ?? null,
        subject_id: event.subject?.id ?? null,
        environment: event.environment ?? null,
        target: event.target ?? null,
        data: canonicalJson(event.data ?? {}),
      };
      const row = { ...fields, prev_hash: hash, hash: chainHash(hash, canonicalEvent(fields)) };
      hash = row.hash;
      return row;
    });
    for (let start = 0; start < events.length; start += INSERT_CHUNK) {
      const chunk = events.slice(start, start + INSERT_CHUNK);
      await insertEventsOf(chunk.length).run(tx, chunk.flatMap((event) => EVENT_COLUMNS.map((column) => event[column])));
    }
    let checkpointSeq = head.checkpointSeq;
    if (checkpoints && seq - checkpointSeq >= this.options.checkpointEvery) {
      await this.writeCheckpoint(tx, seq, hash);
      checkpointSeq = seq;
    }
    await MOVE_HEAD.run(tx, [seq, hash, checkpointSeq, time]);
    await this.options.tap?.(tx, events);
    tx.onCommit(() => {
      this.options.mirror?.write(events);
      this.options.onCommitted?.(events);
    });
    return events;
  }

  /** Appends in a transaction of its own, for events that record no other change. */
  record(input: AuditEventInput | readonly AuditEventInput[]): Promise<AuditEvent[]> {
    return this.store.transaction((tx) => this.append(tx, input));
  }

  /** Signs the head if it moved since the last checkpoint (the timer and shutdown call this). */
  checkpoint(): Promise<Checkpoint | undefined> {
    return this.store.transaction(async (tx) => {
      const head = await lockHead(tx);
      if (head.seq === head.checkpointSeq) return undefined;
      const checkpoint = await this.writeCheckpoint(tx, head.seq, head.hash);
      await tx.db.updateTable('audit_head').set({ checkpoint_seq: head.seq }).where('id', '=', 1).execute();
      return checkpoint;
    });
  }

  /**
   * Hands the chain over from this log's key to `next`: appends `input` (an `audit.key_rotated` event
   * carrying the new public key) and signs the head at it with both keys, in one transaction — a
   * checkpoint of `next` that also holds this key's signature of the hand-over. This log goes on
   * signing with its own key (a running server keeps the key it loaded until it restarts).
   */
  rotateKey(next: AuditSigner, input: AuditEventInput): Promise<{ event: AuditEvent; checkpoint: Checkpoint }> {
    return this.store.transaction(async (tx) => {
      const [event] = await this.appendEvents(tx, [input], false);
      if (!event) throw new Error('the rotation event was not appended');
      const time = new Date().toISOString();
      const handOver = { seq: event.seq, hash: event.hash, time, key_id: this.options.signer.keyId };
      const unsigned = { ...handOver, key_id: next.keyId };
      const checkpoint: Checkpoint = {
        ...unsigned,
        signature: next.sign(checkpointMessage(unsigned)),
        prev_key_id: this.options.signer.keyId,
        prev_signature: this.options.signer.sign(handOverMessage({ ...handOver, new_key_id: next.keyId })),
      };
      await tx.db.insertInto('audit_checkpoints').values(checkpoint).execute();
      await tx.db.updateTable('audit_head').set({ checkpoint_seq: event.seq }).where('id', '=', 1).execute();
      return { event, checkpoint };
    });
  }

  async head(): Promise<ChainHead> {
    return readHead(this.store.db);
  }

  private async writeCheckpoint(tx: Tx, seq: number, hash: string): Promise<Checkpoint> {
    const unsigned = { seq, hash, time: new Date().toISOString(), key_id: this.options.signer.keyId };
    const checkpoint = { ...unsigned, signature: this.options.signer.sign(checkpointMessage(unsigned)) };
    await tx.db.insertInto('audit_checkpoints').values(checkpoint).execute();
    return checkpoint;
  }
}

/** Reads the head row; in PostgreSQL under FOR UPDATE (SQLite's BEGIN IMMEDIATE already holds the lock). */
async function lockHead(tx: Tx): Promise<ChainHead> {
  const row = await LOCK_HEAD.first(tx, []);
  if (!row) throw new Error('the audit_head row is missing');
  return { seq: row.seq, hash: row.hash, checkpointSeq: row.checkpoint_seq };
}

export async function readHead(db: Store['db']): Promise<ChainHead> {
  const row = await db.selectFrom('audit_head').select(['seq', 'hash', 'checkpoint_seq']).where('id', '=', 1).executeTakeFirstOrThrow();
  return { seq: row.seq, hash: row.hash, checkpointSeq: row.checkpoint_seq };
}
