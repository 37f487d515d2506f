import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { UsersTable } from '../store/tables.js';
import type { SecretBox } from './secret-box.js';
import { acceptedStep, newTotpSecret, otpauthUri, qrCodes } from './totp.js';

const RECOVERY_CODES = 10;
const RECOVERY_CODE = /^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/;

export interface Enrollment {
  readonly secret: string;
  readonly otpauth_uri: string;
  readonly qr: { svg: string; png_data_url: string; terminal: string };
}

function hashCode(code: string): string {
  return createHash('sha256').update(`airlock-recovery:${code}`).digest('hex');
}

function newRecoveryCode(): string {
  const letters = 'abcdefghjkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(12);
  const chars = [...bytes].map((byte) => letters[byte % letters.length]).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
}

/** How a person proved presence: a TOTP code or one of their recovery codes. */
export type StepUpMethod = 'totp' | 'recovery_code';

/**
 * TOTP second factor: enrollment (secret encrypted at rest, confirmed by a first code, recovery codes
 * shown once), and verification where every code is accepted at most once.
 */
export class Mfa {
  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly box: SecretBox;
      readonly issuer: string;
    },
  ) {}

  /** Starts enrollment: a new pending secret replaces any earlier unconfirmed one. */
  async enroll(userId: string, actor: string): Promise<Enrollment> {
    const user = await this.user(userId);
    if (user.kind !== 'human') throw new AirlockError('invalid_request', 'a service account cannot enroll TOTP', { status: 400 });
    if (user.totp_secret) throw new AirlockError('totp_already_enrolled', `${user.username} already has TOTP; an admin can reset it with \`airlock users reset-totp\``, { status: 409 });
    const secret = newTotpSecret();
    await this.deps.store.transaction(async (tx) => {
      await tx.db.updateTable('users').set({ totp_pending: this.deps.box.seal(secret), updated_at: new Date().toISOString() }).where('id', '=', userId).execute();
      await this.deps.audit.append(tx, { actor, action: 'totp.enrollment_started', subject: { type: 'user', id: userId }, data: { username: user.username } });
    });
    const uri = otpauthUri(secret, user.username, this.deps.issuer);
    return { secret, otpauth_uri: uri, qr: await qrCodes(uri) };
  }

  /** Confirms enrollment with a first code; returns the recovery codes, shown only now. */
  async confirm(userId: string, code: string, actor: string): Promise<{ recovery_codes: string[] }> {
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    const outcome = await this.deps.store.transaction(async (tx) => {
      const user = await tx.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
      if (user.totp_secret) return { error: new AirlockError('totp_already_enrolled', `${user.username} already has TOTP`, { status: 409 }) };
      if (!user.totp_pending) return { error: new AirlockError('totp_not_started', 'start enrollment first: POST /v1/auth/totp/enroll', { status: 409 }) };
      const secret = this.deps.box.open(user.totp_pending);
      const step = acceptedStep(secret, code.trim(), null);
      if (step === undefined) return { error: new AirlockError('totp_invalid', 'the code does not match the new secret: check the device clock and try the next code', { status: 400 }), username: user.username };
      const now = new Date().toISOString();
      await tx.db
        .updateTable('users')
        .set({ totp_secret: user.totp_pending, totp_pending: null, totp_enrolled_at: now, totp_last_step: step, recovery_codes: JSON.stringify(codes.map(hashCode)), updated_at: now })
        .where('id', '=', userId)
        .execute();
      await this.deps.audit.append(tx, { actor, action: 'totp.enrolled', subject: { type: 'user', id: userId }, data: { username: user.username, recovery_codes: codes.length } });
      return { ok: true as const };
    });
    if ('error' in outcome) {
      if (outcome.username) await this.deps.audit.record({ actor, action: 'totp.failed', subject: { type: 'user', id: userId }, data: { username: outcome.username, during: 'enrollment' } });
      throw outcome.error;
    }
    return { recovery_codes: codes };
  }

  /**
   * Gives a person a TOTP secret at once, without a first code (`airlock chatops init` for the system
   * admins of a bot): the secret and recovery codes are returned to be shown once. An existing secret
   * is never replaced.
   */
  async provision(userId: string, actor: string): Promise<{ secret: string; otpauth_uri: string; recovery_codes: string[] }> {
    const secret = newTotpSecret();
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    const username = await this.deps.store.transaction(async (tx) => {
      const user = await tx.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
      if (user.kind !== 'human') throw new AirlockError('invalid_request', 'a service account cannot have TOTP', { status: 400 });
      const now = new Date().toISOString();
      const result = await tx.db
        .updateTable('users')
        .set({ totp_secret: this.deps.box.seal(secret), totp_pending: null, totp_enrolled_at: now, totp_last_step: null, recovery_codes: JSON.stringify(codes.map(hashCode)), updated_at: now })
        .where('id', '=', userId)
        .where('totp_secret', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) throw new AirlockError('totp_already_enrolled', `${user.username} already has TOTP; it is never replaced (an admin can reset it with \`airlock users reset-totp\`)`, { status: 409 });
      await this.deps.audit.append(tx, { actor, action: 'totp.provisioned', subject: { type: 'user', id: userId }, data: { username: user.username, recovery_codes: codes.length } });
      return user.username;
    });
    return { secret, otpauth_uri: otpauthUri(secret, username, this.deps.issuer), recovery_codes: codes };
  }

  /** Removes a user's TOTP (an admin's action when a device is lost and the recovery codes with it). */
  async reset(userId: string, actor: string): Promise<void> {
    await this.deps.store.transaction(async (tx) => {
      const user = await tx.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
      if (!user.totp_secret && !user.totp_pending) throw new AirlockError('totp_not_enrolled', `${user.username} has no TOTP`, { status: 409 });
      await tx.db.updateTable('users').set({ totp_secret: null, totp_pending: null, totp_enrolled_at: null, totp_last_step: null, recovery_codes: null, updated_at: new Date().toISOString() }).where('id', '=', userId).execute();
      await this.deps.audit.append(tx, { actor, action: 'totp.reset', subject: { type: 'user', id: userId }, data: { username: user.username } });
    });
  }

  /**
   * Checks a code for a user and, if it is good, uses it up (in its own transaction, so a code spent on
   * a decision that is then refused stays spent). Failures and replays are audited and refused with 403.
   */
  async verify(userId: string, code: string, purpose: string): Promise<StepUpMethod> {
    const outcome = await this.deps.store.transaction(async (tx): Promise<{ method: StepUpMethod } | { failure: string; username?: string }> => {
      let query = tx.db.selectFrom('users').selectAll().where('id', '=', userId);
      if (tx.dialect === 'postgres') query = query.forUpdate();
      const user = await query.executeTakeFirst();
      if (!user?.totp_secret) return { failure: 'not_enrolled', ...(user ? { username: user.username } : {}) };
      const trimmed = code.trim().toLowerCase();
      if (RECOVERY_CODE.test(trimmed)) return this.useRecoveryCode(tx, user, trimmed);
      const secret = this.deps.box.open(user.totp_secret);
      const step = acceptedStep(secret, trimmed, user.totp_last_step);
      if (step === undefined) {
        const replayed = user.totp_last_step !== null && acceptedStep(secret, trimmed, null) !== undefined;
        return { failure: replayed ? 'replayed' : 'invalid', username: user.username };
      }
      await tx.db.updateTable('users').set({ totp_last_step: step }).where('id', '=', userId).execute();
      return { method: 'totp' };
    });
    if ('method' in outcome) return outcome.method;
    const action = outcome.failure === 'replayed' ? 'totp.replayed' : 'totp.failed';
    await this.deps.audit.record({ actor: `user:${outcome.username ?? userId}`, action, subject: { type: 'user', id: userId }, data: { purpose, reason: outcome.failure } });
    if (outcome.failure === 'not_enrolled') {
      throw new AirlockError('totp_not_enrolled', 'this needs a TOTP code, and the acting user has not enrolled TOTP (airlock totp enroll)', { status: 403 });
    }
    throw new AirlockError(outcome.failure === 'replayed' ? 'totp_replayed' : 'totp_invalid', outcome.failure === 'replayed' ? 'this code was already used: wait for the next one' : 'the TOTP code is not valid', {
      status: 403,
    });
  }

  private async useRecoveryCode(tx: Parameters<Parameters<Store['transaction']>[0]>[0], user: UsersTable, code: string): Promise<{ method: StepUpMethod } | { failure: string; username: string }> {
    const hashes = JSON.parse(user.recovery_codes ?? '[]') as string[];
    const presented = Buffer.from(hashCode(code), 'hex');
    const index = hashes.findIndex((stored) => timingSafeEqual(Buffer.from(stored, 'hex'), presented));
    if (index < 0) return { failure: 'invalid', username: user.username };
    hashes.splice(index, 1);
    await tx.db.updateTable('users').set({ recovery_codes: JSON.stringify(hashes) }).where('id', '=', user.id).execute();
    await this.deps.audit.append(tx, { actor: `user:${user.username}`, action: 'totp.recovery_code_used', subject: { type: 'user', id: user.id }, data: { remaining: hashes.length } });
    return { method: 'recovery_code' };
  }

  private async user(userId: string): Promise<UsersTable> {
    const user = await this.deps.store.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
    if (!user) throw new AirlockError('user_not_found', 'the acting user no longer exists', { status: 404 });
    return user;
  }
}
