import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import { Statement, type Store, type Tx } from '../store/index.js';
import type { ApiKeysTable, UsersTable } from '../store/tables.js';
import { actorOf, type Principal } from './principal.js';
import { effectiveScopes, leastRoleFor, roleCovers, type Role } from './roles.js';
import { hasScope, type Scope } from './scopes.js';
import { insertUser, newUserRow } from './users.js';

/** A key as listed: never its secret. */
export interface ApiKeyInfo {
  readonly id: string;
  readonly prefix: string;
  readonly name: string;
  readonly scopes: string[];
  readonly owner: string | null;
  readonly created_at: string;
  readonly created_by: string;
  readonly expires_at: string | null;
  readonly environments: string[] | null;
  readonly targets: string[] | null;
  readonly revoked_at: string | null;
  readonly last_used_at: string | null;
}

export interface CreateKeyInput {
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** The owning user or service account (username); without it the key gets a service account of its own. */
  readonly owner?: string;
  readonly expiresAt?: string;
  readonly environments?: readonly string[];
  readonly targets?: readonly string[];
}

/** `alk_<8 visible characters>_<43 secret characters>`: recognisable in logs and config, 256 bits of secret. */
const KEY_PATTERN = /^alk_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$/;
const LAST_USED_EVERY_MS = 60_000;
/** The key with its owner's name, role and status: one statement on every authenticated request. */
const KEY_BY_PREFIX = new Statement<ApiKeysTable & { owner: string | null; owner_role: string | null; owner_status: string | null }>(
  'select api_keys.*, users.username as owner, users.role as owner_role, users.status as owner_status from api_keys left join users on users.id = api_keys.user_id where api_keys.prefix = ?',
);
/** Compared against when the prefix is unknown, so a miss takes as long as a hit. */
const DUMMY_HASH = Buffer.alloc(32);

export function isApiKey(credential: string): boolean {
  return credential.startsWith('alk_');
}

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function jsonList(text: string | null): string[] | null {
  return text === null ? null : (JSON.parse(text) as string[]);
}

function info(row: ApiKeysTable, owner: string | null): ApiKeyInfo {
  return {
    id: row.id,
    prefix: row.prefix,
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    owner,
    created_at: row.created_at,
    created_by: row.created_by,
    expires_at: row.expires_at,
    environments: jsonList(row.environments),
    targets: jsonList(row.targets),
    revoked_at: row.revoked_at,
    last_used_at: row.last_used_at,
  };
}

/** Keys with their owner's username, as every listing shows them. */
function keysWithOwner(db: Store['db']) {
  return db.selectFrom('api_keys').leftJoin('users', 'users.id', 'api_keys.user_id').selectAll('api_keys').select('users.username as owner');
}

export type KeyFailure = 'malformed' | 'unknown' | 'revoked' | 'expired' | 'owner_disabled';

/**
 * API keys: owned by a user or service account whose role bounds their scopes, created with a random
 * 256-bit secret shown once, stored as a sha256 hash (a high-entropy secret needs no slow hash), found
 * by their visible prefix, compared in constant time.
 */
export class ApiKeys {
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Creates a key for `input.owner` (or for a service account named after the key). Non-admins may only
   * create keys for themselves; nobody may give a key scopes its owner's role does not grant.
   */
  async create(input: CreateKeyInput & ({ by: Principal } | { actor: string })): Promise<{ key: string; info: ApiKeyInfo }> {
    // `actor` alone is a local admin on this machine (the CLI); `by` is a principal of the API.
    const by = 'by' in input ? input.by : { actor: input.actor };
    const actor = 'actor' in by ? by.actor : actorOf(by);
    const isAdmin = 'actor' in by || hasScope(by.scopes, 'admin');
    const prefix = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8);
    const key = `alk_${prefix}_${randomBytes(32).toString('base64url')}`;
    if (input.expiresAt && Date.parse(input.expiresAt) <= Date.now()) {
      throw new AirlockError('invalid_expiry', 'the expiry must lie in the future', { status: 400 });
    }
    return this.store.transaction(async (tx) => {
      const owner = await this.ownerFor(tx, by, input, actor, isAdmin);
      if (!roleCovers(owner.role as Role, input.scopes)) {
        throw new AirlockError('scope_exceeds_owner', `${owner.username} has the role ${owner.role}, which does not grant ${input.scopes.join(', ')}`, { status: 403 });
      }
      const row: ApiKeysTable = {
        id: uuidv7(),
        prefix,
        secret_hash: hashKey(key).toString('hex'),
        name: input.name,
        scopes: JSON.stringify([...new Set(input.scopes)].sort()),
        created_at: new Date().toISOString(),
        created_by: actor,
        revoked_at: null,
        last_used_at: null,
        user_id: owner.id,
        expires_at: input.expiresAt ? new Date(input.expiresAt).toISOString() : null,
        environments: input.environments ? JSON.stringify([...input.environments]) : null,
        targets: input.targets ? JSON.stringify([...input.targets]) : null,
      };
      await tx.db.insertInto('api_keys').values(row).execute();
      const shown = info(row, owner.username);
      await this.audit.append(tx, {
        actor,
        action: 'key.created',
        subject: { type: 'api_key', id: row.id },
        data: { name: row.name, prefix, owner: owner.username, scopes: shown.scopes, expires_at: row.expires_at, environments: shown.environments, targets: shown.targets },
      });
      return { key, info: shown };
    });
  }

  private async ownerFor(tx: Tx, by: Principal | { actor: string }, input: CreateKeyInput, actor: string, isAdmin: boolean): Promise<UsersTable> {
    if (input.owner !== undefined) {
      const owner = await tx.db.selectFrom('users').selectAll().where('username', '=', input.owner).executeTakeFirst();
      if (!owner) throw new AirlockError('user_not_found', `no user or service account ${input.owner}`, { status: 404 });
      if (!isAdmin && 'userId' in by && owner.id !== by.userId) throw new AirlockError('forbidden', 'only an admin may create keys for someone else', { status: 403 });
      if (owner.status !== 'active') throw new AirlockError('user_disabled', `${owner.username} is disabled`, { status: 409 });
      return owner;
    }
    if (!isAdmin && 'userId' in by) {
      const self = await tx.db.selectFrom('users').selectAll().where('id', '=', by.userId).executeTakeFirst();
      if (!self) throw new AirlockError('user_not_found', 'the acting user no longer exists', { status: 404 });
      return self;
    }
    // An admin naming no owner: the key gets a service account of its own, with the least role it needs.
    const username = `svc-${input.name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').slice(0, 56)}`;
    const existing = await tx.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    if (existing) {
      if (existing.kind !== 'service') throw new AirlockError('user_exists', `${username} is a person's account: name an owner`, { status: 409 });
      return existing;
    }
    const account = newUserRow({ username, kind: 'service', role: leastRoleFor(input.scopes), passwordHash: null, actor });
    await insertUser(tx, this.audit, account);
    return account;
  }

  /** Admins see every key; anyone else sees their own. */
  async list(by?: Principal): Promise<ApiKeyInfo[]> {
    let query = keysWithOwner(this.store.db)
      .orderBy('api_keys.created_at')
      .orderBy('api_keys.id');
    if (by && !hasScope(by.scopes, 'admin')) query = query.where('api_keys.user_id', '=', by.userId);
    const rows = await query.execute();
    return rows.map((row) => info(row, row.owner));
  }

  async get(id: string): Promise<ApiKeyInfo | undefined> {
    const row = await keysWithOwner(this.store.db).where('api_keys.id', '=', id).executeTakeFirst();
    return row ? info(row, row.owner) : undefined;
  }

  /** Revokes by id or prefix; revoking twice is refused so a typo cannot pass for success. */
  async revoke(idOrPrefix: string, by: Principal | string): Promise<ApiKeyInfo> {
    const actor = typeof by === 'string' ? by : actorOf(by);
    return this.store.transaction(async (tx) => {
      const row = await keysWithOwner(tx.db)
        .where((eb) => eb.or([eb('api_keys.id', '=', idOrPrefix), eb('api_keys.prefix', '=', idOrPrefix)]))
        .executeTakeFirst();
      const mayRevoke = row && (typeof by === 'string' || hasScope(by.scopes, 'admin') || row.user_id === by.userId);
      if (!row || !mayRevoke) throw new AirlockError('key_not_found', `no API key with id or prefix ${idOrPrefix}`, { status: 404 });
      if (row.revoked_at) throw new AirlockError('key_already_revoked', `API key ${row.prefix} was revoked at ${row.revoked_at}`, { status: 409 });
      const revokedAt = new Date().toISOString();
      await tx.db.updateTable('api_keys').set({ revoked_at: revokedAt }).where('id', '=', row.id).execute();
      await this.audit.append(tx, { actor, action: 'key.revoked', subject: { type: 'api_key', id: row.id }, data: { name: row.name, prefix: row.prefix, owner: row.owner } });
      return info({ ...row, revoked_at: revokedAt }, row.owner);
    });
  }

  /** Revokes every live key of a user, inside the caller's transaction (used when a user is disabled). */
  async revokeAllOf(tx: Tx, userId: string): Promise<number> {
    const result = await tx.db.updateTable('api_keys').set({ revoked_at: new Date().toISOString() }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** The principal for a presented key, or why there is none. Never throws for a bad key. */
  async authenticate(key: string): Promise<{ principal: Principal } | { failure: KeyFailure }> {
    const match = KEY_PATTERN.exec(key);
    const row = match ? await KEY_BY_PREFIX.first(this.store, [match[1] as string]) : undefined;
    const presented = hashKey(key);
    const stored = row ? Buffer.from(row.secret_hash, 'hex') : DUMMY_HASH;
    const equal = timingSafeEqual(presented, stored.length === presented.length ? stored : DUMMY_HASH) && row !== undefined;
    if (!match) return { failure: 'malformed' };
    if (!row || !equal || !row.user_id || !row.owner) return { failure: 'unknown' };
    if (row.revoked_at) return { failure: 'revoked' };
    if (row.expires_at && row.expires_at <= new Date().toISOString()) return { failure: 'expired' };
    if (row.owner_status !== 'active') return { failure: 'owner_disabled' };
    this.touch(row.id);
    const role = row.owner_role as Role;
    const environments = jsonList(row.environments);
    const targets = jsonList(row.targets);
    return {
      principal: {
        id: row.id,
        kind: 'api_key',
        name: row.name,
        userId: row.user_id,
        username: row.owner,
        role,
        scopes: effectiveScopes(JSON.parse(row.scopes) as string[], role),
        ...(environments ? { environments } : {}),
        ...(targets ? { targets } : {}),
      },
    };
  }

  /** Records last use at most once a minute per key, off the request's path. */
  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.lastUsedWritten.get(id) ?? 0) < LAST_USED_EVERY_MS) return;
    this.lastUsedWritten.set(id, now);
    void this.store.db
      .updateTable('api_keys')
      .set({ last_used_at: new Date(now).toISOString() })
      .where('id', '=', id)
      .execute()
      .catch(() => undefined);
  }
}
