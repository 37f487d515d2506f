import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../store.js';

/** The chain starts from this hash: sha256 of nothing would do too, but a visible constant is easier to check. */
export const GENESIS_HASH = '0'.repeat(64);

const APPEND_ONLY_TABLES = ['audit_events', 'audit_checkpoints'] as const;

/** No `down`: the audit chain is never taken apart by a migration; undoing it is a restore from backup. */
export function auditMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', big, (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('subject_type', 'text')
        .addColumn('subject_id', 'text')
        .addColumn('environment', 'text')
        .addColumn('target', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_action').on('audit_events').columns(['action', 'seq']).execute();
      await db.schema.createIndex('audit_events_subject').on('audit_events').columns(['subject_type', 'subject_id']).execute();

      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('seq', big, (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('seq', big, (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('checkpoint_seq', big, (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await sql`insert into audit_head (id, seq, hash, checkpoint_seq, updated_at) values (1, 0, ${GENESIS_HASH}, 0, ${new Date().toISOString()})`.execute(db);

      if (dialect === 'postgres') {
        await sql`create function airlock_append_only() returns trigger language plpgsql as $$
          begin
            raise exception '% is append-only: % refused', tg_table_name, tg_op using errcode = 'insufficient_privilege';
          end
        $$`.execute(db);
        for (const table of APPEND_ONLY_TABLES) {
          await sql`create trigger ${sql.raw(`${table}_append_only`)} before update or delete on ${sql.table(table)}
            for each row execute function airlock_append_only()`.execute(db);
          await sql`create trigger ${sql.raw(`${table}_no_truncate`)} before truncate on ${sql.table(table)}
            for each statement execute function airlock_append_only()`.execute(db);
        }
      } else {
        for (const table of APPEND_ONLY_TABLES) {
          for (const operation of ['update', 'delete'] as const) {
            await sql`create trigger ${sql.raw(`${table}_no_${operation}`)} before ${sql.raw(operation)} on ${sql.table(table)}
              begin select raise(abort, ${sql.lit(`${table} is append-only: ${operation.toUpperCase()} refused`)}); end`.execute(db);
          }
        }
      }
    },
  };
}
