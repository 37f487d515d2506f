import { createPublicKey, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { keyIdOf } from '../audit/keys.js';
import { publicKeyFileOf, type Paths } from '../config/index.js';
import { AirlockError } from '../errors.js';
import type { KeyFile } from './format.js';

/** Where each key file of a backup lives under a configuration: by role, so paths may differ between machines. */
interface Location {
  readonly name: string;
  readonly path: string;
  /** Public halves are published (0644); everything else is secret (0600). */
  readonly secret: boolean;
}

const RETIRED = 'retired';

function locations(paths: Paths): Location[] {
  const pairs: Array<[string, string]> = [
    ['token', paths.tokenKeyFile],
    ['receipt', paths.receiptKeyFile],
    ['access', paths.accessKeyFile],
    ['audit', paths.auditKeyFile],
  ];
  return [
    ...pairs.flatMap(([name, path]) => [
      { name, path, secret: true },
      { name: `${name}.pub`, path: publicKeyFileOf(path), secret: false },
    ]),
    { name: 'secret', path: paths.secretKeyFile, secret: true },
  ];
}

function locationOf(paths: Paths, name: string): Location {
  if (name.startsWith(`${RETIRED}/`)) return { name, path: join(paths.keysDir, name), secret: !name.endsWith('.pub.pem') };
  const found = locations(paths).find((location) => location.name === name);
  if (!found) throw new AirlockError('backup_corrupt', `the backup names an unknown key file ${name}`);
  return found;
}

/** The key files of this configuration that exist: signing keys, their public halves, the secret key, retired public keys. */
export function collectKeyFiles(paths: Paths): KeyFile[] {
  const files: KeyFile[] = [];
  const read = (name: string, path: string): void => {
    try {
      files.push({ name, content: readFileSync(path).toString('base64') });
    } catch (error) {
      throw new AirlockError('backup_keys_unreadable', `cannot read the key file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  for (const location of locations(paths)) if (existsSync(location.path)) read(location.name, location.path);
  const retired = join(paths.keysDir, RETIRED);
  if (existsSync(retired)) {
    for (const entry of readdirSync(retired, { withFileTypes: true })) {
      if (entry.isFile() && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(entry.name)) read(`${RETIRED}/${entry.name}`, join(retired, entry.name));
    }
  }
  if (!files.some((file) => ['token', 'receipt', 'access', 'audit'].includes(file.name))) {
    throw new AirlockError('backup_keys_missing', `no key files in ${paths.keysDir} (nor the audit key ${paths.auditKeyFile}): there is nothing to include`);
  }
  return files;
}

export interface KeyRestorePlan {
  /** Files to write (absent, or different and --force). */
  readonly write: Array<{ readonly name: string; readonly path: string; readonly secret: boolean; readonly content: Buffer }>;
  /** Files already there with the same bytes. */
  readonly unchanged: string[];
}

/** Where the backup's key files go; refuses to replace a different existing file unless forced. */
export function planKeyRestore(paths: Paths, files: readonly KeyFile[], force: boolean): KeyRestorePlan {
  const write: Array<KeyRestorePlan['write'][number]> = [];
  const unchanged: string[] = [];
  const conflicts: string[] = [];
  for (const file of files) {
    const location = locationOf(paths, file.name);
    const content = Buffer.from(file.content, 'base64');
    let existing: Buffer | undefined;
    try {
      existing = readFileSync(location.path);
    } catch {
      existing = undefined;
    }
    if (existing?.equals(content)) {
      unchanged.push(location.path);
      continue;
    }
    if (existing !== undefined && !force) conflicts.push(location.path);
    write.push({ name: file.name, path: location.path, secret: location.secret, content });
  }
  if (conflicts.length > 0) {
    throw new AirlockError(
      'restore_keys_exist',
      `key files that differ from the backup's already exist: ${conflicts.join(', ')}; move them away or pass --force to replace them (nothing was restored)`,
    );
  }
  return { write, unchanged };
}

/** Writes the planned key files, each atomically (temp file + rename), secret ones 0600 in 0700 folders. */
export function writeKeyFiles(plan: KeyRestorePlan): string[] {
  const written: string[] = [];
  for (const file of plan.write) {
    mkdirSync(dirname(file.path), { recursive: true, mode: 0o700 });
    const temp = join(dirname(file.path), `.${randomBytes(6).toString('hex')}.tmp`);
    try {
      writeFileSync(temp, file.content, { mode: file.secret ? 0o600 : 0o644, flag: 'wx' });
      chmodSync(temp, file.secret ? 0o600 : 0o644);
      renameSync(temp, file.path);
    } catch (error) {
      rmSync(temp, { force: true });
      throw new AirlockError('restore_keys_failed', `cannot write the key file ${file.path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    written.push(file.path);
  }
  return written;
}

/** The key ids of the audit public keys this configuration holds (its own, and retired ones). */
export function localAuditKeyIds(paths: Paths): Map<string, string> {
  const ids = new Map<string, string>();
  const consider = (path: string): void => {
    try {
      const key = createPublicKey(readFileSync(path, 'utf8'));
      ids.set(keyIdOf(key), key.export({ type: 'spki', format: 'der' }).toString('base64'));
    } catch {
      // not a key, or unreadable: not one we know
    }
  };
  consider(existsSync(paths.auditPublicKeyFile) ? paths.auditPublicKeyFile : paths.auditKeyFile);
  const retired = join(paths.keysDir, RETIRED);
  if (existsSync(retired) && statSync(retired).isDirectory()) {
    for (const name of readdirSync(retired)) if (name.endsWith('.pem')) consider(join(retired, name));
  }
  return ids;
}

/** Writes public keys (SPKI DER, base64) as `<key id>.pub.pem` files into `dir`. */
export function writePublicKeys(dir: string, keys: ReadonlyArray<{ key_id: string; spki: string }>): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return keys.map((key) => {
    const pem = createPublicKey({ key: Buffer.from(key.spki, 'base64'), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString();
    const file = join(dir, `${key.key_id.replace(/[^A-Za-z0-9_-]/g, '_')}.pub.pem`);
    writeFileSync(file, pem, { mode: 0o644 });
    return file;
  });
}
