import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog, canonicalEvent, canonicalJson, chainHash, checkpointMessage, handOverMessage, KEY_ROTATED_ACTION, keyIdOf, loadAuditSigner, loadPublicKeys, signerOf } from '../../src/audit/index.js';
import type { ResolvedConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/http/logger.js';
import { startServer } from '../../src/http/server.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { openStore } from '../../src/store/index.js';
import { events } from '../helpers/audit.js';
import { runCli } from '../helpers/cli.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { bearer, http } from '../helpers/http.js';
import { testConfig } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

/** A data directory and a fresh database; `open` starts a runtime on them (a server process, as far as the chain can tell). */
async function deployment(kind: Parameters<typeof createDatabase>[0]) {
  const database = await createDatabase(kind);
  const dataDir = join(tmpDir(), 'data');
  const config = testConfig({ dataDir, database: { url: database.url }, audit: { checkpointEvery: 5 } });
  const flags = ['--data-dir', dataDir, '--database-url', database.url];
  const cli = (args: string[]) => runCli([...args, ...flags], { cwd: tmpDir() });
  const open = () => openRuntime(config, createLogger('silent'));
  return { database, dataDir, config, flags, cli, open };
}

async function append(runtime: Runtime, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await runtime.audit.record(events(1));
}

async function headSeq(config: ResolvedConfig): Promise<number> {
  const store = await openStore(config.store);
  try {
    return Number((await store.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
  } finally {
    await store.close();
  }
}

// Several CLI runs and runtimes per test: more than the default time on a loaded machine.
describe.each(storeKinds())('airlock keys rotate-audit on %s', (kind) => {
  it('rotates twice with servers appending between; verify passes holding only the original public key', async () => {
    const { config, cli, open, database } = await deployment(kind);
    const first = await open();
    await append(first, 7);
    // The original public key, kept apart: the only key the offline verifier below holds.
    const original = join(tmpDir(), 'original.pub.pem');
    copyFileSync(config.paths.auditPublicKeyFile, original);
    const k1 = first.signer.keyId;

    const rotated = await cli(['keys', 'rotate-audit', '--json']);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    const one = JSON.parse(rotated.stdout) as { seq: number; previous_key_id: string; key_id: string; retired_public_key_file: string; resumed: boolean };
    expect(one).toMatchObject({ seq: 8, previous_key_id: k1, resumed: false, retired_public_key_file: join(config.paths.keysDir, 'retired', `audit-${k1}.pub.pem`) });
    const k2 = one.key_id;
    expect(k2).not.toBe(k1);
    // The new key is installed at the configured path, private (0600); the old one is out of service.
    expect(statSync(config.paths.auditKeyFile).mode & 0o777).toBe(0o600);
    expect(loadPublicKeys([config.paths.auditKeyFile]).has(k2)).toBe(true);
    expect(loadPublicKeys([one.retired_public_key_file]).has(k1)).toBe(true);
    expect(existsSync(`${config.paths.auditKeyFile}.next`)).toBe(false);

    // The server started before the rotation keeps signing with the old key until it restarts.
    await append(first, 12);
    await first.audit.checkpoint();
    const second = await open(); // a restarted instance: it loads the new key
    expect(second.signer.keyId).toBe(k2);
    await append(second, 6);

    const again = await cli(['keys', 'rotate-audit', '--json']);
    expect(again.code).toBe(0);
    const two = JSON.parse(again.stdout) as { seq: number; previous_key_id: string; key_id: string };
    expect(two.previous_key_id).toBe(k2);
    const k3 = two.key_id;
    await append(first, 3);
    await append(second, 4);
    await first.audit.checkpoint();
    await second.audit.checkpoint();
    const third = await open();
    expect(third.signer.keyId).toBe(k3);
    await append(third, 6);
    await third.audit.checkpoint();
    for (const runtime of [first, second, third]) await runtime.close();

    // Checkpoints by all three keys, the two rotation checkpoints signed by both.
    const store = await openStore(config.store);
    const checkpoints = await store.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq').execute();
    const rotations = await store.db.selectFrom('audit_events').selectAll().where('action', '=', 'audit.key_rotated').orderBy('seq').execute();
    await store.close();
    expect(new Set(checkpoints.map((checkpoint) => checkpoint.key_id))).toEqual(new Set([k1, k2, k3]));
    expect(checkpoints.filter((checkpoint) => checkpoint.prev_key_id !== null).map((checkpoint) => [checkpoint.seq, checkpoint.prev_key_id, checkpoint.key_id])).toEqual([
      [one.seq, k1, k2],
      [two.seq, k2, k3],
    ]);
    expect(rotations.map((event) => JSON.parse(event.data) as Record<string, string>)).toMatchObject([
      { key_id: k2, previous_key_id: k1, public_key: expect.stringContaining('BEGIN PUBLIC KEY') },
      { key_id: k3, previous_key_id: k2 },
    ]);
    expect(rotations.map((event) => event.actor)).toEqual([expect.stringMatching(/^cli:keys:/), expect.stringMatching(/^cli:keys:/)]);

    // An offline verifier with nothing but the original public key: no data directory, no key files.
    const bare = join(tmpDir(), 'nothing');
    for (const threads of ['1', '3']) {
      const verified = await runCli(['audit', 'verify', '--data-dir', bare, '--database-url', database.url, '--public-key', original, '--threads', threads], { cwd: tmpDir() });
      expect(verified.stdout).toContain(`audit chain OK: ${await headSeq(config)} events`);
      expect(verified.stdout).toContain(`key ${k2} introduced at seq ${one.seq}, vouched for by ${k1}`);
      expect(verified.stdout).toContain(`key ${k3} introduced at seq ${two.seq}, vouched for by ${k2}`);
      expect(verified.code).toBe(0);
    }
    // On the machine itself: the configured (newest) key and the retired ones.
    const local = await cli(['audit', 'verify', '--json']);
    expect(local.code).toBe(0);
    expect((JSON.parse(local.stdout) as { ok: boolean; keys: Array<{ key_id: string; source: string }> }).keys).toEqual(
      expect.arrayContaining([expect.objectContaining({ key_id: k3, source: 'given' }), expect.objectContaining({ key_id: k1, source: 'given' })]),
    );
    // Trust runs forward only: the newest key alone does not vouch for the keys before it.
    const newestOnly = join(tmpDir(), 'newest.pub.pem');
    copyFileSync(config.paths.auditPublicKeyFile, newestOnly);
    const backwards = await runCli(['audit', 'verify', '--data-dir', bare, '--database-url', database.url, '--public-key', newestOnly], { cwd: tmpDir() });
    expect(backwards.code).toBe(1);
    expect(backwards.stdout).toMatch(new RegExp(`BROKEN at seq 5: the checkpoint at 5 is signed by unknown key ${k1}`));

    // A server on the rotated deployment verifies through the API too (its key, the retired ones, the rotations).
    const server = await startServer(config, createLogger('silent'));
    try {
      const { key } = await server.runtime.keys.create({ name: 'auditor', scopes: ['audit:read'], actor: 'test' });
      const answer = await http('POST', `${server.url}/v1/audit/verify`, { headers: bearer(key) });
      const result = (answer.text ?? '').trim().split('\n').map((line) => JSON.parse(line) as { type: string; ok?: boolean }).find((line) => line.type === 'result');
      expect(result).toMatchObject({ ok: true });
    } finally {
      await server.close();
    }
  }, 180_000);

  it('fails verification at the seq of a forged rotation, even when later checkpoints of the real key cover it', async () => {
    const { config, open, cli } = await deployment(kind);
    const runtime = await open();
    await append(runtime, 7);
    const k1 = runtime.signer.keyId;
    await runtime.close();

    // Someone with write access to the database, but not the audit key, appends a rotation to a key of theirs.
    const forger = generateKeyPairSync('ed25519');
    const forgedId = keyIdOf(forger.publicKey);
    const signWith = (message: string) => sign(null, Buffer.from(message), forger.privateKey).toString('base64url');
    const store = await openStore(config.store);
    const head = await store.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    const seq = Number(head.seq) + 1;
    const fields = {
      seq,
      id: '01900000-0000-7000-8000-0000000000aa',
      time: new Date().toISOString(),
      actor: 'cli:keys:root',
      action: 'audit.key_rotated',
      subject_type: 'audit_key',
      subject_id: forgedId,
      environment: null,
      target: null,
      data: canonicalJson({ key_id: forgedId, public_key: forger.publicKey.export({ type: 'spki', format: 'pem' }).toString(), previous_key_id: k1 }),
    };
    const hash = chainHash(head.hash, canonicalEvent(fields));
    await store.db.insertInto('audit_events').values({ ...fields, prev_hash: head.hash, hash }).execute();
    const unsigned = { seq, hash, time: fields.time, key_id: forgedId };
    await store.db
      .insertInto('audit_checkpoints')
      .values({
        ...unsigned,
        signature: signWith(checkpointMessage(unsigned)),
        // The hand-over claims the real key, but only the forger's key could sign it.
        prev_key_id: k1,
        prev_signature: signWith(handOverMessage({ seq, hash, time: fields.time, key_id: k1, new_key_id: forgedId })),
      })
      .execute();
    await store.db.updateTable('audit_head').set({ seq, hash, checkpoint_seq: seq }).where('id', '=', 1).execute();
    await store.close();

    // The real servers carry on: their checkpoints (by the real key) cover the forged event.
    const later = await open();
    await append(later, 6);
    await later.audit.checkpoint();
    await later.close();

    for (const threads of ['1', '3']) {
      const result = await cli(['audit', 'verify', '--threads', threads]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`audit chain BROKEN at seq ${seq}: the hand-over signature of key ${k1} at ${seq} is invalid: a forged rotation`);
    }

    // A rotation vouched for by the forger's own key is refused at its seq as well.
    const selfVouched = await deployment(kind);
    const rt = await selfVouched.open();
    await append(rt, 3);
    await rt.close();
    const other = await openStore(selfVouched.config.store);
    const top = await other.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    const at = Number(top.seq) + 1;
    const own = { ...fields, seq: at, id: '01900000-0000-7000-8000-0000000000bb', data: canonicalJson({ key_id: forgedId, public_key: forger.publicKey.export({ type: 'spki', format: 'pem' }).toString(), previous_key_id: forgedId }) };
    const ownHash = chainHash(top.hash, canonicalEvent(own));
    await other.db.insertInto('audit_events').values({ ...own, prev_hash: top.hash, hash: ownHash }).execute();
    const ownUnsigned = { seq: at, hash: ownHash, time: own.time, key_id: forgedId };
    await other.db
      .insertInto('audit_checkpoints')
      .values({ ...ownUnsigned, signature: signWith(checkpointMessage(ownUnsigned)), prev_key_id: forgedId, prev_signature: signWith(handOverMessage({ ...ownUnsigned, key_id: forgedId, new_key_id: forgedId })) })
      .execute();
    await other.db.updateTable('audit_head').set({ seq: at, hash: ownHash, checkpoint_seq: at }).where('id', '=', 1).execute();
    await other.close();
    const refused = await selfVouched.cli(['audit', 'verify']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`audit chain BROKEN at seq ${at}: the key rotation at ${at} to key ${forgedId} is vouched for by key ${forgedId}, which is not trusted here: a forged rotation`);
    expect(refused.stdout).toContain('pass its public key with --public-key');
  }, 180_000);

  it('refuses to rotate a missing or exposed key with a clear code, and appends nothing', async () => {
    const { config, cli, open, database } = await deployment(kind);
    const runtime = await open();
    await append(runtime, 3);
    await runtime.close();
    const before = await headSeq(config);

    chmodSync(config.paths.auditKeyFile, 0o644);
    const exposed = await cli(['keys', 'rotate-audit']);
    expect(exposed.code).toBe(1);
    expect(exposed.stderr).toMatch(/the audit key .* is readable by others .* \[key_insecure\]/);

    rmSync(config.paths.auditKeyFile);
    const missing = await cli(['keys', 'rotate-audit']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read the audit key .*audit-ed25519\.pem: ENOENT .*\[key_missing\]/);

    expect(await headSeq(config)).toBe(before);
    expect(existsSync(config.paths.auditKeyFile)).toBe(false); // never created by a rotation
    expect(existsSync(`${config.paths.auditKeyFile}.next`)).toBe(false);
    expect(existsSync(join(config.paths.keysDir, 'retired'))).toBe(false);
    const store = await openStore(config.store);
    expect(await store.db.selectFrom('audit_events').select('seq').where('action', '=', 'audit.key_rotated').execute()).toEqual([]);
    await store.close();
  }, 180_000);

  it('finishes a rotation that committed but was not installed, and discards a staged key that never committed', async () => {
    const { config, cli, open } = await deployment(kind);
    const runtime = await open();
    await append(runtime, 2);
    await runtime.close();
    const staged = `${config.paths.auditKeyFile}.next`;
    const stage = () => {
      const { privateKey } = generateKeyPairSync('ed25519');
      writeFileSync(staged, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
      const publicKey = createPublicKey(privateKey);
      return { keyId: keyIdOf(publicKey), publicKey, privateKey };
    };

    // A run that died after its commit, before it installed the key: the chain knows the staged key.
    const current = loadAuditSigner(config.paths.auditKeyFile, config.paths.auditPublicKeyFile, { create: false });
    const next = stage();
    const store = await openStore(config.store);
    await new AuditLog(store, { signer: current, checkpointEvery: 1000 }).rotateKey(signerOf(next), {
      actor: 'cli:keys:test',
      action: KEY_ROTATED_ACTION,
      subject: { type: 'audit_key', id: next.keyId },
      data: { key_id: next.keyId, public_key: next.publicKey.export({ type: 'spki', format: 'pem' }).toString(), previous_key_id: current.keyId },
    });
    await store.close();
    const resumed = await cli(['keys', 'rotate-audit', '--json']);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ previous_key_id: current.keyId, key_id: next.keyId, resumed: true });
    expect(loadPublicKeys([config.paths.auditKeyFile]).has(next.keyId)).toBe(true);
    expect(existsSync(staged)).toBe(false);
    expect(await headSeq(config)).toBe(3); // two events and the rotation: nothing appended by the resumed run

    // A staged key no rotation knows: a run that failed before its commit. It is discarded.
    const orphan = stage();
    const fresh = await cli(['keys', 'rotate-audit', '--json']);
    expect(fresh.code).toBe(0);
    const result = JSON.parse(fresh.stdout) as { key_id: string; previous_key_id: string; resumed: boolean };
    expect(result).toMatchObject({ previous_key_id: next.keyId, resumed: false });
    expect(result.key_id).not.toBe(orphan.keyId);
    expect((await cli(['audit', 'verify'])).code).toBe(0);
  }, 180_000);
});
