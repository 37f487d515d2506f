import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { keyIdOf, loadKeyPair, type KeyPair } from '../audit/index.js';
import { publicKeyFileOf } from '../config/index.js';
import { AirlockError } from '../errors.js';

/** A public key by its id: what verifiers need and a JWKS publishes. */
export interface PublicKey {
  readonly keyId: string;
  readonly publicKey: KeyObject;
}

/** A signing key taken out of service: its public half stays published until what it signed has expired. */
const RetiredKeySchema = z.object({
  kid: z.string().min(1),
  use: z.literal('token'),
  public_key: z.string().startsWith('-----BEGIN PUBLIC KEY-----'),
  retired_at: z.iso.datetime(),
  not_after: z.iso.datetime(),
});

/** How often a key file is looked at again: a rotation reaches every instance sharing the folder within this. */
const RECHECK_MS = 1000;
/** Retired keys stay published this much longer than the longest token they may have signed. */
const RETIRED_GRACE_SECONDS = 60;

/** Identifies a file's content cheaply: a rename over it (how keys are rotated) changes the inode. */
function stampOf(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
  } catch {
    return 'missing';
  }
}

/** A value read from a file or folder, read again only when that changed (looked at once a second at most). */
export class FileBacked<T> {
  private value: T;
  private stamp: string;
  private checkedAt = Date.now();

  constructor(
    private readonly path: string,
    private readonly read: () => T,
  ) {
    this.stamp = stampOf(path);
    this.value = read();
  }

  get(): T {
    const now = Date.now();
    if (now - this.checkedAt < RECHECK_MS) return this.value;
    this.checkedAt = now;
    const stamp = stampOf(this.path);
    if (stamp === this.stamp) return this.value;
    try {
      this.value = this.read();
      this.stamp = stamp;
    } catch {
      // A file caught mid-change (or removed by mistake): keep what worked and look again next time.
    }
    return this.value;
  }
}

export interface RetiredKey extends PublicKey {
  /** Epoch ms until which the key is published. */
  readonly notAfter: number;
}

/** The retired token keys in `dir` (a JWKS drops each once its window has passed). */
export function retiredTokenKeys(dir: string): RetiredKey[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.startsWith('token-') && name.endsWith('.json'));
  } catch {
    return [];
  }
  const keys: RetiredKey[] = [];
  for (const name of names) {
    const parsed = RetiredKeySchema.safeParse(JSON.parse(readFileSync(join(dir, name), 'utf8')));
    if (!parsed.success) continue;
    const publicKey = createPublicKey(parsed.data.public_key);
    // The file's name for the key must be the key's own id: a mismatch is not trusted.
    if (keyIdOf(publicKey) === parsed.data.kid) keys.push({ keyId: parsed.data.kid, publicKey, notAfter: Date.parse(parsed.data.not_after) });
  }
  return keys;
}

/**
 * The capability-token signing key of a keys folder, with the keys retired from it. The key file is
 * looked at again once a second, so after `airlock keys rotate-signing` every API instance sharing the
 * folder mints with the new kid, while the old public key stays published until its tokens expired.
 */
export class SigningKeyRing {
  private readonly signing: FileBacked<KeyPair>;
  private readonly retired: FileBacked<RetiredKey[]>;

  constructor(
    file: string,
    retiredDir: string,
    options: { readonly create: boolean },
  ) {
    const load = (create: boolean): KeyPair => loadKeyPair(file, publicKeyFileOf(file), { create, label: 'token signing' });
    load(options.create);
    this.signing = new FileBacked(file, () => load(false));
    this.retired = new FileBacked(retiredDir, () => retiredTokenKeys(retiredDir));
  }

  current(): KeyPair {
    return this.signing.get();
  }

  /** Every token key a verifier must accept now: the current one and the retired ones still published. */
  published(): PublicKey[] {
    const current = this.current();
    const now = Date.now();
    return [current, ...this.retired.get().filter((key) => key.notAfter > now && key.keyId !== current.keyId)];
  }
}

export interface Rotation {
  readonly previousKid: string;
  readonly kid: string;
  /** Until when the previous key stays published. */
  readonly notAfter: string;
}

/**
 * Replaces the token signing key: the old public half goes to `retiredDir` with a publication window
 * of the token lifetime (plus a margin), then a new key is renamed over the old file, atomically.
 */
export function rotateSigningKey(file: string, retiredDir: string, tokenTtlSeconds: number): Rotation {
  const previous = loadKeyPair(file, publicKeyFileOf(file), { create: false, label: 'token signing' });
  const retiredAt = new Date();
  const notAfter = new Date(retiredAt.getTime() + (tokenTtlSeconds + RETIRED_GRACE_SECONDS) * 1000).toISOString();
  mkdirSync(retiredDir, { recursive: true, mode: 0o700 });
  const record: z.infer<typeof RetiredKeySchema> = {
    kid: previous.keyId,
    use: 'token',
    public_key: previous.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    retired_at: retiredAt.toISOString(),
    not_after: notAfter,
  };
  writeFileSync(join(retiredDir, `token-${previous.keyId}.json`), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });

  const { privateKey } = generateKeyPairSync('ed25519');
  const staged = `${file}.${process.pid}.new`;
  try {
    writeFileSync(staged, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600, flag: 'wx' });
    renameSync(staged, file);
  } catch (error) {
    throw new AirlockError('key_rotation_failed', `could not install the new token signing key at ${file}: ${(error as Error).message}`, { cause: error });
  }
  const next = loadKeyPair(file, publicKeyFileOf(file), { create: false, label: 'token signing' });
  return { previousKid: previous.keyId, kid: next.keyId, notAfter };
}
