import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AirlockError } from '../errors.js';
import type { Store } from '../store/store.js';
import { keyIdOf, loadKeyPair, retiredAuditKeyFile, signerOf, type KeyPair } from './keys.js';
import { AuditLog, KEY_ROTATED_ACTION } from './log.js';
import type { AuditMirror } from './mirror.js';

export interface RotationResult {
  /** The seq of the `audit.key_rotated` event, where the checkpoint signed by both keys is. */
  readonly seq: number;
  readonly hash: string;
  readonly previousKeyId: string;
  readonly keyId: string;
  /** Where the new private key now is (mode 0600), and its public half. */
  readonly keyFile: string;
  readonly publicKeyFile: string;
  /** Where the old key's public half is kept for verifiers. */
  readonly retiredPublicKeyFile: string;
  /** True when this run only finished installing a rotation that an interrupted run had committed. */
  readonly resumed: boolean;
}

export interface RotationOptions {
  readonly store: Store;
  /** The audit key in service (refused if missing: a rotation never creates the key it retires). */
  readonly keyFile: string;
  readonly publicKeyFile: string;
  /** The keys folder: the old public key goes to `<keysDir>/retired/audit-<kid>.pub.pem`. */
  readonly keysDir: string;
  readonly actor: string;
  readonly mirror?: AuditMirror;
}

const spki = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();

/**
 * Replaces the audit key. The new key is made and staged beside the old one (`<keyFile>.next`, 0600);
 * then, in one transaction, an `audit.key_rotated` event carrying the new public key is appended and
 * the head at it is signed by both keys (the new key's checkpoint with the old key's hand-over
 * signature). Only after the commit is the old public key kept under `retired/` and the staged key
 * renamed over the old one: the old private key is out of service. If anything fails before the commit
 * nothing is appended and the staged key is removed; if the process dies after it, the next run sees
 * the staged key in the chain and finishes the installation.
 *
 * Servers already running keep signing with the key they loaded until they restart; their
 * checkpoints still verify, because a retired key is not revoked.
 */
export async function rotateAuditKey(options: RotationOptions): Promise<RotationResult> {
  const { store, keyFile, publicKeyFile, keysDir } = options;
  const current = loadKeyPair(keyFile, publicKeyFile, { create: false, label: 'audit' });
  const staged = `${keyFile}.next`;

  if (existsSync(staged)) {
    const pending = readStagedKey(staged);
    const committed = await findRotation(store, current.keyId, pending.keyId);
    if (committed) return install({ ...options, current, staged, next: pending, ...committed, resumed: true });
    // Left by a run that failed before its commit: it was never in service.
    rmSync(staged, { force: true });
  }

  const { privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
  writeFileSync(staged, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600, flag: 'wx' });
  const publicKey = createPublicKey(privateKey);
  const next: KeyPair = { keyId: keyIdOf(publicKey), publicKey, privateKey };
  let rotated: { seq: number; hash: string };
  try {
    const audit = new AuditLog(store, { signer: signerOf(current), checkpointEvery: Number.MAX_SAFE_INTEGER, ...(options.mirror ? { mirror: options.mirror } : {}) });
    const { event } = await audit.rotateKey(signerOf(next), {
      actor: options.actor,
      action: KEY_ROTATED_ACTION,
      subject: { type: 'audit_key', id: next.keyId },
      data: { key_id: next.keyId, public_key: spki(next.publicKey), previous_key_id: current.keyId, previous_public_key: spki(current.publicKey) },
    });
    rotated = { seq: event.seq, hash: event.hash };
  } catch (error) {
    rmSync(staged, { force: true });
    throw error;
  }
  return install({ ...options, current, staged, next, ...rotated, resumed: false });
}

function install(step: RotationOptions & { current: KeyPair; staged: string; next: KeyPair; seq: number; hash: string; resumed: boolean }): RotationResult {
  const retired = retiredAuditKeyFile(step.keysDir, step.current.keyId);
  mkdirSync(dirname(retired), { recursive: true, mode: 0o700 });
  writeFileSync(retired, spki(step.current.publicKey), { mode: 0o644 });
  // One rename: the configured path holds the old key or the new one, never a partial file.
  renameSync(step.staged, step.keyFile);
  writeFileSync(step.publicKeyFile, spki(step.next.publicKey), { mode: 0o644 });
  return {
    seq: step.seq,
    hash: step.hash,
    previousKeyId: step.current.keyId,
    keyId: step.next.keyId,
    keyFile: step.keyFile,
    publicKeyFile: step.publicKeyFile,
    retiredPublicKeyFile: retired,
    resumed: step.resumed,
  };
}

function readStagedKey(file: string): KeyPair {
  try {
    if ((statSync(file).mode & 0o077) !== 0) throw new Error('it is readable by others');
    const privateKey = createPrivateKey(readFileSync(file, 'utf8'));
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`it is ${privateKey.asymmetricKeyType}`);
    const publicKey = createPublicKey(privateKey);
    return { keyId: keyIdOf(publicKey), publicKey, privateKey };
  } catch (error) {
    throw new AirlockError('key_invalid', `an earlier rotation left ${file}, which is not a usable key (${(error as Error).message}); remove it and run the rotation again`);
  }
}

/** The committed rotation from `previousKeyId` to `keyId`, if there is one. */
async function findRotation(store: Store, previousKeyId: string, keyId: string): Promise<{ seq: number; hash: string } | undefined> {
  const rows = await store.db.selectFrom('audit_events').select(['seq', 'hash', 'data']).where('subject_type', '=', 'audit_key').where('subject_id', '=', keyId).where('action', '=', KEY_ROTATED_ACTION).execute();
  const row = rows.find((candidate) => {
    const data = JSON.parse(candidate.data) as { key_id?: unknown; previous_key_id?: unknown };
    return data.key_id === keyId && data.previous_key_id === previousKeyId;
  });
  return row ? { seq: Number(row.seq), hash: row.hash } : undefined;
}
