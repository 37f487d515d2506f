import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyIdOf, loadAuditSigner, loadPublicKeys, verifySignature } from '../../src/audit/index.js';
import { tmpDir } from '../helpers/tmp.js';

describe('audit signing key', () => {
  it('is created once with mode 0600 in a 0700 folder, and its public half is published', () => {
    const dir = join(tmpDir(), 'keys');
    const file = join(dir, 'audit-ed25519.pem');
    const signer = loadAuditSigner(file, join(dir, 'audit-ed25519.pub.pem'), { create: true });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const again = loadAuditSigner(file, join(dir, 'audit-ed25519.pub.pem'), { create: true });
    expect(again.keyId).toBe(signer.keyId);
    const published = loadPublicKeys([join(dir, 'audit-ed25519.pub.pem')]);
    const publicKey = published.get(signer.keyId);
    expect(publicKey).toBeDefined();
    expect(verifySignature(publicKey!, 'hello', signer.sign('hello'))).toBe(true);
    expect(verifySignature(publicKey!, 'hello!', signer.sign('hello'))).toBe(false);
  });

  it('is refused when others can read it, when missing and not to be created, and when not Ed25519', () => {
    const dir = tmpDir();
    const file = join(dir, 'audit.pem');
    loadAuditSigner(file, join(dir, 'audit.pub.pem'), { create: true });
    chmodSync(file, 0o644);
    expect(() => loadAuditSigner(file, join(dir, 'audit.pub.pem'), { create: false })).toThrow(/readable by others \(mode 0644\); run chmod 600/);

    expect(() => loadAuditSigner(join(dir, 'absent.pem'), join(dir, 'absent.pub.pem'), { create: false })).toThrow(/cannot read the audit key .*ENOENT/);

    const rsa = join(dir, 'rsa.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(rsa, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    expect(() => loadAuditSigner(rsa, join(dir, 'rsa.pub.pem'), { create: false })).toThrow(/is rsa; it must be Ed25519/);

    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a key', { mode: 0o600 });
    expect(() => loadAuditSigner(garbage, join(dir, 'garbage.pub.pem'), { create: false })).toThrow(/is not a PEM private key/);
  });

  it('names keys by a stable id derived from the public key', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    expect(keyIdOf(publicKey)).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(keyIdOf(publicKey)).toBe(keyIdOf(publicKey));
    expect(keyIdOf(generateKeyPairSync('ed25519').publicKey)).not.toBe(keyIdOf(publicKey));
  });
});
