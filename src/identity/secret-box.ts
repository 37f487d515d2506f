import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { createFileOnce } from '../audit/index.js';
import { AirlockError } from '../errors.js';

/** The minimum length of AIRLOCK_SECRET_KEY (the reference's SECRET_KEY rule). */
export const MIN_SECRET_KEY_LENGTH = 32;

/**
 * Encrypts small secrets at rest (TOTP seeds) with AES-256-GCM. The key comes from AIRLOCK_SECRET_KEY
 * when set, otherwise from a random key file in the data directory created with mode 0600.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static fromSecret(secret: string): SecretBox {
    if (secret.length < MIN_SECRET_KEY_LENGTH) {
      throw new AirlockError('secret_key_too_short', `the secret key must be at least ${MIN_SECRET_KEY_LENGTH} characters`, { status: 500 });
    }
    return new SecretBox(createHash('sha256').update(`airlock-secret-box:${secret}`).digest());
  }

  static fromFile(file: string, create: boolean): SecretBox {
    if (!existsSync(file)) {
      if (!create) throw new AirlockError('secret_key_missing', `no secret key file at ${file}`, { status: 500 });
      // Another instance sharing the keys folder may create it at the same moment: then its key is the one.
      createFileOnce(file, `${randomBytes(32).toString('base64url')}\n`);
    }
    chmodSync(file, 0o600);
    return SecretBox.fromSecret(readFileSync(file, 'utf8').trim());
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), sealed.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(box: string): string {
    const [version, iv, sealed, tag] = box.split('.');
    if (version !== 'v1' || !iv || sealed === undefined || !tag) throw new AirlockError('secret_unreadable', 'a stored secret is not in a known format', { status: 500 });
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new AirlockError('secret_unreadable', 'a stored secret cannot be decrypted: was the secret key changed?', { status: 500 });
    }
  }
}
