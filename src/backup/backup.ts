import { dirname, resolve } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { describeStore, type ResolvedConfig } from '../config/index.js';
import { AirlockError } from '../errors.js';
import { VERSION } from '../version.js';
import { seal } from './crypto.js';
import { FORMAT_VERSION, BACKUP_FORMAT, isValue, type Header } from './format.js';
import { collectKeyFiles, localAuditKeyIds } from './key-files.js';
import { openSnapshot } from './snapshot.js';
import { BackupWriter } from './writer.js';

export interface BackupOptions {
  readonly out: string;
  readonly includeKeys: boolean;
  /** Required with includeKeys: the keys are only ever written encrypted. */
  readonly passphrase?: string | undefined;
  /** Replace an existing file. */
  readonly force?: boolean;
}

export interface BackupReport {
  readonly file: string;
  readonly bytes: number;
  /** sha256 of the file (compare with `sha256sum`). */
  readonly sha256: string;
  /** sha256 of the uncompressed content, as its end line records it. */
  readonly content_sha256: string;
  readonly backup_id: string;
  readonly created_at: string;
  readonly dialect: Header['dialect'];
  readonly source: string;
  readonly schema: string;
  readonly audit_head: Header['audit_head'];
  readonly tables: Record<string, number>;
  readonly keys: { readonly included: boolean; readonly files: string[] };
  /** Why some secret is not in the file, when it matters for a restore. */
  readonly notes: string[];
}

/** What binds the sealed keys to their backup: a keys block moved into another backup does not open. */
export function keysContext(header: Pick<Header, 'backup_id'>): string {
  return `${BACKUP_FORMAT}/${FORMAT_VERSION} keys ${header.backup_id}`;
}

/**
 * Writes a backup of the configured store (a consistent snapshot, taken while servers run) and, when
 * asked, of the key files (encrypted with the passphrase) to `options.out`. See format.ts for the file.
 */
export async function createBackup(config: ResolvedConfig, options: BackupOptions): Promise<BackupReport> {
  if (options.includeKeys && !options.passphrase) {
    throw new AirlockError(
      'backup_passphrase_required',
      'keys are only written encrypted: give a passphrase with --passphrase-file FILE or $AIRLOCK_BACKUP_PASSPHRASE (nothing was written)',
    );
  }
  const out = resolve(options.out);
  const keyFiles = options.includeKeys ? collectKeyFiles(config.paths) : undefined;
  const notes: string[] = [];
  if (config.auth.secretKey) notes.push('the secret key comes from AIRLOCK_SECRET_KEY (auth.secretKey), not a file: keep it with this backup, or TOTP and webhook secrets cannot be read after a restore');
  if (!options.includeKeys) notes.push('keys not included: keep the key files (or a backup made with --include-keys) to verify checkpoints and keep tokens, sessions and TOTP working after a restore');

  const writer = await BackupWriter.create(out, { force: options.force === true });
  try {
    const snapshot = await openSnapshot(config.store, { workDir: dirname(out), connectTimeoutMs: config.database.connectTimeoutMs });
    try {
      const localKeys = localAuditKeyIds(config.paths);
      const header: Header = {
        type: 'header',
        format: BACKUP_FORMAT,
        format_version: FORMAT_VERSION,
        backup_id: uuidv7(),
        airlock_version: VERSION,
        created_at: new Date().toISOString(),
        dialect: snapshot.dialect,
        source: describeStore(config),
        schema: { migrations: snapshot.migrations },
        audit_head: snapshot.head,
        tables: snapshot.tables.map((table) => ({ name: table.name, columns: table.columns, rows: table.rows })),
        keys: { included: keyFiles !== undefined, files: keyFiles?.map((file) => file.name) ?? [] },
        audit_keys: snapshot.checkpointKeys.map((keyId) => ({ key_id: keyId, spki: localKeys.get(keyId) ?? null })),
      };
      await writer.write(header);
      if (keyFiles) {
        await writer.write(await seal(Buffer.from(JSON.stringify(keyFiles)), options.passphrase as string, keysContext(header)));
      }
      for (const table of snapshot.tables) {
        await writer.write({ type: 'table', name: table.name, columns: table.columns });
        let rows = 0;
        for await (const page of snapshot.rows(table)) {
          for (const row of page) {
            const bad = row.findIndex((value) => !isValue(value));
            if (bad !== -1) {
              throw new AirlockError('backup_value_unsupported', `${table.name}.${table.columns[bad]} holds a ${typeof row[bad]} value; backups hold text, numbers and nulls`);
            }
            await writer.write(row);
          }
          rows += page.length;
        }
        // The snapshot counted its rows before reading them; the two must agree.
        if (rows !== table.rows) throw new AirlockError('backup_inconsistent', `${table.name} gave ${rows} rows where the snapshot counted ${table.rows}`);
        await writer.write({ type: 'table_end', name: table.name, rows });
      }
      const written = await writer.finish();
      const missing = header.audit_keys.filter((key) => key.spki === null).map((key) => key.key_id);
      if (missing.length > 0) notes.push(`checkpoints signed by key(s) ${missing.join(', ')} whose public key is not in ${config.paths.keysDir}: keep it to verify them`);
      return {
        file: written.file,
        bytes: written.bytes,
        sha256: written.fileSha256,
        content_sha256: written.contentSha256,
        backup_id: header.backup_id,
        created_at: header.created_at,
        dialect: header.dialect,
        source: header.source,
        schema: snapshot.migrations.at(-1) as string,
        audit_head: header.audit_head,
        tables: Object.fromEntries(header.tables.map((table) => [table.name, table.rows])),
        keys: header.keys,
        notes,
      };
    } finally {
      await snapshot.close();
    }
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
