import { type Kysely, type Migration } from 'kysely';

/**
 * Users (people and service accounts), sessions, TOTP, step-up challenges and the individual decisions
 * behind a request (for k-of-n approval). API keys gain an owner, an expiry and environment/target limits.
 */
export const identityMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('username', 'text', (c) => c.notNull().unique())
      // 'human' logs in with a password; 'service' only owns API keys.
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_until', 'text')
      // TOTP secrets are stored encrypted (AES-256-GCM); the pending one awaits its first code.
      .addColumn('totp_secret', 'text')
      .addColumn('totp_pending', 'text')
      .addColumn('totp_enrolled_at', 'text')
      // The last accepted time step: a code is accepted only for a later step, so never twice.
      .addColumn('totp_last_step', 'integer')
      .addColumn('recovery_codes', 'text')
      .execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('refresh_hash', 'text', (c) => c.unique())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('mfa', 'integer', (c) => c.notNull())
      .addColumn('ip', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('last_seen_at', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();

    await db.schema.alterTable('api_keys').addColumn('user_id', 'text').execute();
    await db.schema.alterTable('api_keys').addColumn('expires_at', 'text').execute();
    await db.schema.alterTable('api_keys').addColumn('environments', 'text').execute();
    await db.schema.alterTable('api_keys').addColumn('targets', 'text').execute();
    await db.schema.createIndex('api_keys_user').on('api_keys').column('user_id').execute();

    await db.schema.alterTable('approvals').addColumn('required_approvals', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    await db.schema.alterTable('approvals').addColumn('step_up', 'integer', (c) => c.notNull().defaultTo(0)).execute();

    await db.schema
      .createTable('approval_decisions')
      .addColumn('approval_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('step_up', 'text')
      .addColumn('decided_at', 'text', (c) => c.notNull())
      // One decision per person per request: the second approver must be someone else.
      .addPrimaryKeyConstraint('approval_decisions_pk', ['approval_id', 'user_id'])
      .execute();

    await db.schema
      .createTable('challenges')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('approval_id', 'text')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('approved_by', 'text')
      .addColumn('approved_at', 'text')
      .addColumn('consumed_at', 'text')
      .addColumn('consumed_for', 'text')
      .execute();

    // Keys made before users existed each get a service account of their own, with the least role that
    // covers their scopes, so that every key has an owner whose scopes bound it.
    const keys = await db.selectFrom('api_keys').select(['id', 'prefix', 'name', 'scopes', 'created_at']).execute();
    for (const key of keys as { id: string; prefix: string; name: string; scopes: string; created_at: string }[]) {
      const userId = `svc-${key.id}`;
      await db
        .insertInto('users')
        .values({
          id: userId,
          username: `key-${key.prefix}`,
          kind: 'service',
          role: legacyRole(JSON.parse(key.scopes) as string[]),
          status: 'active',
          created_at: key.created_at,
          created_by: 'migration',
          updated_at: key.created_at,
          failed_logins: 0,
        })
        .execute();
      await db.updateTable('api_keys').set({ user_id: userId }).where('id', '=', key.id).execute();
      // Requests now name the requesting user, so that no key of the same owner can decide them.
      await db.updateTable('approvals').set({ requested_by: userId }).where('requested_by', '=', key.id).execute();
    }
  },
};

/** Frozen copy of the role table as it was when this migration was written. */
function legacyRole(scopes: string[]): string {
  const roles: [string, string[]][] = [
    ['auditor', ['audit:read', 'approvals:read']],
    ['requester', ['approvals:request', 'approvals:read', 'gateway:execute', 'workspaces:use']],
    ['approver', ['approvals:read', 'approvals:decide', 'audit:read']],
  ];
  return roles.find(([, allowed]) => scopes.every((scope) => allowed.includes(scope)))?.[0] ?? 'admin';
}
