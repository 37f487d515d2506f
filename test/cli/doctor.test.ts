import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabase, dropAppendOnlyTriggers, rawSql, storeKinds } from '../helpers/databases.js';
import { sshdMissing, startSshd, type Sshd } from '../helpers/sshd.js';
import { TelegramStandIn } from '../helpers/telegram.js';
import { tmpDir } from '../helpers/tmp.js';

interface Finding {
  check: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  message: string;
  fix?: string;
}

const PASSWORD = 'Test-Root-Password-Strong-1';
const BOT_TOKEN = '424242:doctor-test-token_stand-in-abcdef';
/** The rate-limit store the CI machine runs (see .ci/run), as test/http/rate-limit.test.ts uses it. */
const REDIS_URL = 'redis://127.0.0.1:6379';

/** A directory set up by `airlock init` (SQLite in ./.airlock, or the given database). */
async function initialized(env: Record<string, string> = {}): Promise<{ cwd: string; env: Record<string, string> }> {
  const cwd = tmpDir();
  const setup = { AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD, ...env };
  const init = await runCli(['init'], { cwd, env: setup });
  expect(init.code, init.stderr).toBe(0);
  return { cwd, env: setup };
}

async function doctor(setup: { cwd: string; env: Record<string, string> }, env: Record<string, string> = {}): Promise<CliResult & { findings: Finding[] }> {
  const result = await runCli(['doctor', '--json'], { cwd: setup.cwd, env: { ...setup.env, ...env } });
  const report = JSON.parse(result.stdout) as { ok: boolean; findings: Finding[] };
  expect(report.ok).toBe(result.code === 0);
  return { ...result, findings: report.findings };
}

function failures(findings: readonly Finding[]): Finding[] {
  return findings.filter((finding) => finding.status === 'fail');
}

describe('airlock doctor', () => {
  let telegram: TelegramStandIn;
  let base: { cwd: string; env: Record<string, string> };
  beforeAll(async () => {
    telegram = await TelegramStandIn.start(BOT_TOKEN);
    base = await initialized();
  });
  afterAll(async () => {
    await telegram?.close();
  });

  describe.each(storeKinds())('on a good setup (%s)', (kind) => {
    it('finds nothing wrong: every check passes or says why it did not run, exit 0', async () => {
      const setup = kind === 'sqlite' ? base : await initialized({ AIRLOCK_DATABASE_URL: (await createDatabase(kind)).url });
      const env = { AIRLOCK_TELEGRAM_BOT_TOKEN: BOT_TOKEN, AIRLOCK_TELEGRAM_API_ROOT: telegram.apiRoot, AIRLOCK_REDIS_URL: REDIS_URL };
      const result = await doctor(setup, env);
      expect(failures(result.findings)).toEqual([]);
      expect(result.code).toBe(0);
      const status = (check: string): string[] => result.findings.filter((finding) => finding.check === check).map((finding) => finding.status);
      for (const check of ['config', 'policy', 'targets', 'store', 'schema', 'target local', 'telegram', 'redis', 'audit']) expect(status(check), check).toEqual(['ok']);
      expect(status('keys')).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
      // SQLite shares this machine's clock; PostgreSQL's is compared.
      expect(status('clock')).toEqual([kind === 'sqlite' ? 'skip' : 'ok']);
      expect(result.findings.find((finding) => finding.check === 'telegram')?.message).toContain('@airlock_test_bot');
      expect(telegram.calls.map((call) => call.method)).toContain('getMe');

      // The same, for people: one line per finding and a summary.
      const human = await runCli(['doctor'], { cwd: setup.cwd, env: { ...setup.env, ...env } });
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/^ok +audit +the chain verifies: \d+ events/m);
      expect(human.stdout).toMatch(/\d+ ok, 0 warning\(s\), 0 failure\(s\), \d+ skipped\n$/);
      expect(human.stdout).not.toContain('fix:');
    });
  });

  it('names a key file that others can read, with the chmod that fixes it, and exits 1', async () => {
    const file = join(base.cwd, '.airlock', 'keys', 'token-ed25519.pem');
    chmodSync(file, 0o644);
    try {
      const result = await doctor(base);
      expect(result.code).toBe(1);
      expect(failures(result.findings)).toEqual([{ check: 'keys', status: 'fail', message: `the token signing key ${file} is readable by others (mode 0644)`, fix: `chmod 600 ${file}` }]);
      const human = await runCli(['doctor'], { cwd: base.cwd, env: base.env });
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(new RegExp(`^fail +keys +the token signing key ${file} is readable by others \\(mode 0644\\)\\n +fix: chmod 600 ${file}$`, 'm'));
    } finally {
      chmodSync(file, 0o600);
    }
  });

  it('names each broken part of the setup and exits 1', async () => {
    const targets = join(tmpDir(), 'targets.yaml');
    writeFileSync(targets, 'targets:\n  web-1:\n    executor: ssh\n    environments: [prd]\n');
    const engineTargets = join(tmpDir(), 'targets.yaml');
    writeFileSync(engineTargets, 'targets:\n  box:\n    executor: docker\n    connection: { socket_path: /nonexistent/engine.sock }\n    environments: [dev]\n    capabilities: [exec]\n');
    const [database, targetsFile, engine, bot, redis, config] = await Promise.all([
      doctor(base, { AIRLOCK_DATABASE_URL: 'postgres://airlock:secret-password@127.0.0.1:1/airlock', AIRLOCK_DATABASE_CONNECT_TIMEOUT_MS: '1000' }),
      doctor(base, { AIRLOCK_TARGETS_FILE: targets }),
      doctor(base, { AIRLOCK_TARGETS_FILE: engineTargets }),
      doctor(base, { AIRLOCK_TELEGRAM_BOT_TOKEN: '424242:not-the-token_of-this-bot-abcdef', AIRLOCK_TELEGRAM_API_ROOT: telegram.apiRoot }),
      doctor(base, { AIRLOCK_REDIS_URL: 'redis://:hunter2@127.0.0.1:1' }),
      doctor(base, { AIRLOCK_PORT: 'eighty' }),
    ]);
    for (const result of [database, targetsFile, engine, bot, redis, config]) expect(result.code).toBe(1);

    expect(failures(database.findings)).toEqual([expect.objectContaining({ check: 'store', message: expect.stringContaining('127.0.0.1:1') })]);
    expect(failures(database.findings)[0]?.fix).toContain('AIRLOCK_DATABASE_URL');
    // What needs the store is not tried; the password never shows.
    expect(database.findings.filter((finding) => ['schema', 'clock', 'audit'].includes(finding.check)).map((finding) => finding.status)).toEqual(['skip', 'skip', 'skip']);
    expect(database.stdout).not.toContain('secret-password');

    expect(failures(targetsFile.findings)).toEqual([expect.objectContaining({ check: 'targets', message: expect.stringContaining('web-1') })]);
    expect(failures(targetsFile.findings)[0]?.fix).toContain(targets);

    expect(failures(engine.findings)).toEqual([expect.objectContaining({ check: 'target box', message: expect.stringContaining('unix:///nonexistent/engine.sock is unreachable') })]);
    expect(failures(engine.findings)[0]?.fix).toContain('start the container engine');

    expect(failures(bot.findings)).toEqual([expect.objectContaining({ check: 'telegram', message: expect.stringContaining('refused the bot token') })]);
    expect(bot.stdout).not.toContain('not-the-token');

    expect(failures(redis.findings)).toEqual([expect.objectContaining({ check: 'redis', message: expect.stringContaining('127.0.0.1:1') })]);
    expect(redis.stdout).not.toContain('hunter2');

    expect(config.findings).toEqual([expect.objectContaining({ check: 'config', status: 'fail', message: expect.stringContaining('AIRLOCK_PORT') })]);
  });

  it('finds a tampered audit chain and names the first bad event', async () => {
    const database = await createDatabase('sqlite');
    const setup = await initialized({ AIRLOCK_DATABASE_URL: database.url });
    await dropAppendOnlyTriggers(database);
    await rawSql(database, "update audit_events set actor = 'someone-else' where seq = 2");
    const result = await doctor(setup);
    expect(result.code).toBe(1);
    expect(failures(result.findings)).toEqual([expect.objectContaining({ check: 'audit', message: expect.stringMatching(/BROKEN at seq 2/) })]);
  });

  describe.skipIf(sshdMissing() !== undefined)('with an SSH target (real OpenSSH on loopback)', () => {
    let sshd: Sshd;
    beforeAll(async () => {
      sshd = await startSshd();
    });
    afterAll(async () => {
      await sshd?.stop();
    });

    function targetsFile(hostKey: string): string {
      const file = join(tmpDir(), 'targets.yaml');
      writeFileSync(
        file,
        `targets:\n  box:\n    executor: ssh\n    connection:\n      host: ${sshd.host}\n      port: ${sshd.port}\n      username: ${sshd.username}\n      key_path: "${sshd.privateKeyFile}"\n      host_key: "${hostKey}"\n    environments: [dev]\n    capabilities: [exec]\n`,
      );
      return file;
    }

    it('passes when the host presents its pinned key, and fails naming both keys when it does not', async () => {
      const wrong = `SHA256:${'B'.repeat(43)}`;
      const [good, bad] = await Promise.all([doctor(base, { AIRLOCK_TARGETS_FILE: targetsFile(sshd.hostKeyFingerprint) }), doctor(base, { AIRLOCK_TARGETS_FILE: targetsFile(wrong) })]);
      expect(good.code).toBe(0);
      expect(good.findings.find((finding) => finding.check === 'target box')).toMatchObject({ status: 'ok', message: expect.stringContaining('host key matches') });
      expect(bad.code).toBe(1);
      const mismatch = failures(bad.findings);
      expect(mismatch).toEqual([expect.objectContaining({ check: 'target box', message: expect.stringContaining('does not match the pinned one') })]);
      expect(mismatch[0]?.message).toContain(wrong);
      expect(mismatch[0]?.message).toContain(sshd.hostKeyFingerprint);
      expect(mismatch[0]?.fix).toContain(`ssh-keyscan -p ${sshd.port} ${sshd.host}`);
    });
  });
});
