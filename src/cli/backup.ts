import type { Command } from 'commander';
import type { BackupReport, RestoreReport } from '../backup/index.js';
import { withJson } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print, printJson, withSpinner } from './output.js';

type BackupFlags = ConfigFlags & { out: string; includeKeys?: boolean; passphraseFile?: string; force?: boolean; json?: boolean };
type RestoreFlags = ConfigFlags & { in: string; passphraseFile?: string; force?: boolean; publicKeysOut?: string; json?: boolean };

function tableLines(tables: Record<string, number>): string[] {
  const width = Math.max(...Object.keys(tables).map((name) => name.length), 0);
  return Object.entries(tables).map(([name, rows]) => `  ${name.padEnd(width)}  ${rows}`);
}

function printBackup(report: BackupReport): void {
  print(`backup written to ${report.file} (${report.bytes} bytes, sha256 ${report.sha256})`);
  print(`from ${report.source}: schema ${report.schema}, audit head ${report.audit_head.seq} ${report.audit_head.hash}`);
  print(`keys: ${report.keys.included ? `included, encrypted (${report.keys.files.join(', ')})` : 'not included'}`);
  print('rows:');
  for (const line of tableLines(report.tables)) print(line);
  for (const note of report.notes) print(`note: ${note}`);
}

function printRestore(report: RestoreReport): void {
  print(`restored ${report.file} (backup ${report.backup_id} of ${report.created_at}, ${report.from.dialect}) into ${report.into}`);
  const upgraded = report.schema.migrated_after_restore.length > 0 ? `, then migrated ${report.schema.migrated_after_restore.join(', ')}` : '';
  print(`schema ${report.schema.backup}${upgraded}; audit head ${report.audit_head.seq} ${report.audit_head.hash} (${report.chain_checked} events' links and hashes checked)`);
  print('rows:');
  for (const line of tableLines(report.tables)) print(line);
  if (report.keys.restored.length > 0) print(`keys restored: ${report.keys.restored.join(', ')}`);
  if (report.keys.unchanged.length > 0) print(`keys already in place: ${report.keys.unchanged.join(', ')}`);
  if (report.keys.note) print(`note: ${report.keys.note}`);
  const unknown = report.checkpoint_keys.filter((key) => !key.known).map((key) => key.key_id);
  if (unknown.length > 0) {
    print(`note: checkpoints are signed by key(s) ${unknown.join(', ')} that this configuration does not hold: restore the keys, or verify with \`airlock audit verify --public-key FILE\``);
  }
  for (const file of report.public_keys_written) print(`public key written: ${file}`);
  print('next: `airlock audit verify`, then start the servers');
}

export function registerBackupCommands(program: Command): void {
  withJson(withConfigOptions(program.command('backup')), {
    shape: 'object',
    fields: ['file', 'bytes', 'sha256', 'content_sha256', 'backup_id', 'created_at', 'dialect', 'source', 'schema', 'audit_head', 'tables', 'keys', 'notes'],
  }, 'print the summary as JSON')
    .description('write a consistent copy of the store (and, if asked, the keys, encrypted) to one file, while servers run')
    .requiredOption('--out <file>', 'the backup file to write (gzip-compressed JSON lines, mode 0600)')
    .option('--include-keys', 'also the signing keys and the secret key, encrypted with a passphrase (scrypt, AES-256-GCM)')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file (default: $AIRLOCK_BACKUP_PASSPHRASE)')
    .option('--force', 'replace the file if it exists')
    .addHelpText(
      'after',
      '\nExamples:\n  airlock backup --out /backups/airlock-$(date +%F).backup\n  airlock backup --out airlock.backup --include-keys --passphrase-file /root/backup-passphrase\n  airlock backup --database-url postgres://airlock@db/airlock --out airlock.backup --json',
    )
    .action(async (flags: BackupFlags) => {
      const config = await configFromFlags(flags);
      const { createBackup, readPassphrase } = await import('../backup/index.js');
      // Read only when it is used: a backup without keys needs none.
      const passphrase = flags.includeKeys ? readPassphrase(flags.passphraseFile, process.env) : undefined;
      const report = await withSpinner(`writing the backup to ${flags.out}`, () => createBackup(config, { out: flags.out, includeKeys: flags.includeKeys === true, passphrase, force: flags.force === true }));
      if (flags.json) printJson(report);
      else printBackup(report);
    });

  withJson(withConfigOptions(program.command('restore')), {
    shape: 'object',
    fields: ['file', 'backup_id', 'created_at', 'from', 'into', 'schema', 'audit_head', 'chain_checked', 'tables', 'keys', 'checkpoint_keys', 'public_keys_written'],
  }, 'print the summary as JSON')
    .description('restore a backup into the configured store, which must be empty; checks the whole file before writing anything')
    .requiredOption('--in <file>', 'the backup file (from `airlock backup`, of SQLite or PostgreSQL)')
    .option('--passphrase-file <file>', 'opens the keys in the backup (default: $AIRLOCK_BACKUP_PASSPHRASE); without one the keys are left out')
    .option('--force', 'replace existing key files that differ from the backup\'s')
    .option('--public-keys-out <dir>', 'also write the audit public keys the backup carries into this folder (for `audit verify --public-key`)')
    .addHelpText(
      'after',
      '\nExamples:\n  airlock restore --in airlock.backup --database-url postgres://airlock@db/airlock_new\n  airlock restore --in airlock.backup --passphrase-file /root/backup-passphrase --data-dir /var/lib/airlock',
    )
    .action(async (flags: RestoreFlags) => {
      const config = await configFromFlags(flags);
      const { readPassphrase, restoreBackup } = await import('../backup/index.js');
      const passphrase = readPassphrase(flags.passphraseFile, process.env);
      const report = await withSpinner(`restoring ${flags.in}`, () => restoreBackup(config, { file: flags.in, passphrase, force: flags.force === true, publicKeysOut: flags.publicKeysOut }));
      if (flags.json) printJson(report);
      else printRestore(report);
    });
}
