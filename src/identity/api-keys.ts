import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import { Statement, type Store } from '../store/index.js';
import type { ApiKeysTable } from '../store/tables.js';
import type { Scope } from './scopes.js';

/** Who is acting, as every service sees it. */
export interface Principal {
  readonly id: string;
  readonly kind: 'api_key';
  readonly name: string;
  readonly scopes: ReadonlySet<string>;
}

/** The audit actor for a principal. */
export function actorOf(principal: Principal): string {
  return `key:${principal.id}`;
}

/** A key as listed: never its secret. */
export interface ApiKeyInfo {
  readonly id: string;
  readonly prefix: string;
  readonly name: string;
  readonly scopes: string[];
  readonly created_at: string;
  readonly created_by: string;
  readonly revoked_at: string | null;
  readonly last_used_at: string | null;
}

/** `alk_<8 visible characters>_<43 secret characters>`: recognisable in logs and config, 256 bits of secret. */
const KEY_PATTERN = /^alk_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$/;
const LAST_USED_EVERY_MS = 60_000;
const KEY_BY_PREFIX = new Statement<ApiKeysTable>('select * from api_keys where prefix = ?');
/** Compared against when the prefix is unknown, so a miss takes as long as a hit. */
const DUMMY_HASH = Buffer.alloc(32);

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function info(row: ApiKeysTable): ApiKeyInfo {
  const { secret_hash: _secret, scopes, ...rest } = row;
  return { ...rest, scopes: JSON.parse(scopes) as string[] };
}

/**
 * API keys: created with a random 256-bit secret shown once, stored as a sha256 hash (a high-entropy
 * secret needs no slow hash), found by their visible prefix, compared in constant time.
 */
export class ApiKeys {
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
  ) {}

  async create(input: { name: string; scopes: readonly Scope[]; actor: string }): Promise<{ key: string; info: ApiKeyInfo }> {
    const prefix = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8);
    const key = `alk_${prefix}_${randomBytes(32).toString('base64url')}`;
    const row: ApiKeysTable = {
      id: uuidv7(),
      prefix,
      secret_hash: hashKey(key).toString('hex'),
      name: input.name,
      scopes: JSON.stringify([...input.scopes].sort()),
      created_at: new Date().toISOString(),
      created_by: input.actor,
      revoked_at: null,
      last_used_at: null,
    };
    await this.store.transaction(async (tx) => {
      await tx.db.insertInto('api_keys').values(row).execute();
      await this.audit.append(tx, { actor: input.actor, action: 'key.created', subject: { type: 'api_key', id: row.id }, data: { name: row.name, prefix, scopes: JSON.parse(row.scopes) as string[] } });
    });
    return { key, info: info(row) };
  }

  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.store.db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(info);
  }

  /** Revokes by id or prefix; revoking twice is refused so a typo cannot pass for success. */
  async revoke(idOrPrefix: string, actor: string): Promise<ApiKeyInfo> {
    return this.store.transaction(async (tx) => {
      const row = await tx.db.selectFrom('api_keys').selectAll().where((eb) => eb.or([eb('id', '=', idOrPrefix), eb('prefix', '=', idOrPrefix)])).executeTakeFirst();
      if (!row) throw new AirlockError('key_not_found', `no API key with id or prefix ${idOrPrefix}`, { status: 404 });
      if (row.revoked_at) throw new AirlockError('key_already_revoked', `API key ${row.prefix} was revoked at ${row.revoked_at}`, { status: 409 });
      const revokedAt = new Date().toISOString();
      await tx.db.updateTable('api_keys').set({ revoked_at: revokedAt }).where('id', '=', row.id).execute();
      await this.audit.append(tx, { actor, action: 'key.revoked', subject: { type: 'api_key', id: row.id }, data: { name: row.name, prefix: row.prefix } });
      return info({ ...row, revoked_at: revokedAt });
    });
  }

  /** The principal for a presented key, or why there is none. Never throws for a bad key. */
  async authenticate(key: string): Promise<{ principal: Principal } | { failure: 'malformed' | 'unknown' | 'revoked' }> {
    const match = KEY_PATTERN.exec(key);
    const row = match ? await KEY_BY_PREFIX.first(this.store, [match[1] as string]) : undefined;
    const presented = hashKey(key);
    const stored = row ? Buffer.from(row.secret_hash, 'hex') : DUMMY_HASH;
    const equal = timingSafeEqual(presented, stored.length === presented.length ? stored : DUMMY_HASH) && row !== undefined;
    if (!match) return { failure: 'malformed' };
    if (!row || !equal) return { failure: 'unknown' };
    if (row.revoked_at) return { failure: 'revoked' };
    this.touch(row.id);
    return { principal: { id: row.id, kind: 'api_key', name: row.name, scopes: new Set(JSON.parse(row.scopes) as string[]) } };
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
