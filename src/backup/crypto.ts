import { createCipheriv, createDecipheriv, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { AirlockError } from '../errors.js';
import type { SealedKeys } from './format.js';

/** scrypt cost: 2^17 × 8 × 128 bytes = 128 MiB and a few hundred milliseconds per guess. */
const COST = { N: 2 ** 17, r: 8, p: 1 } as const;

function deriveKey(passphrase: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(passphrase.normalize('NFC'), salt, 32, options, (error, key) => (error ? reject(error) : resolve(key))));
}

/** Encrypts `plaintext` under a key derived from the passphrase; `context` is authenticated too (the backup it belongs to). */
export async function seal(plaintext: Buffer, passphrase: string, context: string): Promise<SealedKeys> {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = await deriveKey(passphrase, salt, COST);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  key.fill(0);
  return {
    type: 'keys',
    kdf: { name: 'scrypt', ...COST, salt: salt.toString('base64') },
    cipher: 'aes-256-gcm',
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
}

/** Decrypts a sealed block; a wrong passphrase (or a block from another backup) is one clear error. */
export async function unseal(sealed: SealedKeys, passphrase: string, context: string): Promise<Buffer> {
  const key = await deriveKey(passphrase, Buffer.from(sealed.kdf.salt, 'base64'), sealed.kdf);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]);
  } catch {
    throw new AirlockError('backup_passphrase_wrong', 'the passphrase does not open the keys in this backup (wrong passphrase); nothing was restored');
  } finally {
    key.fill(0);
  }
}
