import { generateKeyPairSync } from 'node:crypto';
import { AuditLog, keyIdOf, type AuditSigner } from '../../src/audit/index.js';
import { sign } from 'node:crypto';
import type { Store } from '../../src/store/index.js';

/** An in-memory Ed25519 signer, and the key map a verifier needs to trust it. */
export function testSigner(): { signer: AuditSigner; keys: Map<string, AuditSigner['publicKey']> } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer: AuditSigner = { keyId: keyIdOf(publicKey), publicKey, sign: (message) => sign(null, Buffer.from(message), privateKey).toString('base64url') };
  return { signer, keys: new Map([[signer.keyId, publicKey]]) };
}

/** An audit log on `store` that signs a checkpoint every `checkpointEvery` events. */
export function testAuditLog(store: Store, checkpointEvery = 1000) {
  const { signer, keys } = testSigner();
  return { audit: new AuditLog(store, { signer, checkpointEvery }), keys, signer };
}

/** `count` plain events with distinct data. */
export function events(count: number, actor = 'test') {
  return Array.from({ length: count }, (_, index) => ({
    actor,
    action: 'test.event',
    subject: { type: 'item', id: `item-${index}` },
    environment: 'dev',
    target: 'local',
    data: { index, note: `event ${index}` },
  }));
}
