import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../store.js';

/**
 * Workspaces: per-user folders (or containers) with file and git tools. A row lives on after its
 * workspace is purged (status `purged`), so names are unique only among the workspaces that still
 * exist: an owner can reuse a name once the old workspace is gone for good.
 */
export function workspacesMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('workspaces')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('owner_name', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('quota_bytes', big, (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('container_id', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .addColumn('purge_after', 'text')
        .addColumn('purged_at', 'text')
        .execute();
      await db.schema
        .createIndex('workspaces_owner_name')
        .on('workspaces')
        .columns(['owner_id', 'name'])
        .unique()
        .where(sql.ref('status'), '<>', 'purged')
        .execute();
      await db.schema.createIndex('workspaces_purge_due').on('workspaces').columns(['status', 'purge_after']).execute();
    },
  };
}
