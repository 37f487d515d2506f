import type { Kysely, Migration } from 'kysely';

/** API keys, approval requests and executions: the tables of the gated flow. Times are ISO-8601 text on both dialects. */
export const gateMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('prefix', 'text', (c) => c.notNull().unique())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .addColumn('last_used_at', 'text')
      .execute();

    await db.schema
      .createTable('approvals')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('worker_id', 'text', (c) => c.notNull())
      .addColumn('task_name', 'text', (c) => c.notNull())
      .addColumn('instruction', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('command', 'text', (c) => c.notNull())
      .addColumn('op', 'text', (c) => c.notNull())
      .addColumn('op_hash', 'text', (c) => c.notNull())
      .addColumn('risk_level', 'text', (c) => c.notNull())
      .addColumn('risk_reasons', 'text', (c) => c.notNull())
      .addColumn('score', 'integer', (c) => c.notNull())
      .addColumn('findings', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('decided_by', 'text')
      .addColumn('decision_reason', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('decided_at', 'text')
      .addColumn('token_jti', 'text', (c) => c.unique())
      .addColumn('minted_at', 'text')
      .addColumn('executed_at', 'text')
      .execute();
    await db.schema.createIndex('approvals_status').on('approvals').columns(['status', 'created_at']).execute();

    await db.schema
      .createTable('executions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      // One row per token: the unique jti is the single-use guarantee (a conditional insert).
      .addColumn('jti', 'text', (c) => c.notNull().unique())
      .addColumn('approval_id', 'text', (c) => c.notNull())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('op_hash', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('exit_code', 'integer')
      .addColumn('output', 'text')
      .addColumn('output_sha256', 'text')
      .addColumn('truncated', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('error', 'text')
      .addColumn('receipt', 'text')
      // The process group running the command, named by pid and kernel start time so a restart can
      // stop what a crashed gateway left behind without ever hitting a reused pid.
      .addColumn('process', 'text')
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .addColumn('duration_ms', 'integer')
      .execute();
    await db.schema.createIndex('executions_approval').on('executions').column('approval_id').execute();
    await db.schema.createIndex('executions_running').on('executions').columns(['instance_id', 'status']).execute();
  },
};
