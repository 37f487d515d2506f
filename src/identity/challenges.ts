import { v7 as uuidv7 } from 'uuid';
import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import type { Store, Tx } from '../store/index.js';
import type { ChallengesTable } from '../store/tables.js';
import type { Mfa } from './mfa.js';
import { actorOf, type Principal } from './principal.js';
import { hasScope } from './scopes.js';

export type ChallengeStatus = 'PENDING' | 'APPROVED' | 'CONSUMED' | 'EXPIRED';

export interface ChallengeView {
  readonly challenge_id: string;
  readonly purpose: string;
  readonly approval_id: string | null;
  readonly status: ChallengeStatus;
  readonly created_by: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly approved_by: string | null;
  readonly approved_at: string | null;
  readonly consumed_at: string | null;
  readonly consumed_for: string | null;
}

function view(row: ChallengesTable): ChallengeView {
  const expired = row.status !== 'CONSUMED' && row.expires_at <= new Date().toISOString();
  return {
    challenge_id: row.id,
    purpose: row.purpose,
    approval_id: row.approval_id,
    status: expired ? 'EXPIRED' : (row.status as ChallengeStatus),
    created_by: row.created_by,
    created_at: row.created_at,
    expires_at: row.expires_at,
    approved_by: row.approved_by,
    approved_at: row.approved_at,
    consumed_at: row.consumed_at,
    consumed_for: row.consumed_for,
  };
}

/**
 * Step-up challenges (the runbook's `sysauth plan / approve / status`): planned by anyone, approved
 * with a TOTP code by its planner or by an approver, consumed exactly once by the decision or
 * sensitive request it was planned for.
 */
export class Challenges {
  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly mfa: Mfa;
      readonly minutes: number;
    },
  ) {}

  async plan(principal: Principal, input: { purpose: string; approval_id?: string | undefined }): Promise<ChallengeView> {
    const now = new Date();
    const row: ChallengesTable = {
      id: uuidv7(),
      purpose: input.purpose,
      approval_id: input.approval_id ?? null,
      created_by: principal.userId,
      status: 'PENDING',
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + this.deps.minutes * 60_000).toISOString(),
      approved_by: null,
      approved_at: null,
      consumed_at: null,
      consumed_for: null,
    };
    await this.deps.store.transaction(async (tx) => {
      await tx.db.insertInto('challenges').values(row).execute();
      await this.deps.audit.append(tx, { actor: actorOf(principal), action: 'challenge.created', subject: { type: 'challenge', id: row.id }, data: { purpose: row.purpose, approval_id: row.approval_id, expires_at: row.expires_at } });
    });
    return view(row);
  }

  async status(principal: Principal, id: string): Promise<ChallengeView> {
    const row = await this.deps.store.db.selectFrom('challenges').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || !this.mayApprove(principal, row)) throw notFound(id);
    return view(row);
  }

  /** Approves with the acting person's TOTP code (checked and used up before the challenge changes). */
  async approve(principal: Principal, id: string, code: string): Promise<ChallengeView> {
    const current = await this.status(principal, id);
    if (current.status !== 'PENDING') throw new AirlockError('challenge_not_pending', `challenge ${id} is ${current.status}`, { status: 409 });
    const method = await this.deps.mfa.verify(principal.userId, code, `challenge:${id}`);
    return this.deps.store.transaction(async (tx) => {
      const now = new Date().toISOString();
      const result = await tx.db
        .updateTable('challenges')
        .set({ status: 'APPROVED', approved_by: principal.userId, approved_at: now })
        .where('id', '=', id)
        .where('status', '=', 'PENDING')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) throw new AirlockError('challenge_not_pending', `challenge ${id} is no longer pending`, { status: 409 });
      await this.deps.audit.append(tx, { actor: actorOf(principal), action: 'challenge.approved', subject: { type: 'challenge', id }, data: { method } });
      const row = await tx.db.selectFrom('challenges').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return view(row);
    });
  }

  /**
   * Consumes an approved challenge inside the caller's transaction: one conditional write, so it is
   * used at most once. `as` says whose proof it must be: the person who planned it (a sensitive
   * request) or the person who approved it (a decision).
   */
  async consume(tx: Tx, id: string, input: { userId: string; as: 'planner' | 'approver'; for: string; actor: string; approvalId?: string }): Promise<void> {
    const row = await tx.db.selectFrom('challenges').selectAll().where('id', '=', id).executeTakeFirst();
    const owner = row && (input.as === 'planner' ? row.created_by : row.approved_by);
    const bound = row && (row.approval_id === null || input.approvalId === undefined || row.approval_id === input.approvalId);
    if (!row || owner !== input.userId || !bound) throw new AirlockError('challenge_invalid', `challenge ${id} is not one of yours for this`, { status: 403 });
    const now = new Date().toISOString();
    const result = await tx.db
      .updateTable('challenges')
      .set({ status: 'CONSUMED', consumed_at: now, consumed_for: input.for })
      .where('id', '=', id)
      .where('status', '=', 'APPROVED')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      throw new AirlockError('challenge_invalid', `challenge ${id} is ${view(row).status}: it must be APPROVED and unused`, { status: 403 });
    }
    await this.deps.audit.append(tx, { actor: input.actor, action: 'challenge.consumed', subject: { type: 'challenge', id }, data: { for: input.for } });
  }

  /** Its planner, or anyone who may decide requests, may see and approve a challenge. */
  private mayApprove(principal: Principal, row: ChallengesTable): boolean {
    return row.created_by === principal.userId || hasScope(principal.scopes, 'approvals:decide');
  }
}

function notFound(id: string): AirlockError {
  return new AirlockError('challenge_not_found', `no challenge ${id}`, { status: 404 });
}
