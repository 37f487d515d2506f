import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { backupLines, sourceStore, untouched } from '../helpers/backup.js';
import { runCli } from '../helpers/cli.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { tmpDir } from '../helpers/tmp.js';

const PASSPHRASE = 'correct horse battery staple';
const KEY_FILES = ['token-ed25519.pem', 'receipt-ed25519.pem', 'access-ed25519.pem', 'audit-ed25519.pem', 'secret.key'];

describe.each(storeKinds())('keys in a backup, on %s', (kind) => {
  let source: Awaited<ReturnType<typeof sourceStore>>;
  let cwd: string;
  let withKeys: string;
  let passphraseFile: string;
  beforeAll(async () => {
    source = await sourceStore(kind);
    cwd = tmpDir();
    withKeys = join(cwd, 'with-keys.backup');
    passphraseFile = join(cwd, 'passphrase');
    writeFileSync(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  });
  const backup = (args: string[], env: Record<string, string> = {}) =>
    runCli(['backup', ...args, '--data-dir', source.dataDir, '--database-url', source.database.url], { cwd, env });
  const restore = (args: string[], dataDir: string, url: string) => runCli(['restore', ...args, '--data-dir', dataDir, '--database-url', url], { cwd });

  it('writes keys only encrypted, and only with a passphrase', async () => {
    const bare = await backup(['--out', join(cwd, 'refused.backup'), '--include-keys']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/keys are only written encrypted: give a passphrase .*\[backup_passphrase_required\]/);
    const short = join(cwd, 'short');
    writeFileSync(short, 'too short\n');
    const weak = await backup(['--out', join(cwd, 'refused.backup'), '--include-keys', '--passphrase-file', short]);
    expect(weak.stderr).toMatch(/shorter than 12 characters \[backup_passphrase_weak\]/);
    expect(readdirSync(cwd).sort()).toEqual(['passphrase', 'short']);

    // The passphrase from the environment this time; restore reads it from the file.
    const made = await backup(['--out', withKeys, '--include-keys', '--json'], { AIRLOCK_BACKUP_PASSPHRASE: PASSPHRASE });
    expect(made.code, made.stderr).toBe(0);
    const report = JSON.parse(made.stdout);
    expect(report.keys).toEqual({ included: true, files: ['token', 'token.pub', 'receipt', 'receipt.pub', 'access', 'access.pub', 'audit', 'audit.pub', 'secret'] });
    expect(made.stdout).not.toMatch(/BEGIN|PRIVATE/);
    expect(statSync(withKeys).mode & 0o777).toBe(0o600);

    // Uncompressed, the file holds no key in any form: no PEM, no key body, no secret key bytes.
    const content = backupLines(withKeys).join('\n');
    expect(content).not.toContain('-----BEGIN');
    for (const name of KEY_FILES) {
      const key = readFileSync(join(source.config.paths.keysDir, name));
      const body = key.toString('utf8').replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
      expect(body.length).toBeGreaterThan(20);
      expect(content).not.toContain(body);
      expect(content).not.toContain(key.toString('base64'));
    }
  }, 300_000);

  it('restores keys with the right passphrase only, 0600, never over different key files unless --force', async () => {
    expect(existsSync(withKeys)).toBe(true);
    const dataDir = join(tmpDir(), 'new-machine');
    const wrongFile = join(cwd, 'wrong');
    writeFileSync(wrongFile, 'a wrong passphrase, long enough\n');
    const first = await createDatabase(kind);
    const wrong = await restore(['--in', withKeys, '--passphrase-file', wrongFile], dataDir, first.url);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/does not open the keys in this backup \(wrong passphrase\); nothing was restored \[backup_passphrase_wrong\]/);
    expect(await untouched(first)).toBe(true);
    expect(existsSync(dataDir)).toBe(false);

    const right = await restore(['--in', withKeys, '--passphrase-file', passphraseFile], dataDir, first.url);
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toMatch(/keys restored: .*token-ed25519\.pem/);
    const keysDir = join(dataDir, 'keys');
    expect(statSync(keysDir).mode & 0o777).toBe(0o700);
    for (const name of KEY_FILES) {
      expect(readFileSync(join(keysDir, name)), name).toEqual(readFileSync(join(source.config.paths.keysDir, name)));
      expect(statSync(join(keysDir, name)).mode & 0o777, name).toBe(0o600);
    }
    expect(statSync(join(keysDir, 'audit-ed25519.pub.pem')).mode & 0o777).toBe(0o644);
    // The new machine checks the restored chain with nothing but the restored keys.
    const verified = await runCli(['audit', 'verify', '--json', '--data-dir', dataDir, '--database-url', first.url], { cwd });
    expect(verified.code, verified.stdout).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, headSeq: 24 });
    expect(JSON.parse(verified.stdout).checkpoints).toBeGreaterThan(1);

    // A different key where the backup's would go: refused, nothing restored; --force replaces it.
    const other = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(join(keysDir, 'token-ed25519.pem'), other, { mode: 0o600 });
    const second = await createDatabase(kind);
    const clash = await restore(['--in', withKeys, '--passphrase-file', passphraseFile], dataDir, second.url);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/differ from the backup's already exist: .*token-ed25519\.pem; .*--force.*\[restore_keys_exist\]/);
    expect(await untouched(second)).toBe(true);
    expect(readFileSync(join(keysDir, 'token-ed25519.pem'), 'utf8')).toBe(other);
    const forced = await restore(['--in', withKeys, '--passphrase-file', passphraseFile, '--force'], dataDir, second.url);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/keys restored: .*token-ed25519\.pem/);
    expect(forced.stdout).toMatch(/keys already in place: .*audit-ed25519\.pem/);
    expect(readFileSync(join(keysDir, 'token-ed25519.pem'))).toEqual(readFileSync(source.config.paths.tokenKeyFile));

    // Without a passphrase the same backup restores the data and leaves the keys out.
    const third = await createDatabase(kind);
    const dataOnly = await restore(['--in', withKeys], join(tmpDir(), 'data-only'), third.url);
    expect(dataOnly.code, dataOnly.stderr).toBe(0);
    expect(dataOnly.stdout).toMatch(/note: the backup holds keys, but no passphrase was given: they were not restored/);
  }, 300_000);

  it('carries the audit public keys, so a restore without keys can still be verified', async () => {
    const file = join(cwd, 'no-keys.backup');
    expect((await backup(['--out', file])).code).toBe(0);
    const dataDir = join(tmpDir(), 'bare-machine');
    const target = await createDatabase(kind);
    const publicDir = join(dataDir, 'public');
    const restored = await restore(['--in', file, '--public-keys-out', publicDir], dataDir, target.url);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/checkpoints are signed by key\(s\) \S+ that this configuration does not hold/);
    const [written] = readdirSync(publicDir);
    expect(written).toMatch(/\.pub\.pem$/);
    expect(readFileSync(join(publicDir, written as string), 'utf8')).toBe(readFileSync(source.config.paths.auditPublicKeyFile, 'utf8'));

    const unknown = await runCli(['audit', 'verify', '--data-dir', dataDir, '--database-url', target.url], { cwd });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/signed by unknown key/);
    const verified = await runCli(['audit', 'verify', '--data-dir', dataDir, '--database-url', target.url, '--public-key', join(publicDir, written as string)], { cwd });
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(/audit chain OK: 24 events/);
  }, 300_000);
});
