import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOTP, URI } from 'otpauth';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/http/logger.js';
import { openRuntime } from '../../src/runtime.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const APPROVAL_BOT = '111111111:approval-bot-token-for-the-tests_abc';

/** The runbook's bootstrap: `airlock chatops init` writes a bot instance's configuration beside the source one. */
describe('airlock chatops init', () => {
  let cwd: string;
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd, env });
  const totpSecretOf = async (instance: string, username: string) => {
    const rows = await withInstance(instance, (runtime) => runtime.store.db.selectFrom('users').select('totp_secret').where('username', '=', username).execute());
    return rows[0]?.totp_secret ?? null;
  };
  async function withInstance<T>(instance: string, work: (runtime: Awaited<ReturnType<typeof openRuntime>>) => Promise<T>): Promise<T> {
    const runtime = await openRuntime(requireConfig({ configFile: join(cwd, 'airlock.yaml'), flags: { instanceId: instance, role: 'api' }, env: {}, cwd }), createLogger('silent'));
    try {
      return await work(runtime);
    } finally {
      await runtime.close();
    }
  }

  beforeAll(async () => {
    cwd = tmpDir('airlock-chatops-init-');
    // One database for every instance (as with PostgreSQL), so the users and their TOTP are shared.
    writeFileSync(
      join(cwd, 'airlock.yaml'),
      ['dataDir: ./data', 'database: { url: "sqlite:./shared.db" }', 'server: { port: 5002 }', 'telegram:', `  botToken: "${APPROVAL_BOT}"`, '  chats: { "1001": alice }', ''].join('\n'),
    );
    for (const user of ['dana', 'erin']) expect((await cli(['users', 'add', user, '--role', 'admin', '--config', 'airlock.yaml'])).code).toBe(0);
  });

  it('writes a loadable system-mode instance with its own port, without the source bot, and gives a system admin TOTP', async () => {
    const result = await cli(['chatops', 'init', '--config', 'airlock.yaml', '--instance-id', 'ops-a', '--health-port', '18810', '--system-admin', 'dana', '--chat', '2001=dana', '--environment', 'prd', '--print-otpauth', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { config_file: string; system_admins: Array<{ username: string; totp: string; otpauth_uri?: string; recovery_codes?: string[] }> };
    expect(report.config_file).toBe(join(cwd, 'ops-a.yaml'));
    const [dana] = report.system_admins;
    expect(dana).toMatchObject({ username: 'dana', totp: 'generated', otpauth_uri: expect.stringMatching(/^otpauth:\/\/totp\//) });
    expect(dana?.recovery_codes).toHaveLength(10);

    const file = readFileSync(join(cwd, 'ops-a.yaml'), 'utf8');
    expect(statSync(join(cwd, 'ops-a.yaml')).mode & 0o777).toBe(0o640);
    expect(file).not.toContain(APPROVAL_BOT);
    expect(file).not.toContain('otpauth');
    expect(parse(file)).toMatchObject({ dataDir: './data', instanceId: 'ops-a', server: { port: 18810 }, telegram: { chatops: 'system', systemAdmins: ['dana'], chats: { '2001': 'dana' }, system: { environment: 'prd' } } });
    const validated = await cli(['config', 'validate', '--config', 'ops-a.yaml', '--instance-id', 'ops-a']);
    expect(validated.code, validated.stderr).toBe(0);

    // The printed secret is the one the server checks codes against.
    const totp = URI.parse(dana?.otpauth_uri as string) as TOTP;
    await withInstance('ops-a', async (runtime) => {
      const user = await runtime.store.db.selectFrom('users').select('id').where('username', '=', 'dana').executeTakeFirstOrThrow();
      expect(await runtime.mfa.verify(user.id, totp.generate(), 'test')).toBe('totp');
    });
    const audit = await cli(['audit', 'export', '--config', 'airlock.yaml']);
    expect(audit.stdout).toContain('"action":"totp.provisioned"');
    expect(audit.stdout).not.toContain(totp.secret.base32);
    expect((await cli(['audit', 'verify', '--config', 'airlock.yaml'])).code).toBe(0);
  });

  it('never overwrites a configuration, and never replaces a TOTP secret', async () => {
    const before = readFileSync(join(cwd, 'ops-a.yaml'));
    const again = await cli(['chatops', 'init', '--config', 'airlock.yaml', '--instance-id', 'ops-a', '--health-port', '18811', '--system-admin', 'dana', '--print-otpauth']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('ops-a.yaml exists: chatops init never overwrites a configuration');
    expect(readFileSync(join(cwd, 'ops-a.yaml')).equals(before)).toBe(true);

    const secret = await totpSecretOf('ops-b', 'dana');
    const second = await cli(['chatops', 'init', '--config', 'airlock.yaml', '--instance-id', 'ops-b', '--health-port', '18811', '--system-admin', 'dana', '--system-admin', 'erin', '--print-otpauth']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('dana: TOTP already enrolled (kept as it is)');
    expect(second.stdout).toContain('erin: TOTP generated');
    expect(second.stdout.match(/otpauth:\/\//g)).toHaveLength(1);
    expect(await totpSecretOf('ops-b', 'dana')).toBe(secret);
  });

  it('refuses unknown system admins, a port or a bot another instance has, and writes nothing', async () => {
    const ghost = await cli(['chatops', 'init', '--config', 'airlock.yaml', '--instance-id', 'ops-c', '--health-port', '18812', '--system-admin', 'ghost']);
    expect(ghost.code).toBe(2);
    expect(ghost.stderr).toContain('not active users of this instance\'s store: ghost');
    const port = await cli(['chatops', 'init', '--config', 'airlock.yaml', '--instance-id', 'ops-c', '--health-port', '18810', '--system-admin', 'dana']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain(`server.port: 18810 is also the port of instance ops-a (${join(cwd, 'ops-a.yaml')})`);
    const bot = await cli(['chatops', 'init', '--config', 'airlock.yaml', '--instance-id', 'ops-c', '--health-port', '18812', '--system-admin', 'dana'], { AIRLOCK_TELEGRAM_BOT_TOKEN: '111111111:another-token-of-the-approval-bot_xyz' });
    expect(bot.code).toBe(2);
    expect(bot.stderr).toContain('telegram.botToken: bot 111111111 is also configured for instance airlock');
    expect(bot.stderr).not.toContain('another-token');
    const none = await cli(['chatops', 'init', '--config', 'airlock.yaml', '--instance-id', 'ops-c', '--health-port', '18812']);
    expect(none.stderr).toContain('name the system admins');
    expect(existsSync(join(cwd, 'ops-c.yaml'))).toBe(false);
  });

  it('config validate refuses two instances with one bot, counting tokens in the .env files beside them', async () => {
    writeFileSync(join(cwd, 'ops-a.env'), '# secrets of ops-a\nAIRLOCK_TELEGRAM_BOT_TOKEN="777777777:ops-a-bot-token-for-the-tests_abcdef"\n');
    const duplicate = await cli(['config', 'validate', '--config', 'ops-b.yaml', '--instance-id', 'ops-b'], { AIRLOCK_TELEGRAM_BOT_TOKEN: '777777777:ops-a-bot-token-for-the-tests_abcdef' });
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toContain(`telegram.botToken: bot 777777777 is also configured for instance ops-a (${join(cwd, 'ops-a.yaml')}): two instances polling one bot make Telegram answer 409 Conflict`);
    expect(duplicate.stdout + duplicate.stderr).not.toContain('ops-a-bot-token');
    const own = await cli(['config', 'validate', '--config', 'ops-b.yaml', '--instance-id', 'ops-b'], { AIRLOCK_TELEGRAM_BOT_TOKEN: '888888888:ops-b-bot-token-for-the-tests_abcdef' });
    expect(own.code, own.stderr).toBe(0);
  });
});
