import { allColumns } from '../store/statements.js';
import type { Database } from '../store/tables.js';

/**
 * Every table of the store, in the order a backup writes and a restore inserts them: people and keys,
 * then what they asked for and decided, what ran, then the audit chain and what was derived from it.
 * The schema declares no foreign keys; the order is the one they would need. Naming every table is
 * checked by the type (a table added to Database and left out here does not compile) and by a test
 * against the migrated schema.
 */
export const BACKUP_TABLES = allColumns<Database>()(
  'users',
  'api_keys',
  'sessions',
  'challenges',
  'approvals',
  'approval_decisions',
  'executions',
  'workspaces',
  'webhook_subscriptions',
  'telegram_messages',
  'audit_events',
  'audit_checkpoints',
  'audit_head',
  'outbox',
  'outbox_cursors',
  'deliveries',
  'delivery_attempts',
);
export type BackupTable = (typeof BACKUP_TABLES)[number];

export function isBackupTable(name: string): name is BackupTable {
  return (BACKUP_TABLES as readonly string[]).includes(name);
}
