import { v7 as uuidv7 } from 'uuid';
import type { AuditLog } from '../audit/log.js';
import { AirlockError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { AuditEventsTable } from '../store/tables.js';
import { IncidentData, IncidentInput, IncidentQuery, type Incident, type IncidentFilter } from './schema.js';

/** The audit action under which incidents are recorded. */
export const INCIDENT_ACTION = 'incident.recorded';

/** Incidents are audit events: recording one appends to the chain; listing reads them back from it. */
export class Incidents {
  constructor(private readonly deps: { readonly store: Store; readonly audit: AuditLog }) {}

  /** Reads a query given as text (the command line's options); refuses a bad one with a clear code. */
  static filterOf(query: Record<string, string | undefined>): IncidentFilter {
    const parsed = IncidentQuery.safeParse(Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined)));
    if (!parsed.success) {
      throw new AirlockError('incident_query_invalid', `the query is invalid: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`, { status: 400 });
    }
    return parsed.data;
  }

  /** Checks an incident as reported; refuses it with `incident_invalid`, naming every problem. */
  static inputOf(input: unknown): IncidentInput {
    const parsed = IncidentInput.safeParse(input);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((issue) => ({ path: issue.path.join('.') || '/', message: issue.message }));
      throw new AirlockError('incident_invalid', `the incident is invalid: ${errors.map((error) => `${error.path}: ${error.message}`).join('; ')}`, { status: 400, details: { errors } });
    }
    return parsed.data;
  }

  /** Validates and records an incident; nothing is appended when the input is refused. */
  async record(actor: string, input: unknown): Promise<Incident> {
    const incident = Incidents.inputOf(input);
    const id = uuidv7();
    const [event] = await this.deps.store.transaction(async (tx) => {
      if (incident.approval_id) {
        const found = await tx.db.selectFrom('approvals').select('id').where('id', '=', incident.approval_id).executeTakeFirst();
        if (!found) throw new AirlockError('approval_not_found', `no request ${incident.approval_id}`, { status: 404 });
      }
      return this.deps.audit.append(tx, {
        actor,
        action: INCIDENT_ACTION,
        subject: { type: 'incident', id },
        ...(incident.target ? { target: incident.target } : {}),
        ...(incident.environment ? { environment: incident.environment } : {}),
        data: {
          severity: incident.severity,
          title: incident.title,
          ...(incident.summary ? { summary: incident.summary } : {}),
          ...(incident.approval_id ? { approval_id: incident.approval_id } : {}),
        },
      });
    });
    return incidentOf(event as AuditEventsTable) as Incident;
  }

  /** Incidents, newest first, read from the chain. */
  list(filter: IncidentFilter): Promise<Incident[]> {
    return listIncidents(this.deps.store, filter);
  }
}

/** Incidents, newest first, read from the chain (by the action index); needs only the store. */
export async function listIncidents(store: Store, filter: IncidentFilter): Promise<Incident[]> {
  const { since, severity, limit } = filter;
  const found: Incident[] = [];
  let before: number | undefined;
  const page = severity ? 500 : limit;
  for (;;) {
    let select = store.db.selectFrom('audit_events').selectAll().where('action', '=', INCIDENT_ACTION).orderBy('seq', 'desc').limit(page);
    if (since) select = select.where('time', '>=', new Date(since).toISOString());
    if (before !== undefined) select = select.where('seq', '<', before);
    const rows = await select.execute();
    for (const row of rows) {
      const incident = incidentOf(row);
      if (incident && (!severity || severity.includes(incident.severity))) found.push(incident);
      if (found.length >= limit) return found;
    }
    if (rows.length < page) return found;
    before = Number((rows[rows.length - 1] as AuditEventsTable).seq);
  }
}

function incidentOf(row: AuditEventsTable): Incident | undefined {
  const data = IncidentData.safeParse(JSON.parse(row.data));
  if (!data.success || row.subject_type !== 'incident' || !row.subject_id) return undefined;
  return {
    id: row.subject_id,
    seq: Number(row.seq),
    time: row.time,
    reported_by: row.actor,
    severity: data.data.severity,
    title: data.data.title,
    summary: data.data.summary ?? null,
    target: row.target,
    environment: row.environment,
    approval_id: data.data.approval_id ?? null,
    hash: row.hash,
  };
}
