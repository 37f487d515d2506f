export { createBackup, type BackupOptions, type BackupReport } from './backup.js';
export { restoreBackup, type RestoreOptions, type RestoreReport } from './restore.js';
export { readPassphrase, PASSPHRASE_ENV, MIN_PASSPHRASE } from './passphrase.js';
export { readBackup } from './reader.js';
export { BACKUP_TABLES } from './tables.js';
export { BACKUP_FORMAT, FORMAT_VERSION, type Header as BackupHeader } from './format.js';
