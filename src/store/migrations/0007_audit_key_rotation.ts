import type { Kysely, Migration } from 'kysely';

/**
 * Audit key rotation: the checkpoint at an `audit.key_rotated` event is signed by both keys. It is an
 * ordinary checkpoint of the new key (`key_id`, `signature`), which also carries the old key's
 * signature of the hand-over (`prev_key_id`, `prev_signature`): the old key vouches for the new one.
 * Both columns stay null on every other checkpoint. The table stays append-only (its triggers refuse
 * UPDATE and DELETE whatever its columns).
 */
export const auditKeyRotationMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // One column per statement: SQLite's ALTER TABLE adds one at a time.
    await db.schema.alterTable('audit_checkpoints').addColumn('prev_key_id', 'text').execute();
    await db.schema.alterTable('audit_checkpoints').addColumn('prev_signature', 'text').execute();
  },
};
