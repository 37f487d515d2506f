import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import { isUniqueViolation, type Store, type Tx } from '../store/index.js';
import type { UsersTable } from '../store/tables.js';
import type { ApiKeys } from './api-keys.js';
import { hashPassword, passwordWeakness } from './passwords.js';
import type { Role } from './roles.js';

/** A user as listed: never a hash or a secret. */
export interface UserInfo {
  readonly id: string;
  readonly username: string;
  readonly kind: 'human' | 'service';
  readonly role: Role;
  readonly status: 'active' | 'disabled';
  readonly totp_enrolled: boolean;
  readonly created_at: string;
  readonly created_by: string;
  readonly updated_at: string;
  readonly locked_until: string | null;
}

export const USERNAME = /^[a-z][a-z0-9._-]{1,62}$/;

export function userInfo(row: UsersTable): UserInfo {
  return {
    id: row.id,
    username: row.username,
    kind: row.kind as UserInfo['kind'],
    role: row.role as Role,
    status: row.status as UserInfo['status'],
    totp_enrolled: row.totp_secret !== null,
    created_at: row.created_at,
    created_by: row.created_by,
    updated_at: row.updated_at,
    locked_until: row.locked_until,
  };
}

/** A new, active user row with no second factor yet. */
export function newUserRow(input: { username: string; kind: 'human' | 'service'; role: Role; passwordHash: string | null; actor: string }): UsersTable {
  const now = new Date().toISOString();
  return {
    id: uuidv7(),
    username: input.username,
    kind: input.kind,
    role: input.role,
    password_hash: input.passwordHash,
    status: 'active',
    created_at: now,
    created_by: input.actor,
    updated_at: now,
    failed_logins: 0,
    locked_until: null,
    totp_secret: null,
    totp_pending: null,
    totp_enrolled_at: null,
    totp_last_step: null,
    recovery_codes: null,
  };
}

/** Inserts a user and its `user.created` event in the caller's transaction. */
export async function insertUser(tx: Tx, audit: AuditLog, row: UsersTable): Promise<void> {
  await tx.db.insertInto('users').values(row).execute();
  await audit.append(tx, { actor: row.created_by, action: 'user.created', subject: { type: 'user', id: row.id }, data: { username: row.username, kind: row.kind, role: row.role } });
}

/** A password people can type and machines cannot guess: 24 characters, about 143 bits. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

function checkPassword(password: string, username: string): void {
  const weakness = passwordWeakness(password, username);
  if (weakness) throw new AirlockError('weak_password', `the password ${weakness}`, { status: 400 });
}

/**
 * Users: people (password, optional TOTP, sessions) and service accounts (API keys only). Every change
 * is audited in its own transaction; disabling revokes sessions and keys in the same one.
 */
export class Users {
  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly keys: ApiKeys;
    },
  ) {}

  async create(input: { username: string; role: Role; kind?: 'human' | 'service'; password?: string; actor: string }): Promise<{ user: UserInfo; password?: string }> {
    const kind = input.kind ?? 'human';
    if (!USERNAME.test(input.username)) {
      throw new AirlockError('invalid_username', 'a username is 2-63 lower-case letters, digits, ".", "_" or "-", starting with a letter', { status: 400 });
    }
    const generated = kind === 'human' && input.password === undefined ? generatePassword() : undefined;
    const password = input.password ?? generated;
    if (password !== undefined && kind === 'service') throw new AirlockError('invalid_request', 'a service account has no password', { status: 400 });
    if (password !== undefined) checkPassword(password, input.username);
    const passwordHash = password === undefined ? null : await hashPassword(password);
    const row = newUserRow({ username: input.username, kind, role: input.role, passwordHash, actor: input.actor });
    const exists = () => new AirlockError('user_exists', `a user named ${input.username} already exists`, { status: 409 });
    await this.deps.store
      .transaction(async (tx) => {
        const taken = await tx.db.selectFrom('users').select('id').where('username', '=', input.username).executeTakeFirst();
        if (taken) throw exists();
        await insertUser(tx, this.deps.audit, row);
      })
      .catch((error: unknown) => {
        // Another instance on the same store created it between the check and the insert (two first starts at once).
        throw isUniqueViolation(error) ? exists() : error;
      });
    return { user: userInfo(row), ...(generated ? { password: generated } : {}) };
  }

  async list(): Promise<UserInfo[]> {
    const rows = await this.deps.store.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(userInfo);
  }

  async get(username: string): Promise<UserInfo> {
    return userInfo(await this.find(this.deps.store.db, username));
  }

  async count(kind: 'human' | 'service' = 'human'): Promise<number> {
    const row = await this.deps.store.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('kind', '=', kind).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Disables a user and, in the same transaction, revokes every session and key it has. */
  async disable(username: string, actor: string): Promise<{ user: UserInfo; sessions: number; keys: number }> {
    return this.change(username, actor, async (tx, row) => {
      if (row.status === 'disabled') throw new AirlockError('user_disabled', `${username} is already disabled`, { status: 409 });
      await this.assertNotLastAdmin(tx, row);
      const now = new Date().toISOString();
      await tx.db.updateTable('users').set({ status: 'disabled', updated_at: now }).where('id', '=', row.id).execute();
      const sessions = await tx.db.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', row.id).where('revoked_at', 'is', null).executeTakeFirst();
      const keys = await this.deps.keys.revokeAllOf(tx, row.id);
      const revoked = { sessions: Number(sessions.numUpdatedRows), keys };
      return { action: 'user.disabled', data: revoked, row: { ...row, status: 'disabled', updated_at: now }, extra: revoked };
    });
  }

  async enable(username: string, actor: string): Promise<{ user: UserInfo }> {
    return this.change(username, actor, async (tx, row) => {
      if (row.status === 'active') throw new AirlockError('user_active', `${username} is already active`, { status: 409 });
      const now = new Date().toISOString();
      await tx.db.updateTable('users').set({ status: 'active', updated_at: now, failed_logins: 0, locked_until: null }).where('id', '=', row.id).execute();
      return { action: 'user.enabled', data: {}, row: { ...row, status: 'active', updated_at: now }, extra: {} };
    });
  }

  /** Sets a new password (generated when none is given), ends the user's sessions and lifts a lockout. */
  async resetPassword(username: string, actor: string, password?: string): Promise<{ user: UserInfo; password?: string }> {
    const generated = password === undefined ? generatePassword() : undefined;
    const chosen = (password ?? generated) as string;
    checkPassword(chosen, username);
    const passwordHash = await hashPassword(chosen);
    return this.change(username, actor, async (tx, row) => {
      if (row.kind !== 'human') throw new AirlockError('invalid_request', 'a service account has no password', { status: 400 });
      const now = new Date().toISOString();
      await tx.db.updateTable('users').set({ password_hash: passwordHash, updated_at: now, failed_logins: 0, locked_until: null }).where('id', '=', row.id).execute();
      await tx.db.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', row.id).where('revoked_at', 'is', null).execute();
      return { action: 'user.password_reset', data: {}, row: { ...row, updated_at: now, locked_until: null }, extra: generated ? { password: generated } : {} };
    });
  }

  /** Changes a role. Keys keep their scopes but are cut down to the new role's at every use. */
  async setRole(username: string, role: Role, actor: string): Promise<{ user: UserInfo }> {
    return this.change(username, actor, async (tx, row) => {
      if (row.role === role) throw new AirlockError('role_unchanged', `${username} already has the role ${role}`, { status: 409 });
      if (role !== 'admin') await this.assertNotLastAdmin(tx, row);
      const now = new Date().toISOString();
      await tx.db.updateTable('users').set({ role, updated_at: now }).where('id', '=', row.id).execute();
      return { action: 'user.role_changed', data: { from: row.role, to: role }, row: { ...row, role, updated_at: now }, extra: {} };
    });
  }

  private async change<Extra extends object>(
    username: string,
    actor: string,
    apply: (tx: Tx, row: UsersTable) => Promise<{ action: string; data: Record<string, unknown>; row: UsersTable; extra: Extra }>,
  ): Promise<{ user: UserInfo } & Extra> {
    return this.deps.store.transaction(async (tx) => {
      const row = await this.find(tx.db, username, tx.dialect === 'postgres');
      const result = await apply(tx, row);
      await this.deps.audit.append(tx, { actor, action: result.action, subject: { type: 'user', id: row.id }, data: { username, ...result.data } });
      return { user: userInfo(result.row), ...result.extra };
    });
  }

  /** An installation always keeps one active human admin, or nobody could ever administer it again. */
  private async assertNotLastAdmin(tx: Tx, row: UsersTable): Promise<void> {
    if (row.role !== 'admin' || row.kind !== 'human') return;
    const others = await tx.db.selectFrom('users').select('id').where('role', '=', 'admin').where('kind', '=', 'human').where('status', '=', 'active').where('id', '!=', row.id).executeTakeFirst();
    if (!others) throw new AirlockError('last_admin', `${row.username} is the last active admin`, { status: 409 });
  }

  private async find(db: Store['db'], username: string, lock = false): Promise<UsersTable> {
    let query = db.selectFrom('users').selectAll().where('username', '=', username);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (!row) throw new AirlockError('user_not_found', `no user ${username}`, { status: 404 });
    return row;
  }
}
