import type { Kysely, Migration } from 'kysely';

/** The policy gate counts a target's running executions before every run: kept cheap by an index. */
export const targetsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('executions_target_status').on('executions').columns(['target', 'status']).execute();
  },
};
