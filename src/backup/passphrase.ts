import { readFileSync } from 'node:fs';
import { AirlockError } from '../errors.js';

/** The environment variable that can carry the passphrase instead of a file. */
export const PASSPHRASE_ENV = 'AIRLOCK_BACKUP_PASSPHRASE';
export const MIN_PASSPHRASE = 12;

/**
 * The passphrase that encrypts (or opens) the keys of a backup: the first line of `file`, else the
 * environment variable; undefined when neither is given. Too short a passphrase is refused.
 */
export function readPassphrase(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  let passphrase: string | undefined;
  let origin: string;
  if (file !== undefined) {
    origin = file;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new AirlockError('backup_passphrase_unreadable', `cannot read the passphrase file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    passphrase = text.split(/\r?\n/, 1)[0] ?? '';
  } else {
    origin = `$${PASSPHRASE_ENV}`;
    passphrase = env[PASSPHRASE_ENV];
    if (passphrase === undefined) return undefined;
  }
  if ([...passphrase].length < MIN_PASSPHRASE) {
    throw new AirlockError('backup_passphrase_weak', `the passphrase in ${origin} is shorter than ${MIN_PASSPHRASE} characters`);
  }
  return passphrase;
}
