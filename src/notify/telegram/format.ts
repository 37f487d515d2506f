import type { ApprovalView } from '../../approvals/index.js';
import { parseInstruction } from '../../approvals/index.js';
import type { ExecutionsTable } from '../../store/tables.js';

/** What Telegram's HTML parse mode needs escaped in text (no attributes are written). */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const RISK_MARK: Record<string, string> = { LOW: '🟢', MEDIUM: '🟡', HIGH: '🟠', CRITICAL: '🔴' };

/** The inline keyboard of a pending request; callback data `approve:<id>` / `reject:<id>`. */
export function decisionKeyboard(id: string) {
  return { inline_keyboard: [[{ text: '✅ Approve', callback_data: `approve:${id}` }, { text: '❌ Reject', callback_data: `reject:${id}` }]] };
}

/** No buttons (an edit with this removes them). */
export const NO_KEYBOARD = { inline_keyboard: [] as never[] };

/** The exact operation: the argv of a command, the script of a shell line, the arguments of a typed operation. */
function exactOperation(view: ApprovalView): string {
  const op = view.op as { kind: string; argv?: string[]; script?: string; name?: string; args?: unknown };
  if (op.kind === 'exec' && op.argv) return `argv ${JSON.stringify(op.argv)}`;
  if (op.kind === 'shell' && op.script !== undefined) return `shell ${JSON.stringify(op.script)}`;
  return `${op.name ?? op.kind} ${JSON.stringify(op.args ?? {})}`;
}

function utc(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

export interface Names {
  /** Usernames by user id, for the requester and the deciders. */
  readonly [userId: string]: string;
}

/** What a card shows beyond the request's view. */
export interface CardContext {
  readonly names: Names;
  /** The request's instruction text (its DELIVERABLES are the summary). */
  readonly instruction?: string;
  /** The newest execution of the request, once it ran. */
  readonly execution?: ExecutionsTable;
}

/**
 * The card a request is announced with (each part clipped, so that the whole stays within Telegram's
 * 4096 characters): risk, reasons, the exact command and argv, target and
 * environment, task, instruction score with its weak sections, expiry, and (once there is one) the outcome.
 */
export function requestCard(view: ApprovalView, context: CardContext): string {
  const { names } = context;
  const lines: string[] = [];
  const mark = RISK_MARK[view.risk_level] ?? '⚪';
  const needs =
    view.required_approvals > 1
      ? `needs ${view.required_approvals} approvers${view.step_up_required ? ', each with a TOTP code' : ''}`
      : view.step_up_required
        ? 'needs a TOTP code'
        : 'needs one approver';
  lines.push(`${mark} <b>${escapeHtml(view.risk_level)}</b> request · ${needs}`);
  lines.push(`<pre>${escapeHtml(clip(view.command, 800))}</pre>`);
  lines.push(`<code>${escapeHtml(clip(exactOperation(view), 800))}</code>`);
  lines.push(`<b>Target</b> ${escapeHtml(view.target)} · <b>Environment</b> ${escapeHtml(view.environment)}`);
  lines.push(`<b>Task</b> ${escapeHtml(clip(view.task_name, 200))} (worker ${escapeHtml(clip(view.worker_id, 100))}, asked by ${escapeHtml(names[view.requested_by] ?? view.requested_by)})`);
  if (view.risk_reasons.length > 0) {
    lines.push('<b>Why</b>');
    for (const reason of view.risk_reasons.slice(0, 6)) lines.push(`• ${escapeHtml(reason.level)}: ${escapeHtml(clip(reason.reason, 200))}`);
    if (view.risk_reasons.length > 6) lines.push(`• … and ${view.risk_reasons.length - 6} more`);
  }
  const weak = [...new Set(view.instruction_findings.map((finding) => finding.section.toLowerCase().replace(/_/g, ' ')))];
  lines.push(`<b>Instruction</b> ${view.instruction_score}/100${weak.length > 0 ? `; weak: ${escapeHtml(weak.join(', '))}` : ''}`);
  const deliverables = context.instruction ? parseInstruction(context.instruction).sections.DELIVERABLES : undefined;
  if (deliverables) lines.push(`<b>Deliverables</b> ${escapeHtml(clip(deliverables.replace(/\s+/g, ' '), 300))}`);
  lines.push(`<b>ID</b> <code>${escapeHtml(view.request_id)}</code>`);
  lines.push('');
  lines.push(outcomeLine(view, names, context.execution));
  return lines.join('\n');
}

/** Where the request stands: waiting (until when, how many approvals so far), or how it ended. */
export function outcomeLine(view: ApprovalView, names: Names, execution?: ExecutionsTable): string {
  const approvers = view.approvals.map((approval) => approval.username);
  const approvedBy = view.auto_approved ? 'the policy' : approvers.length > 0 ? approvers.join(', ') : (names[view.decided_by ?? ''] ?? 'someone');
  switch (view.status) {
    case 'PENDING':
      return approvers.length > 0
        ? `⏳ <b>${approvers.length} of ${view.required_approvals} approvals</b> (${escapeHtml(approvers.join(', '))}); waiting until ${utc(view.expires_at)}`
        : `⏳ Waiting for a decision until ${utc(view.expires_at)}`;
    case 'APPROVED':
      return `✅ <b>Approved</b> by ${escapeHtml(approvedBy)}${view.decision_reason && !view.auto_approved ? `: ${escapeHtml(clip(view.decision_reason, 300))}` : ''}`;
    case 'REJECTED': {
      const by = names[view.decided_by ?? ''] ?? view.decided_by ?? 'someone';
      return `❌ <b>Rejected</b> by ${escapeHtml(by)}${view.decision_reason ? `: ${escapeHtml(clip(view.decision_reason, 300))}` : ''}`;
    }
    case 'EXPIRED':
      return view.decided_at ? `⌛ <b>Expired</b>: approved by ${escapeHtml(approvedBy)}, never run` : '⌛ <b>Expired</b>: nobody decided in time';
    case 'EXECUTED': {
      const ran = `✅ Approved by ${escapeHtml(approvedBy)} · `;
      if (!execution || execution.status === 'running') return `${ran}▶️ <b>Running</b>`;
      const code = execution.exit_code === null ? '' : `, exit code ${execution.exit_code}`;
      const mark = execution.status === 'succeeded' ? '✔️' : '⚠️';
      return `${ran}${mark} <b>Executed</b>: ${escapeHtml(execution.status)}${code}`;
    }
    default:
      return escapeHtml(view.status);
  }
}

/** One line per pending request, for /pending. */
export function pendingList(views: readonly ApprovalView[], total: number): string {
  if (views.length === 0) return 'No requests are waiting for a decision.';
  const lines = views.map((view) => {
    const progress = view.required_approvals > 1 ? ` (${view.approvals.length} of ${view.required_approvals})` : '';
    return `${RISK_MARK[view.risk_level] ?? '⚪'} <b>${escapeHtml(view.risk_level)}</b>${progress} ${escapeHtml(view.environment)}/${escapeHtml(view.target)}: <code>${escapeHtml(clip(view.command, 120))}</code>\n   /status <code>${escapeHtml(view.request_id)}</code>`;
  });
  const more = total > views.length ? `\n… and ${total - views.length} more` : '';
  return `<b>${total} waiting</b>\n${lines.join('\n')}${more}`;
}
