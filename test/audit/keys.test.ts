import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { keyIdOf, loadAuditSigner, loadPublicKeys, verifySignature } from '../../src/audit/index.js';
import { cleanEnv } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const RACE_WORKER = fileURLToPath(new URL('../fixtures/key-race-worker.mjs', import.meta.url));

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

  it('is created whole by exactly one of several processes starting at once on one keys folder; the others load it', async () => {
    // Instances sharing a keys folder start together (a Deployment's replicas): none may read a key file
    // another is still writing, and all must end up with the one key.
    const dir = tmpDir();
    const rounds = 250;
    const startAt = Date.now() + 1500;
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, [RACE_WORKER, dir, String(rounds), String(startAt)], { env: cleanEnv() });
          let out = '';
          let err = '';
          child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
          child.on('error', reject);
          child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`worker exited ${code}: ${err}`))));
        }),
      ),
    );
    const results = outputs.map((out) => JSON.parse(out) as { keyIds: Array<string | null>; failures: string[] });
    expect(results.flatMap((result) => result.failures)).toEqual([]);
    for (let round = 0; round < rounds; round++) {
      expect(new Set(results.map((result) => result.keyIds[round])).size, `round ${round}`).toBe(1);
    }
    // Nothing staged is left behind.
    expect(readdirSync(join(dir, 'round-0')).sort()).toEqual(['secret.key', 'token-ed25519.pem', 'token-ed25519.pub.pem']);
  });
});
