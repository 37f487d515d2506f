import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { v7 as uuidv7 } from 'uuid';
import type { AuditEventInput, AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import { actorOf, assertMayUse, mayUse, originOf, type Challenges, type Mfa, type Principal } from '../identity/index.js';
import { Statement, allColumns, insertStatement, type Store, type Tx } from '../store/index.js';
import type { ApprovalDecisionsTable, ApprovalsTable } from '../store/tables.js';
import { checkGate, enforceGate, type GateDenial, type Target, type TargetRegistry } from '../targets/index.js';
import { capabilityOf } from '../operations/catalog.js';
import { canonicalOp, displayOp, opHash, readOperation, type Operation } from './command.js';
import { parseInstruction, scoreInstruction, type Finding } from './instruction.js';
import { environmentPolicy, type PolicySource } from './policy.js';
import { assessRisk, type RiskReason } from './risk.js';
import type { ApprovalRequestInput, ApprovalStatus, DecisionInput, ExplainInput } from './schema.js';
import { sensitivePathsIn } from './sensitive.js';

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
  /** The username of whoever asked (requested_by is their user id); null if the user is gone. */
  readonly requester: string | null;
  readonly decided_by: string | null;
  readonly decision_reason: string | null;
  readonly created_at: string;
  readonly expires_at: string;
  readonly decided_at: string | null;
  readonly minted_at: string | null;
  readonly executed_at: string | null;
  /** How many distinct people must approve (k of n), and who has so far. */
  readonly required_approvals: number;
  readonly approvals: readonly { readonly username: string; readonly decided_at: string; readonly step_up: string | null }[];
  /** Each approval needs a fresh TOTP code (or an approved challenge) of the approver. */
  readonly step_up_required: boolean;
}

/** What a request would be (`explain`): nothing is recorded. */
export interface Explanation {
  readonly op: Operation;
  readonly command: string;
  readonly environment: string;
  readonly target: string;
  readonly allowed_by_gate: boolean;
  readonly denials: readonly GateDenial[];
  readonly risk_level: string;
  readonly risk_reasons: readonly RiskReason[];
  readonly auto_approve: boolean;
  /** People who would have to approve (0 when the policy approves it). */
  readonly required_approvals: number;
  readonly step_up_required: boolean;
  readonly sensitive_paths: readonly string[];
  readonly instruction_score: number;
  readonly instruction_findings: readonly Finding[];
  readonly min_score: number;
}

export const POLICY_ACTOR = 'policy';
const POLL_MS = 250;

const APPROVAL_COLUMNS = allColumns<ApprovalsTable>()(
  'id', 'worker_id', 'task_name', 'instruction', 'environment', 'target', 'command', 'op', 'op_hash', 'risk_level', 'risk_reasons', 'score', 'findings',
  'status', 'requested_by', 'decided_by', 'decision_reason', 'created_at', 'expires_at', 'decided_at', 'token_jti', 'minted_at', 'executed_at',
  'required_approvals', 'step_up',
);
const INSERT_APPROVAL = insertStatement('approvals', APPROVAL_COLUMNS);
const APPROVAL_BY_ID = new Statement<ApprovalsTable>('select * from approvals where id = ?');
const LOCK_APPROVAL = new Statement<ApprovalsTable>({ sqlite: 'select * from approvals where id = ?', postgres: 'select * from approvals where id = ? for update' });

function view(row: ApprovalsTable, decisions: readonly ApprovalDecisionsTable[] = [], requester: string | null = null): ApprovalView {
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
    requester,
    decided_by: row.decided_by,
    decision_reason: row.decision_reason,
    created_at: row.created_at,
    expires_at: row.expires_at,
    decided_at: row.decided_at,
    minted_at: row.minted_at,
    executed_at: row.executed_at,
    required_approvals: row.required_approvals,
    approvals: decisions.filter((d) => d.decision === 'approve').map((d) => ({ username: d.username, decided_at: d.decided_at, step_up: d.step_up })),
    step_up_required: row.step_up === 1,
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
      /** Asked at every use, so a reload takes effect for the next request. */
      readonly policy: PolicySource;
      readonly targets: TargetRegistry;
      readonly mfa: Mfa;
      readonly challenges: Challenges;
      /** The environments this instance serves. */
      readonly environments: readonly string[];
      /** Refuses a principal a target is not open to beyond its key's limits (a workspace target: its owner and admins only). */
      readonly targetAccess?: (principal: Principal, target: Target) => Promise<void>;
    },
  ) {}

  /**
   * What a request would be, without making one: its operation, the gate's answer, its risk and
   * reasons, the instruction's score, and what a person would have to do. Nothing is written.
   */
  async explain(principal: Principal, input: ExplainInput): Promise<Explanation> {
    const assessed = this.assess(principal, input);
    await this.deps.targetAccess?.(principal, assessed.target);
    const gate = checkGate(assessed.target, { op: assessed.command.op, environment: input.deployment_env, capability: capabilityOf(assessed.command.op) });
    const autoApprove = assessed.risk.autoApprove && assessed.sensitive.length === 0;
    return {
      op: assessed.command.op,
      command: assessed.commandText?.trim() ?? displayOp(assessed.command.op),
      environment: input.deployment_env,
      target: assessed.target.id,
      allowed_by_gate: gate.allow,
      denials: gate.denials,
      risk_level: assessed.risk.level,
      risk_reasons: assessed.reasons,
      auto_approve: autoApprove,
      required_approvals: autoApprove ? 0 : (assessed.environment.approvers[assessed.risk.level] ?? 1),
      step_up_required: assessed.environment.stepUp.includes(assessed.risk.level) || assessed.sensitive.length > 0,
      sensitive_paths: assessed.sensitive,
      instruction_score: assessed.score,
      instruction_findings: assessed.findings,
      min_score: assessed.environment.minScore,
    };
  }

  /** The evaluation a request and an explanation share. */
  private assess(principal: Principal, input: ExplainInput) {
    const { environments, targets } = this.deps;
    // One policy for the whole evaluation, even if a reload swaps it meanwhile.
    const policy = this.deps.policy.current();
    if (!environments.includes(input.deployment_env)) {
      throw new AirlockError('environment_not_allowed', `environment "${input.deployment_env}" is not served here (allowed: ${environments.join(', ')})`, { status: 400 });
    }
    const target = targets.require(input.target);
    assertMayUse(principal, { environment: input.deployment_env, target: target.id });
    const instruction = parseInstruction(input.instruction);
    const commandText = input.command ?? (input.op ? undefined : instruction.command);
    if (!input.op && !commandText) {
      throw new AirlockError('command_missing', 'give the command in "command", a typed operation in "op", or a "Command:" line in the instruction', { status: 400 });
    }
    const command = readOperation({ command: commandText, op: input.op });
    const risk = assessRisk(policy, { command, instruction: input.instruction, environment: input.deployment_env, target: target.id, executor: target.executor });
    const { score, findings } = scoreInstruction(instruction, risk.level);
    const environment = environmentPolicy(policy, input.deployment_env);
    // A sensitive path needs a step-up even where the level alone would pass without a human. A typed
    // operation on one needs the requester's own approved challenge, consumed by the request; a command
    // line naming one takes that challenge, or an approver's TOTP.
    const sensitive = sensitivePathsIn(command.op, policy.sensitivePaths);
    const reasons: RiskReason[] = sensitive.length === 0 ? [...risk.reasons] : [...risk.reasons, { rule: 'sensitive-path', level: risk.level, reason: `names a sensitive path (${sensitive.join(', ')}): needs a TOTP step-up` }];
    return { target, commandText, command, risk, score, findings, environment, sensitive, reasons };
  }

  async request(principal: Principal, input: ApprovalRequestInput): Promise<ApprovalView> {
    const { target, commandText, command, risk, score, findings, environment, sensitive, reasons } = this.assess(principal, input);
    const actor = actorOf(principal);
    const where = { environment: input.deployment_env, target: target.id };
    try {
      await this.deps.targetAccess?.(principal, target);
    } catch (error) {
      await this.deps.audit.record({ actor, action: 'approval.refused', ...where, data: { worker_id: input.worker_id, task_name: input.task_name, command: displayOp(command.op), reason: (error as AirlockError).code ?? 'target_denied' } });
      throw error;
    }
    await enforceGate(this.deps.audit, target, { op: command.op, environment: input.deployment_env, capability: capabilityOf(command.op) }, { actor, stage: 'request' });
    if (sensitive.length > 0 && command.op.kind === 'op' && input.challenge_id === undefined) {
      await this.deps.audit.record({ actor, action: 'approval.refused', ...where, data: { worker_id: input.worker_id, task_name: input.task_name, command: displayOp(command.op), reason: 'challenge_required', paths: sensitive } });
      throw new AirlockError('challenge_required', `${command.op.name} on ${sensitive.join(', ')} needs an approved TOTP challenge of yours: plan one (POST /v1/challenges), approve it with your code, then send its id as "challenge_id"`, {
        status: 403,
        details: { paths: sensitive },
      });
    }
    const challengeUsed = sensitive.length > 0 && input.challenge_id !== undefined && (risk.autoApprove || command.op.kind === 'op');
    const autoApprove = risk.autoApprove && (sensitive.length === 0 || challengeUsed);

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
      command: commandText?.trim() ?? displayOp(command.op),
      op: canonicalOp(command.op),
      op_hash: opHash(command.op),
      risk_level: risk.level,
      risk_reasons: JSON.stringify(reasons),
      score,
      findings: JSON.stringify(findings),
      status: autoApprove ? 'APPROVED' : 'PENDING',
      requested_by: principal.userId,
      decided_by: autoApprove ? POLICY_ACTOR : null,
      decision_reason: autoApprove ? `${risk.level} is approved automatically in ${input.deployment_env}${challengeUsed ? ' after a step-up challenge' : ''}` : null,
      created_at: now,
      expires_at: addMinutes(now, environment.pendingMinutes),
      decided_at: autoApprove ? now : null,
      token_jti: null,
      minted_at: null,
      executed_at: null,
      required_approvals: environment.approvers[risk.level] ?? 1,
      step_up: environment.stepUp.includes(risk.level) || sensitive.length > 0 ? 1 : 0,
    };
    await this.deps.store.transaction(async (tx) => {
      await INSERT_APPROVAL.run(tx, APPROVAL_COLUMNS.map((column) => row[column]));
      if (challengeUsed) {
        await this.deps.challenges.consume(tx, input.challenge_id as string, { userId: principal.userId, as: 'planner', for: `approval:${row.id}`, actor, approvalId: row.id });
      }
      const subject = { type: 'approval', id: row.id };
      await this.deps.audit.append(tx, [
        {
          actor,
          action: 'approval.requested',
          subject,
          ...where,
          data: { worker_id: row.worker_id, task_name: row.task_name, command: displayOp(command.op), op_hash: row.op_hash, risk_level: risk.level, rules: reasons.map((r) => r.rule), score },
        },
        ...(autoApprove ? [{ actor: POLICY_ACTOR, action: 'approval.decided', subject, ...where, data: { decision: 'approve', reason: row.decision_reason } }] : []),
      ]);
      tx.onCommit(() => this.changes.emit(row.id));
    });
    return view(row, [], principal.username);
  }

  async get(id: string): Promise<ApprovalView> {
    const row = await APPROVAL_BY_ID.first(this.deps.store, [id]);
    if (!row) throw notFound(id);
    const requester = (await this.usernames([row.requested_by])).get(row.requested_by) ?? null;
    if (!isDue(row)) return view(row, await this.decisionsOf([id]), requester);
    // Its time ran out: expire it now rather than wait for the timer, then show it as it stands.
    return this.deps.store.transaction(async (tx) => {
      const locked = await lockApproval(tx, id);
      if (!locked) throw notFound(id);
      if (!isDue(locked)) return view(locked, [], requester);
      await this.expire(tx, locked);
      return view({ ...locked, status: 'EXPIRED' }, [], requester);
    });
  }

  /** Usernames of user ids (requesters), in one query. */
  private async usernames(ids: readonly string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    const rows = await this.deps.store.db.selectFrom('users').select(['id', 'username']).where('id', 'in', unique).execute();
    return new Map(rows.map((row) => [row.id, row.username]));
  }

  async list(options: { status?: ApprovalStatus; limit: number }): Promise<ApprovalView[]> {
    await this.expireDue();
    let query = this.deps.store.db.selectFrom('approvals').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit);
    if (options.status) query = query.where('status', '=', options.status);
    const rows = await query.execute();
    const decisions = await this.decisionsOf(rows.map((row) => row.id));
    const names = await this.usernames(rows.map((row) => row.requested_by));
    return rows.map((row) => view(row, decisions.filter((d) => d.approval_id === row.id), names.get(row.requested_by) ?? null));
  }

  private async decisionsOf(ids: readonly string[]): Promise<ApprovalDecisionsTable[]> {
    if (ids.length === 0) return [];
    return this.deps.store.db.selectFrom('approval_decisions').selectAll().where('approval_id', 'in', ids).orderBy('decided_at').execute();
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

  /**
   * One person's decision. A rejection ends the request; an approval counts towards the k distinct
   * approvers its level needs (never the requester, never twice the same person), each proving presence
   * with a fresh TOTP code or an approved challenge where the request needs a step-up.
   */
  async decide(principal: Principal, id: string, decision: 'approve' | 'reject', input: DecisionInput = {}): Promise<ApprovalView> {
    const actor = actorOf(principal);
    const origin = originOf(principal);
    const reason = input.reason;
    // A TOTP code is checked, and used up, before the decision's own transaction.
    const totpMethod = decision === 'approve' && input.totp !== undefined ? await this.deps.mfa.verify(principal.userId, input.totp, `approval:${id}`) : undefined;
    const outcome = await this.deps.store.transaction(async (tx): Promise<{ view: ApprovalView } | { refusal: Refusal }> => {
      const row = await lockApproval(tx, id);
      if (!row) return { refusal: { error: notFound(id), audit: { actor, action: 'approval.decision_refused', data: { id, reason: 'not_found', ...origin } } } };
      const subject = { type: 'approval', id };
      const where = { environment: row.environment, target: row.target };
      const refuse = (code: string, status: number, message: string, details?: Record<string, unknown>) => ({
        refusal: { error: new AirlockError(code, message, { status, ...(details ? { details } : {}) }), audit: { actor, action: 'approval.decision_refused', subject, ...where, data: { decision, reason: code, ...origin } } },
      });
      if (isDue(row)) {
        await this.expire(tx, row);
        return refuse('approval_expired', 409, `request ${id} expired at ${row.expires_at} before it was decided`);
      }
      if (row.status !== 'PENDING') return refuse('approval_not_pending', 409, `request ${id} is ${row.status}, not PENDING`);
      if (row.requested_by === principal.userId) return refuse('self_approval', 403, 'whoever asked for a request can never decide it, with any of their keys or sessions');
      if (!mayUse(principal, row)) {
        return refuse('key_scope_denied', 403, `this API key may not decide requests for ${row.environment}/${row.target}`);
      }
      const earlier = await tx.db.selectFrom('approval_decisions').selectAll().where('approval_id', '=', id).orderBy('decided_at').execute();
      if (earlier.some((d) => d.user_id === principal.userId)) return refuse('already_decided', 409, `${principal.username} has already decided request ${id}: another person must`);

      let stepUp: string | null = null;
      if (decision === 'approve' && row.step_up === 1) {
        if (totpMethod) stepUp = totpMethod;
        else if (input.challenge_id) {
          try {
            await this.deps.challenges.consume(tx, input.challenge_id, { userId: principal.userId, as: 'approver', for: `approval:${id}`, actor, approvalId: id });
          } catch (error) {
            if (error instanceof AirlockError) return refuse(error.code, error.status, error.message);
            throw error;
          }
          stepUp = `challenge:${input.challenge_id}`;
        } else {
          return refuse('step_up_required', 403, `approving this ${row.risk_level} request needs your current TOTP code ("totp") or an approved challenge ("challenge_id")`, {
            risk_level: row.risk_level,
          });
        }
      }
      const now = new Date().toISOString();
      const mine: ApprovalDecisionsTable = { approval_id: id, user_id: principal.userId, username: principal.username, decision, reason: reason ?? null, step_up: stepUp, decided_at: now };
      await tx.db.insertInto('approval_decisions').values(mine).execute();
      const decisions = [...earlier, mine];
      const approvals = decisions.filter((d) => d.decision === 'approve').length;
      const final = decision === 'reject' || approvals >= row.required_approvals;
      const environment = environmentPolicy(this.deps.policy.current(), row.environment);
      const decided: ApprovalsTable = final
        ? {
            ...row,
            status: decision === 'approve' ? 'APPROVED' : 'REJECTED',
            decided_by: principal.userId,
            decision_reason: reason ?? null,
            decided_at: now,
            // An approval has to be used within the same window it had to be decided in.
            expires_at: decision === 'approve' ? addMinutes(now, environment.pendingMinutes) : row.expires_at,
          }
        : row;
      if (final) {
        await tx.db
          .updateTable('approvals')
          .set({ status: decided.status, decided_by: decided.decided_by, decision_reason: decided.decision_reason, decided_at: now, expires_at: decided.expires_at })
          .where('id', '=', id)
          .execute();
      }
      await this.deps.audit.append(tx, {
        actor,
        action: 'approval.decided',
        subject,
        ...where,
        data: { decision, reason: reason ?? null, risk_level: row.risk_level, approvals, required: row.required_approvals, final, step_up: stepUp, ...origin },
      });
      tx.onCommit(() => this.changes.emit(id));
      return { view: view(decided, decisions) };
    });
    if ('refusal' in outcome) {
      await this.deps.audit.record(outcome.refusal.audit);
      throw outcome.refusal.error;
    }
    return { ...outcome.view, requester: (await this.usernames([outcome.view.requested_by])).get(outcome.view.requested_by) ?? null };
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
