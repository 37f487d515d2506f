import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AirlockError } from '../errors.js';

/** Signs checkpoints of the chain with Ed25519. The private key never leaves this object. */
export interface AuditSigner {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  sign(message: string): string;
}

/** A short, stable name for a public key: sha256 of its SPKI encoding, base64url, 16 characters. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 16);
}

export function verifySignature(publicKey: KeyObject, message: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(message), publicKey, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/** An Ed25519 key pair from a key file: the private half for signing, never exported. */
export interface KeyPair {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/**
 * Loads an Ed25519 signing key, creating it (mode 0600, in a 0700 folder) when it does not exist and
 * `create` is set, and publishes its public half beside it. A key file that others can read is
 * refused: a leaked key lets anyone forge what it signs. `label` names the key in messages.
 */
export function loadKeyPair(file: string, publicFile: string, options: { create: boolean; label?: string }): KeyPair {
  const label = options.label ?? 'audit';
  let pem: string;
  try {
    pem = readKeyFile(file, label);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !options.create) throw keyError(file, error, label);
    pem = createKeyFile(file, label);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new AirlockError('key_invalid', `the ${label} key ${file} is not a PEM private key: ${(error as Error).message}`, { cause: error });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AirlockError('key_invalid', `the ${label} key ${file} is ${privateKey.asymmetricKeyType}; it must be Ed25519`);
  }
  const publicKey = createPublicKey(privateKey);
  writePublicKey(publicFile, publicKey);
  return { keyId: keyIdOf(publicKey), publicKey, privateKey };
}

/** The audit chain's checkpoint signer. */
export function loadAuditSigner(file: string, publicFile: string, options: { create: boolean }): AuditSigner {
  return signerOf(loadKeyPair(file, publicFile, options));
}

/** A signer for a key pair held in memory. */
export function signerOf(pair: KeyPair): AuditSigner {
  const { keyId, publicKey, privateKey } = pair;
  return { keyId, publicKey, sign: (message) => sign(null, Buffer.from(message), privateKey).toString('base64url') };
}

/** Where the public half of a retired audit key is kept: `<keysDir>/retired/audit-<kid>.pub.pem`. */
export function retiredAuditKeyFile(keysDir: string, keyId: string): string {
  return join(keysDir, 'retired', `audit-${keyId}.pub.pem`);
}

/** The retired audit public keys in a keys folder (none when it has no `retired` folder). */
export function retiredAuditKeyFiles(keysDir: string): string[] {
  const dir = join(keysDir, 'retired');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => /^audit-[A-Za-z0-9_-]+\.pub\.pem$/.test(name)).sort().map((name) => join(dir, name));
}

/** Public keys for verification, by key id, from PEM files (public or private). */
export function loadPublicKeys(files: readonly string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const file of files) {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new AirlockError('key_invalid', `cannot load a public key from ${file}: ${(error as Error).message}`, { cause: error });
    }
    keys.set(keyIdOf(publicKey), publicKey);
  }
  return keys;
}

function readKeyFile(file: string, label: string): string {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new AirlockError('key_insecure', `the ${label} key ${file} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 on it`);
  }
  return readFileSync(file, 'utf8');
}

function createKeyFile(file: string, label: string): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    // If another process created the key a moment ago, keep theirs.
    return createFileOnce(file, pem) ? pem : readKeyFile(file, label);
  } catch (error) {
    throw keyError(file, error, label);
  }
}

/**
 * Creates `file` (mode 0600) with `content` unless it exists, and says whether this call created it.
 * Instances sharing a keys folder may start at once: the file appears whole or not at all (written
 * aside, then hard-linked into place), so a process never reads a key another is still writing.
 */
export function createFileOnce(file: string, content: string): boolean {
  const staged = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(staged, content, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(staged, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    // A filesystem without hard links: exclusive create, with the short window that leaves.
    try {
      writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
      return true;
    } catch (fallback) {
      if ((fallback as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw fallback;
    }
  } finally {
    rmSync(staged, { force: true });
  }
}

function writePublicKey(file: string, publicKey: KeyObject): void {
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  try {
    if (readFileSync(file, 'utf8') === pem) return;
  } catch {
    // missing: written below
  }
  // Written aside and renamed into place: a reader (a gateway trusting the keys folder) never sees half a key.
  const staged = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(staged, pem, { mode: 0o644 });
    renameSync(staged, file);
  } catch {
    // The public key file is a convenience for offline verifiers; the signer works without it.
    rmSync(staged, { force: true });
  }
}

function keyError(file: string, error: unknown, label: string): AirlockError {
  if (error instanceof AirlockError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const hint = code === 'ENOENT' ? ' (run `airlock init` or start the server once to create it)' : '';
  return new AirlockError('key_missing', `cannot read the ${label} key ${file}: ${code}${hint}`, { cause: error });
}
