import { resolve } from 'node:path';
import { CompiledQuery } from 'kysely';
import { ChainChecker } from '../audit/verify.js';
import type { AuditEvent } from '../audit/canonical.js';
import { describeStore, type ResolvedConfig } from '../config/index.js';
import { AirlockError } from '../errors.js';
import { openConfiguredStore } from '../runtime.js';
import { GENESIS_HASH } from '../store/migrations/0001_audit.js';
import { appliedMigrations, migrate, migrateTo, migrationNames } from '../store/migrate.js';
import { insertStatement, type Queryable, type Statement } from '../store/statements.js';
import type { Dialect, Store } from '../store/store.js';
import type { Database } from '../store/tables.js';
import { keysContext } from './backup.js';
import { existingTables, placeholders, quoted, tableShape, type Query } from './catalog.js';
import { unseal } from './crypto.js';
import { KeyFiles, type Header, type KeyFile, type Value } from './format.js';
import { localAuditKeyIds, planKeyRestore, writeKeyFiles, writePublicKeys, type KeyRestorePlan } from './key-files.js';
import { corrupt, readBackup } from './reader.js';
import { BACKUP_TABLES, isBackupTable } from './tables.js';

export interface RestoreOptions {
  readonly file: string;
  /** Opens the backup's keys; without it they are left out. */
  readonly passphrase?: string | undefined;
  /** Replace existing key files that differ from the backup's. */
  readonly force?: boolean;
  /** Also write the backup's audit public keys (never private ones) here, as <key id>.pub.pem. */
  readonly publicKeysOut?: string | undefined;
}

export interface RestoreReport {
  readonly file: string;
  readonly backup_id: string;
  readonly created_at: string;
  readonly from: { readonly dialect: Header['dialect']; readonly source: string; readonly airlock_version: string };
  readonly into: string;
  readonly schema: { readonly backup: string; readonly migrated_after_restore: string[] };
  readonly audit_head: Header['audit_head'];
  /** Events whose links and hashes were checked while reading the file. */
  readonly chain_checked: number;
  readonly tables: Record<string, number>;
  readonly keys: { readonly in_backup: boolean; readonly restored: string[]; readonly unchanged: string[]; readonly note?: string };
  /** Keys that signed checkpoints, and whether this configuration now holds their public key. */
  readonly checkpoint_keys: Array<{ readonly key_id: string; readonly known: boolean }>;
  readonly public_keys_written: string[];
}

/** Rows per INSERT: well under both dialects' bound-parameter limits. */
const MAX_PARAMETERS = 30_000;
const MAX_ROWS = 500;

interface Checked {
  readonly header: Header;
  readonly sha256: string;
  readonly keys: KeyFile[] | undefined;
  readonly chainChecked: number;
}

/**
 * Pass one, before anything is written anywhere: the whole file is read and checked (format, every
 * line, the sha256 of the content, the audit chain's links and hashes up to the recorded head), and the
 * keys are opened when a passphrase is given (a wrong one fails here).
 */
async function checkBackup(file: string, passphrase: string | undefined): Promise<Checked> {
  let keys: KeyFile[] | undefined;
  let header: Header | undefined;
  let checker: ChainChecker | undefined;
  let problem: { seq: number; reason: string } | undefined;
  const { sha256 } = await readBackup(file, {
    header: (value) => {
      header = value;
    },
    keys: async (sealed) => {
      if (!passphrase || !header) return;
      const opened = await unseal(sealed, passphrase, keysContext(header));
      const parsed = KeyFiles.safeParse(JSON.parse(opened.toString('utf8')));
      if (!parsed.success) throw corrupt(file, 'its key block does not hold key files');
      keys = parsed.data;
    },
    rows: (table, rows) => {
      if (table.name === 'audit_head') {
        const row = Object.fromEntries(table.columns.map((column, position) => [column, rows[0]?.[position]]));
        if (row.seq !== header?.audit_head.seq || row.hash !== header?.audit_head.hash) throw corrupt(file, 'its audit head row differs from its header');
      }
      if (table.name !== 'audit_events' || problem) return;
      checker ??= new ChainChecker(new Map(), new Map());
      const index = Object.fromEntries(table.columns.map((column, position) => [column, position]));
      for (const row of rows) {
        const event = Object.fromEntries(Object.entries(index).map(([column, position]) => [column, row[position]])) as unknown as AuditEvent;
        problem = checker.check(event);
        if (problem) return;
      }
    },
  });
  const checked = header as Header;
  const head = checked.audit_head;
  const names = checked.tables.map((table) => table.name);
  const foreign = names.filter((name) => !isBackupTable(name));
  if (foreign.length > 0 || new Set(names).size !== names.length) throw corrupt(file, `its header names tables that are not Airlock's, or one twice (${foreign.join(', ') || names.join(', ')})`);
  if (checked.tables.find((table) => table.name === 'audit_head')?.rows !== 1) throw corrupt(file, 'it has no audit head row');
  problem ??= checker?.end(head.seq, true);
  if (!problem && (checker?.lastHash ?? GENESIS_HASH) !== head.hash) problem = { seq: head.seq, reason: 'the recorded head hash does not match the last event' };
  if (!problem && (checker?.count ?? 0) !== head.seq) problem = { seq: head.seq, reason: `the backup holds ${checker?.count ?? 0} events up to a head of ${head.seq}` };
  if (problem) {
    throw new AirlockError('backup_chain_broken', `the audit chain in ${file} does not hold at seq ${problem.seq}: ${problem.reason}; nothing was restored`);
  }
  return { header: checked, sha256, keys, chainChecked: checker?.count ?? 0 };
}

function queryOn(on: Queryable): Query {
  return async <Row>(text: string, parameters: readonly unknown[] = []) =>
    (await on.db.executeQuery<Row>(CompiledQuery.raw(placeholders(on.dialect, text), parameters as unknown[]))).rows as Row[];
}

/** The Airlock tables of the target that hold data (the audit head counts once it has moved). */
async function tablesWithData(on: Queryable): Promise<string[]> {
  const query = queryOn(on);
  const present = await existingTables(on.dialect, query);
  const full: string[] = [];
  for (const table of BACKUP_TABLES) {
    if (!present.has(table)) continue;
    const text = table === 'audit_head' ? 'select 1 as found from audit_head where seq <> 0 limit 1' : `select 1 as found from ${quoted(table)} limit 1`;
    if ((await query(text)).length > 0) full.push(table);
  }
  return full;
}

async function assertEmpty(on: Queryable, description: string): Promise<void> {
  const full = await tablesWithData(on);
  if (full.length > 0) {
    throw new AirlockError(
      'restore_target_not_empty',
      `${description} already holds data (${full.join(', ')}); restore only into a new, empty database (created, or only migrated). Nothing was restored`,
    );
  }
}

/** The backup's schema must be one this version knows (the same migrations, in the same order, or fewer). */
function assertKnownSchema(dialect: Dialect, header: Header): void {
  const known = migrationNames(dialect);
  const wanted = header.schema.migrations;
  const unknown = wanted.filter((name) => !known.includes(name));
  if (unknown.length > 0 || wanted.some((name, index) => known[index] !== name)) {
    throw new AirlockError(
      'backup_schema_newer',
      `the backup was made under schema ${wanted.at(-1)} (Airlock ${header.airlock_version}), which this Airlock does not know (${unknown.join(', ') || 'other order'}): restore it with that version or a newer one. Nothing was restored`,
    );
  }
}

/** Schema of the backup → schema of the target: the target migrated exactly up to the backup's migration. */
async function prepareSchema(store: Store, header: Header): Promise<void> {
  const wanted = header.schema.migrations;
  const applied = await appliedMigrations(store);
  if (applied.length > wanted.length || applied.some((name, index) => wanted[index] !== name)) {
    throw new AirlockError(
      'restore_schema_mismatch',
      `${store.description} is already migrated to ${applied.at(-1)}, past the backup's schema ${wanted.at(-1)}: restore into a new database that is not migrated, so the later migrations run on the restored rows. Nothing was restored`,
    );
  }
  await migrateTo(store, wanted.at(-1) as string);
  const query = queryOn(store);
  const present = await existingTables(store.dialect, query);
  for (const table of header.tables) {
    const columns = present.has(table.name) ? new Set((await tableShape(store.dialect, query, table.name)).columns) : new Set<string>();
    const missing = table.columns.filter((column) => !columns.has(column));
    if (missing.length > 0) {
      throw new AirlockError('restore_schema_mismatch', `${store.description} has no ${table.name}(${missing.join(', ')}) under schema ${wanted.at(-1)}; nothing was restored`);
    }
  }
}

/** PostgreSQL: sequences behind serial or identity columns continue after the restored rows (the schema has none today). */
async function resetSequences(on: Queryable): Promise<void> {
  if (on.dialect !== 'postgres') return;
  const query = queryOn(on);
  const sequences = await query<{ table_name: string; column_name: string; sequence: string | null }>(
    `select table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name) as sequence
     from information_schema.columns where table_schema = current_schema() and (column_default like 'nextval(%' or is_identity = 'YES')`,
  );
  for (const row of sequences) {
    if (!row.sequence || !(BACKUP_TABLES as readonly string[]).includes(row.table_name)) continue;
    await query(`select setval(?, coalesce((select max(${quoted(row.column_name)}) from ${quoted(row.table_name)}), 0) + 1, false)`, [row.sequence]);
  }
}

/**
 * Restores a backup into the configured store, which must hold no data: checks the whole file first
 * (nothing is written if it is damaged, of a newer schema, or the passphrase is wrong), migrates the
 * target to the backup's schema, inserts every row in one transaction (re-checking the sha256 before
 * it commits), runs the migrations that came after, then writes the keys when the backup has them and
 * the passphrase opened them. The audit chain comes back with the same head: restore appends nothing.
 */
export async function restoreBackup(config: ResolvedConfig, options: RestoreOptions): Promise<RestoreReport> {
  const file = resolve(options.file);
  const checked = await checkBackup(file, options.passphrase);
  const { header } = checked;
  assertKnownSchema(config.store.dialect, header);
  let keyNote: string | undefined;
  let plan: KeyRestorePlan | undefined;
  if (header.keys.included && !checked.keys) keyNote = 'the backup holds keys, but no passphrase was given: they were not restored';
  if (!header.keys.included && options.passphrase) keyNote = 'the backup holds no keys';
  if (checked.keys) plan = planKeyRestore(config.paths, checked.keys, options.force === true);

  const description = describeStore(config);
  const store = await openConfiguredStore(config, 2);
  let migratedAfter: string[];
  try {
    await assertEmpty(store, description);
    await prepareSchema(store, header);
    const statements = new Map<string, Statement>();
    await store.transaction(async (tx) => {
      if (tx.dialect === 'postgres') await queryOn(tx)('select seq from audit_head where id = 1 for update');
      await assertEmpty(tx, description);
      // The migration's genesis row makes way for the backup's head.
      await queryOn(tx)('delete from audit_head');
      const again = await readBackup(file, {
        rows: async (table, rows: Value[][]) => {
          const perStatement = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMETERS / table.columns.length)));
          for (let start = 0; start < rows.length; start += perStatement) {
            const chunk = rows.slice(start, start + perStatement);
            const key = `${table.name}:${chunk.length}`;
            let statement = statements.get(key);
            if (!statement) {
              statement = insertStatement(table.name as keyof Database, table.columns, chunk.length);
              statements.set(key, statement);
            }
            await statement.run(tx, chunk.flat());
          }
        },
      });
      // The file changed between the two readings: roll back.
      if (again.sha256 !== checked.sha256) throw corrupt(file, 'it changed while it was being restored');
      await resetSequences(tx);
    });
    migratedAfter = (await migrate(store)).applied;
    if (store.dialect === 'postgres') await queryOn(store)('analyze');
  } finally {
    await store.close();
  }

  const restored = plan ? writeKeyFiles(plan) : [];
  const local = localAuditKeyIds(config.paths);
  const publicKeys = header.audit_keys.flatMap((key) => (key.spki ? [{ key_id: key.key_id, spki: key.spki }] : []));
  const written = options.publicKeysOut && publicKeys.length > 0 ? writePublicKeys(resolve(options.publicKeysOut), publicKeys) : [];
  return {
    file,
    backup_id: header.backup_id,
    created_at: header.created_at,
    from: { dialect: header.dialect, source: header.source, airlock_version: header.airlock_version },
    into: description,
    schema: { backup: header.schema.migrations.at(-1) as string, migrated_after_restore: migratedAfter },
    audit_head: header.audit_head,
    chain_checked: checked.chainChecked,
    tables: Object.fromEntries(header.tables.map((table) => [table.name, table.rows])),
    keys: { in_backup: header.keys.included, restored, unchanged: plan?.unchanged ?? [], ...(keyNote ? { note: keyNote } : {}) },
    checkpoint_keys: header.audit_keys.map((key) => ({ key_id: key.key_id, known: local.has(key.key_id) })),
    public_keys_written: written,
  };
}
