import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { v7 as uuidv7 } from 'uuid';
import type { AuditEventInput, AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import { actorOf, type Principal } from '../identity/index.js';
import { Statement, allColumns, insertStatement, type Store, type Tx } from '../store/index.js';
import type { ApprovalsTable } from '../store/tables.js';
import type { TargetRegistry } from '../targets/registry.js';
import { canonicalOp, displayOp, opHash, parseCommand, type Operation } from './command.js';
import { parseInstruction, scoreInstruction, type Finding } from './instruction.js';
import { environmentPolicy, type Policy } from './policy.js';
import { assessRisk, type RiskReason } from './risk.js';
import type { ApprovalRequestInput, ApprovalStatus } from './schema.js';

/** A request as clients see it: the reference fields first, then Airlock's own. */
export interface ApprovalView {
  readonly request_id: string;
  readonly status: ApprovalStatus;
  readonly risk_level: string;
  readonly risk_reasons: readonly RiskReason[];
  readonly auto_approved: boolean;
  readonly worker_id: string;
  readonly task_name: string;
  readonly deployment_env: string;
  readonly environment: string;
  readonly target: string;
  readonly command: string;
  readonly op: Operation;
  readonly op_hash: string;
  readonly instruction_score: number;
  readonly instruction_findings: readonly Finding[];
  readonly requested_by: string;
  readonly decided_by: string | null;
  readonly decision_reason: string | null;
  readonly created_at: string;
  readonly expires_at: string;
  readonly decided_at: string | null;
  readonly minted_at: string | null;
  readonly executed_at: string | null;
}

export const POLICY_ACTOR = 'policy';
const POLL_MS = 250;

const APPROVAL_COLUMNS = allColumns<ApprovalsTable>()(
  'id', 'worker_id', 'task_name', 'instruction', 'environment', 'target', 'command', 'op', 'op_hash', 'risk_level', 'risk_reasons', 'score', 'findings',
  'status', 'requested_by', 'decided_by', 'decision_reason', 'created_at', 'expires_at', 'decided_at', 'token_jti', 'minted_at', 'executed_at',
);
const INSERT_APPROVAL = insertStatement('approvals', APPROVAL_COLUMNS);
const APPROVAL_BY_ID = new Statement<ApprovalsTable>('select * from approvals where id = ?');
const LOCK_APPROVAL = new Statement<ApprovalsTable>({ sqlite: 'select * from approvals where id = ?', postgres: 'select * from approvals where id = ? for update' });

function view(row: ApprovalsTable): ApprovalView {
  return {
    request_id: row.id,
    status: row.status as ApprovalStatus,
    risk_level: row.risk_level,
    risk_reasons: JSON.parse(row.risk_reasons) as RiskReason[],
    auto_approved: row.decided_by === POLICY_ACTOR,
    worker_id: row.worker_id,
    task_name: row.task_name,
    deployment_env: row.environment,
    environment: row.environment,
    target: row.target,
    command: row.command,
    op: JSON.parse(row.op) as Operation,
    op_hash: row.op_hash,
    instruction_score: row.score,
    instruction_findings: JSON.parse(row.findings) as Finding[],
    requested_by: row.requested_by,
    decided_by: row.decided_by,
    decision_reason: row.decision_reason,
    created_at: row.created_at,
    expires_at: row.expires_at,
    decided_at: row.decided_at,
    minted_at: row.minted_at,
    executed_at: row.executed_at,
  };
}

function addMinutes(iso: string, minutes: number): string {
  return new Date(Date.parse(iso) + minutes * 60_000).toISOString();
}

/** A decision or action that was refused: audited after the transaction, then thrown. */
interface Refusal {
  readonly error: AirlockError;
  readonly audit: AuditEventInput;
}

/**
 * Approval requests: created with their risk and instruction score, auto-approved where the
 * environment's policy allows, otherwise decided by someone other than the requester, expiring
 * when nobody decides (or nobody uses the approval) in time.
 */
export class Approvals {
  private readonly changes = new EventEmitter().setMaxListeners(0);

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly policy: Policy;
      readonly targets: TargetRegistry;
      /** The environments this instance serves. */
      readonly environments: readonly string[];
    },
  ) {}

  async request(principal: Principal, input: ApprovalRequestInput): Promise<ApprovalView> {
    const { environments, targets, policy } = this.deps;
    if (!environments.includes(input.deployment_env)) {
      throw new AirlockError('environment_not_allowed', `environment "${input.deployment_env}" is not served here (allowed: ${environments.join(', ')})`, { status: 400 });
    }
    const target = targets.require(input.target);
    if (!target.environments.includes(input.deployment_env)) {
      throw new AirlockError('environment_not_allowed', `target ${target.id} does not serve environment ${input.deployment_env}`, { status: 400 });
    }
    const instruction = parseInstruction(input.instruction);
    const commandText = input.command ?? instruction.command;
    if (!commandText) {
      throw new AirlockError('command_missing', 'give the command in "command" or as a "Command:" line in the instruction', { status: 400 });
    }
    const command = parseCommand(commandText);
    const risk = assessRisk(policy, { command, instruction: input.instruction, environment: input.deployment_env, target: target.id });
    const { score, findings } = scoreInstruction(instruction, risk.level);
    const environment = environmentPolicy(policy, input.deployment_env);
    const actor = actorOf(principal);
    const where = { environment: input.deployment_env, target: target.id };

    if (score < environment.minScore) {
      await this.deps.audit.record({
        actor,
        action: 'approval.refused',
        ...where,
        data: { worker_id: input.worker_id, task_name: input.task_name, command: displayOp(command.op), score, min_score: environment.minScore },
      });
      const weak = findings.map((finding) => finding.message).join('; ');
      throw new AirlockError('instruction_insufficient', `the instruction scores ${score}, below the ${environment.minScore} that ${input.deployment_env} requires: ${weak}`, {
        status: 422,
        details: { score, min_score: environment.minScore, findings },
      });
    }

    const now = new Date().toISOString();
    const row: ApprovalsTable = {
      id: uuidv7(),
      worker_id: input.worker_id,
      task_name: input.task_name,
      instruction: input.instruction,
      environment: input.deployment_env,
      target: target.id,
      command: commandText.trim(),
      op: canonicalOp(command.op),
      op_hash: opHash(command.op),
      risk_level: risk.level,
      risk_reasons: JSON.stringify(risk.reasons),
      score,
      findings: JSON.stringify(findings),
      status: risk.autoApprove ? 'APPROVED' : 'PENDING',
      requested_by: principal.id,
      decided_by: risk.autoApprove ? POLICY_ACTOR : null,
      decision_reason: risk.autoApprove ? `${risk.level} is approved automatically in ${input.deployment_env}` : null,
      created_at: now,
      expires_at: addMinutes(now, environment.pendingMinutes),
      decided_at: risk.autoApprove ? now : null,
      token_jti: null,
      minted_at: null,
      executed_at: null,
    };
    await this.deps.store.transaction(async (tx) => {
      await INSERT_APPROVAL.run(tx, APPROVAL_COLUMNS.map((column) => row[column]));
      const subject = { type: 'approval', id: row.id };
      await this.deps.audit.append(tx, [
        {
          actor,
          action: 'approval.requested',
          subject,
          ...where,
          data: { worker_id: row.worker_id, task_name: row.task_name, command: displayOp(command.op), op_hash: row.op_hash, risk_level: risk.level, rules: risk.reasons.map((r) => r.rule), score },
        },
        ...(risk.autoApprove ? [{ actor: POLICY_ACTOR, action: 'approval.decided', subject, ...where, data: { decision: 'approve', reason: row.decision_reason } }] : []),
      ]);
      tx.onCommit(() => this.changes.emit(row.id));
    });
    return view(row);
  }

  async get(id: string): Promise<ApprovalView> {
    const row = await APPROVAL_BY_ID.first(this.deps.store, [id]);
    if (!row) throw notFound(id);
    if (!isDue(row)) return view(row);
    // Its time ran out: expire it now rather than wait for the timer, then show it as it stands.
    return this.deps.store.transaction(async (tx) => {
      const locked = await lockApproval(tx, id);
      if (!locked) throw notFound(id);
      if (!isDue(locked)) return view(locked);
      await this.expire(tx, locked);
      return view({ ...locked, status: 'EXPIRED' });
    });
  }

  async list(options: { status?: ApprovalStatus; limit: number }): Promise<ApprovalView[]> {
    await this.expireDue();
    let query = this.deps.store.db.selectFrom('approvals').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit);
    if (options.status) query = query.where('status', '=', options.status);
    return (await query.execute()).map(view);
  }

  /** Long poll: returns once the request is no longer pending, after `seconds`, or when `signal` aborts. */
  async wait(id: string, seconds: number, signal?: AbortSignal): Promise<ApprovalView> {
    const deadline = Date.now() + seconds * 1000;
    let current = await this.get(id);
    while (current.status === 'PENDING' && Date.now() < deadline && !signal?.aborted) {
      // Woken at once by a decision in this process; other instances' decisions are seen by polling.
      const stop = new AbortController();
      const abort = (): void => stop.abort();
      signal?.addEventListener('abort', abort, { once: true });
      await Promise.race([once(this.changes, id, { signal: stop.signal }), sleep(Math.min(POLL_MS, deadline - Date.now()), undefined, { signal: stop.signal })]).catch(() => undefined);
      stop.abort();
      signal?.removeEventListener('abort', abort);
      current = await this.get(id);
    }
    return current;
  }

  async decide(principal: Principal, id: string, decision: 'approve' | 'reject', reason: string | undefined): Promise<ApprovalView> {
    const actor = actorOf(principal);
    const outcome = await this.deps.store.transaction(async (tx): Promise<{ view: ApprovalView } | { refusal: Refusal }> => {
      const row = await lockApproval(tx, id);
      if (!row) return { refusal: { error: notFound(id), audit: { actor, action: 'approval.decision_refused', data: { id, reason: 'not_found' } } } };
      const subject = { type: 'approval', id };
      const where = { environment: row.environment, target: row.target };
      const refuse = (code: string, status: number, message: string) => ({
        refusal: { error: new AirlockError(code, message, { status }), audit: { actor, action: 'approval.decision_refused', subject, ...where, data: { decision, reason: code } } },
      });
      if (isDue(row)) {
        await this.expire(tx, row);
        return refuse('approval_expired', 409, `request ${id} expired at ${row.expires_at} before it was decided`);
      }
      if (row.status !== 'PENDING') return refuse('approval_not_pending', 409, `request ${id} is ${row.status}, not PENDING`);
      if (row.requested_by === principal.id) return refuse('self_approval', 403, 'the key that asked for a request can never decide it');
      const now = new Date().toISOString();
      const environment = environmentPolicy(this.deps.policy, row.environment);
      const decided: ApprovalsTable = {
        ...row,
        status: decision === 'approve' ? 'APPROVED' : 'REJECTED',
        decided_by: principal.id,
        decision_reason: reason ?? null,
        decided_at: now,
        // An approval has to be used within the same window it had to be decided in.
        expires_at: decision === 'approve' ? addMinutes(now, environment.pendingMinutes) : row.expires_at,
      };
      await tx.db
        .updateTable('approvals')
        .set({ status: decided.status, decided_by: decided.decided_by, decision_reason: decided.decision_reason, decided_at: now, expires_at: decided.expires_at })
        .where('id', '=', id)
        .execute();
      await this.deps.audit.append(tx, { actor, action: 'approval.decided', subject, ...where, data: { decision, reason: reason ?? null, risk_level: row.risk_level } });
      tx.onCommit(() => this.changes.emit(id));
      return { view: view(decided) };
    });
    if ('refusal' in outcome) {
      await this.deps.audit.record(outcome.refusal.audit);
      throw outcome.refusal.error;
    }
    return outcome.view;
  }

  /** Expires pending requests nobody decided, and approvals nobody used, in time. */
  async expireDue(): Promise<number> {
    const now = new Date().toISOString();
    const due = await this.deps.store.db
      .selectFrom('approvals')
      .select('id')
      .where('expires_at', '<=', now)
      .where((eb) => eb.or([eb('status', '=', 'PENDING'), eb.and([eb('status', '=', 'APPROVED'), eb('token_jti', 'is', null)])]))
      .limit(500)
      .execute();
    let expired = 0;
    for (const { id } of due) {
      expired += await this.deps.store.transaction(async (tx) => {
        const row = await lockApproval(tx, id);
        if (!row || !isDue(row)) return 0;
        await this.expire(tx, row);
        return 1;
      });
    }
    return expired;
  }

  /** Used by token minting: the request, locked, inside the minting transaction. */
  async lockForMint(tx: Tx, id: string): Promise<ApprovalsTable | undefined> {
    return lockApproval(tx, id);
  }

  notifyChanged(tx: Tx, id: string): void {
    tx.onCommit(() => this.changes.emit(id));
  }

  private async expire(tx: Tx, row: ApprovalsTable): Promise<void> {
    await tx.db.updateTable('approvals').set({ status: 'EXPIRED' }).where('id', '=', row.id).execute();
    await this.deps.audit.append(tx, {
      actor: 'system',
      action: 'approval.expired',
      subject: { type: 'approval', id: row.id },
      environment: row.environment,
      target: row.target,
      data: { was: row.status, expires_at: row.expires_at },
    });
    tx.onCommit(() => this.changes.emit(row.id));
  }
}

function isDue(row: ApprovalsTable): boolean {
  return (row.status === 'PENDING' || (row.status === 'APPROVED' && row.token_jti === null)) && row.expires_at <= new Date().toISOString();
}

async function lockApproval(tx: Tx, id: string): Promise<ApprovalsTable | undefined> {
  return LOCK_APPROVAL.first(tx, [id]);
}

function notFound(id: string): AirlockError {
  return new AirlockError('approval_not_found', `no approval request ${id}`, { status: 404 });
}
