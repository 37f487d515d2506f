import type { KeyObject } from 'node:crypto';
import type { Store } from '../store/store.js';
import { readHead, type AuditLog } from './log.js';
import { eventJson } from './mirror.js';
import { readEvents } from './read.js';
import { verifyChain, type VerifyReport } from './verify.js';

/** The action under which each verification through the API is recorded, with its result. */
export const VERIFIED_ACTION = 'audit.verified';

export interface VerificationRecord {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly ok: boolean;
  readonly count: number;
  readonly head_seq: number;
  readonly head_hash: string;
  readonly checkpoints: number;
  readonly duration_ms: number;
  readonly problem: { readonly seq: number; readonly reason: string } | null;
}

export interface AuditStatus {
  readonly head: { readonly seq: number; readonly hash: string };
  readonly checkpoints: {
    readonly count: number;
    /** The newest signed checkpoint, if any. */
    readonly last: { readonly seq: number; readonly hash: string; readonly time: string; readonly key_id: string } | null;
    /** Events appended since the newest checkpoint (signed at the next one). */
    readonly unsigned_events: number;
  };
  /** The key this server signs checkpoints with and verifies them against. */
  readonly key_id: string;
  /** The newest verification recorded in the chain, if any. */
  readonly last_verification: VerificationRecord | null;
}

/** The chain as it stands: head, checkpoints and the last recorded verification. */
export async function auditStatus(store: Store, keyId: string): Promise<AuditStatus> {
  const head = await readHead(store.db);
  const last = await store.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const counted = await store.db.selectFrom('audit_checkpoints').select((eb) => eb.fn.countAll().as('count')).executeTakeFirst();
  const verified = await store.db.selectFrom('audit_events').selectAll().where('action', '=', VERIFIED_ACTION).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const data = verified ? (JSON.parse(verified.data) as Omit<VerificationRecord, 'seq' | 'time' | 'actor'>) : undefined;
  return {
    head: { seq: Number(head.seq), hash: head.hash },
    checkpoints: {
      count: Number(counted?.count ?? 0),
      last: last ? { seq: Number(last.seq), hash: last.hash, time: last.time, key_id: last.key_id } : null,
      unsigned_events: Number(head.seq) - Number(last?.seq ?? 0),
    },
    key_id: keyId,
    last_verification: verified && data ? { seq: Number(verified.seq), time: verified.time, actor: verified.actor, ...data } : null,
  };
}

/**
 * Verifies the chain (see verifyChain), telling `onProgress` how far it got, and records the result in
 * the chain itself, so everyone can see when it was last checked, by whom, and what was found.
 */
export async function verifyAndRecord(
  deps: { store: Store; audit: AuditLog; publicKeys: ReadonlyMap<string, KeyObject> },
  actor: string,
  onProgress: (checked: number, total: number) => void,
): Promise<{ report: VerifyReport; record: VerificationRecord }> {
  const report = await verifyChain(deps.store, deps.publicKeys, { onProgress });
  const data = {
    ok: report.ok,
    count: report.count,
    head_seq: report.headSeq,
    head_hash: report.headHash,
    checkpoints: report.checkpoints,
    duration_ms: Math.round(report.durationMs),
    problem: report.problem ?? null,
  };
  const [event] = await deps.audit.record({ actor, action: VERIFIED_ACTION, data });
  return { report, record: { seq: Number(event?.seq ?? 0), time: event?.time ?? new Date().toISOString(), actor, ...data } };
}

/** The chain as JSON lines (the rows as `airlock audit export` prints them), after a seq, a page at a time. */
export async function* exportLines(store: Store, afterSeq: number): AsyncGenerator<string> {
  for await (const page of readEvents(store, { afterSeq, pageSize: 5000 })) {
    yield page.map((event) => `${eventJson(event)}\n`).join('');
  }
}
