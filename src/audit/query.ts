import { z } from 'zod';
import { actorOf, type Principal } from '../identity/principal.js';
import { hasScope } from '../identity/scopes.js';
import type { Store } from '../store/store.js';
import type { AuditEventsTable } from '../store/tables.js';

/** GET /v1/audit/events and the MCP audit_query tool: the newest events first, filtered. */
export const AuditQuery = z.strictObject({
  action: z.string().min(1).max(100).optional(),
  actor: z.string().min(1).max(200).optional(),
  target: z.string().min(1).max(64).optional(),
  environment: z.string().min(1).max(32).optional(),
  /** Events about one request, execution or challenge. */
  subject_id: z.string().min(1).max(100).optional(),
  /** Only events older than this seq (the next page). */
  before_seq: z.coerce.number().int().min(1).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  /** Only events before this time. */
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
export type AuditQueryInput = z.infer<typeof AuditQuery>;

export interface AuditEntry {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly subject: { readonly type: string; readonly id: string } | null;
  readonly environment: string | null;
  readonly target: string | null;
  readonly data: unknown;
  readonly hash: string;
}

/** How many of one's own requests are looked at for "my events". */
const OWN_REQUESTS = 1000;

/**
 * Audit events as a principal may see them: everything with `audit:read`; otherwise only what it did
 * itself and what happened to its own requests (decisions, tokens, executions).
 */
export async function queryAudit(store: Store, principal: Principal, query: AuditQueryInput): Promise<{ events: AuditEntry[]; all: boolean }> {
  const all = hasScope(principal.scopes, 'audit:read');
  let own: string[] = [];
  if (!all) {
    own = (await store.db.selectFrom('approvals').select('id').where('requested_by', '=', principal.userId).orderBy('created_at', 'desc').limit(OWN_REQUESTS).execute()).map((row) => row.id);
    const executions = own.length === 0 ? [] : await store.db.selectFrom('executions').select('id').where('approval_id', 'in', own).execute();
    own.push(...executions.map((row) => row.id));
  }
  let select = store.db.selectFrom('audit_events').selectAll().orderBy('seq', 'desc').limit(query.limit);
  if (!all) {
    const actor = actorOf(principal);
    select = select.where((eb) => (own.length === 0 ? eb('actor', '=', actor) : eb.or([eb('actor', '=', actor), eb('subject_id', 'in', own)])));
  }
  if (query.action) select = select.where('action', '=', query.action);
  if (query.actor) select = select.where('actor', '=', query.actor);
  if (query.target) select = select.where('target', '=', query.target);
  if (query.environment) select = select.where('environment', '=', query.environment);
  if (query.subject_id) select = select.where('subject_id', '=', query.subject_id);
  if (query.before_seq) select = select.where('seq', '<', query.before_seq);
  if (query.since) select = select.where('time', '>=', new Date(query.since).toISOString());
  if (query.until) select = select.where('time', '<', new Date(query.until).toISOString());
  const rows = await select.execute();
  return { all, events: rows.map(entryOf) };
}

function entryOf(row: AuditEventsTable): AuditEntry {
  return {
    seq: Number(row.seq),
    time: row.time,
    actor: row.actor,
    action: row.action,
    subject: row.subject_type && row.subject_id ? { type: row.subject_type, id: row.subject_id } : null,
    environment: row.environment,
    target: row.target,
    data: JSON.parse(row.data) as unknown,
    hash: row.hash,
  };
}

/** Every event about these subjects (a request and its executions), oldest first; by the subject index. */
export async function eventsAbout(store: Store, subjects: ReadonlyArray<{ readonly type: string; readonly id: string }>, limit = 1000): Promise<AuditEntry[]> {
  if (subjects.length === 0) return [];
  const rows = await store.db
    .selectFrom('audit_events')
    .selectAll()
    .where((eb) => eb.or(subjects.map((subject) => eb.and([eb('subject_type', '=', subject.type), eb('subject_id', '=', subject.id)]))))
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map(entryOf);
}
