import { eventsAbout, type AuditEntry } from '../audit/index.js';
import { parseInstruction, SECTIONS, type ApprovalView, type Approvals } from '../approvals/index.js';
import type { Store } from '../store/index.js';

export interface ExecutionRecord {
  readonly id: string;
  readonly status: string;
  readonly exit_code: number | null;
  readonly output: string | null;
  readonly output_sha256: string | null;
  readonly truncated: boolean;
  readonly error: string | null;
  readonly receipt: string | null;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly duration_ms: number | null;
  readonly instance_id: string;
}

export interface RequestHistory {
  readonly request: ApprovalView;
  /** The instruction as written, and each of its ten sections as read (null where missing). */
  readonly instruction: { readonly text: string; readonly sections: Readonly<Record<string, string | null>> };
  /** Everything the audit chain holds about the request and its executions, oldest first. */
  readonly events: readonly AuditEntry[];
  readonly executions: readonly ExecutionRecord[];
}

/**
 * One request's whole story: the request, its instruction, every audit event about it (created, risk,
 * decisions and refusals, token minted, executions) and its executions with output and receipt.
 */
export async function requestHistory(deps: { store: Store; approvals: Approvals }, id: string): Promise<RequestHistory> {
  const request = await deps.approvals.get(id);
  const row = await deps.store.db.selectFrom('approvals').select('instruction').where('id', '=', id).executeTakeFirstOrThrow();
  const executions = await deps.store.db.selectFrom('executions').selectAll().where('approval_id', '=', id).orderBy('started_at').execute();
  const events = await eventsAbout(deps.store, [{ type: 'approval', id }, ...executions.map((execution) => ({ type: 'execution', id: execution.id }))]);
  const parsed = parseInstruction(row.instruction);
  return {
    request,
    instruction: { text: row.instruction, sections: Object.fromEntries(SECTIONS.map((section) => [section, parsed.sections[section] ?? null])) },
    events,
    executions: executions.map((execution) => ({
      id: execution.id,
      status: execution.status,
      exit_code: execution.exit_code,
      output: execution.output,
      output_sha256: execution.output_sha256,
      truncated: execution.truncated === 1,
      error: execution.error,
      receipt: execution.receipt,
      started_at: execution.started_at,
      finished_at: execution.finished_at,
      duration_ms: execution.duration_ms,
      instance_id: execution.instance_id,
    })),
  };
}
