import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const TELEGRAM = { AIRLOCK_TELEGRAM_BOT_TOKEN: '123456789:stand-in-token-for-the-tests_abcdef', AIRLOCK_TELEGRAM_CHATS: '1001=alice,1002=ghost,1003=erin' };

describe('airlock config validate with Telegram', () => {
  it('reports chats mapped to usernames that are not Airlock users, and notes users who cannot decide', async () => {
    const cwd = tmpDir();
    expect((await runCli(['init'], { cwd })).code).toBe(0);
    expect((await runCli(['users', 'add', 'alice', '--role', 'approver'], { cwd })).code).toBe(0);
    expect((await runCli(['users', 'add', 'erin', '--role', 'auditor'], { cwd })).code).toBe(0);
    const result = await runCli(['config', 'validate'], { cwd, env: TELEGRAM });
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('telegram: on (polling, 3 chat(s))');
    expect(result.stdout).toContain('  telegram.botToken = "(set, hidden)"  (AIRLOCK_TELEGRAM_BOT_TOKEN)');
    expect(result.stdout).not.toContain('stand-in-token');
    expect(result.stdout).toContain('note: telegram.chats: "erin" (auditor) may not decide requests: chat 1003 gets /status and /pending only');
    expect(result.stderr).toContain('configuration has 1 problem:');
    expect(result.stderr).toContain('  - telegram.chats: chat 1002 is mapped to "ghost", who is not an Airlock user');
    expect(result.stderr).not.toContain('alice');

    const json = await runCli(['config', 'validate', '--json'], { cwd, env: TELEGRAM });
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, problems: ['telegram.chats: chat 1002 is mapped to "ghost", who is not an Airlock user'] });
  });

  it('reads the users without creating a database that is not there yet', async () => {
    const cwd = tmpDir();
    const result = await runCli(['config', 'validate'], { cwd, env: { AIRLOCK_TELEGRAM_CHATS: '1001=alice' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('telegram.chats: chat 1001 is mapped to "alice", who is not an Airlock user');
    expect(result.stdout).toContain('telegram: off (no bot token)');
    expect(result.stdout).toContain('note: telegram: chats are listed but there is no bot token, so Telegram is off');
    expect(existsSync(join(cwd, '.airlock'))).toBe(false);
  });

  it('checks the system admins of a system-mode bot', async () => {
    const cwd = tmpDir();
    expect((await runCli(['init'], { cwd })).code).toBe(0);
    expect((await runCli(['users', 'add', 'alice', '--role', 'admin'], { cwd })).code).toBe(0);
    expect((await runCli(['users', 'add', 'erin', '--role', 'approver'], { cwd })).code).toBe(0);
    const env = { ...TELEGRAM, AIRLOCK_TELEGRAM_CHATS: '1001=alice,1003=erin', AIRLOCK_TELEGRAM_CHATOPS: 'system', AIRLOCK_TELEGRAM_SYSTEM_ADMINS: 'alice,ghost' };
    const result = await runCli(['config', 'validate', '--json'], { cwd, env });
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as { problems: string[]; notes: string[] };
    expect(report.problems).toEqual(['telegram.systemAdmins: "ghost" is not an Airlock user']);
    expect(report.notes).toEqual([
      'telegram.chats: "erin" is no system admin: chat 1003 is refused in system mode',
      'telegram.systemAdmins: "alice" has no TOTP, so cannot approve challenges (airlock chatops init makes one)',
    ]);
  });
});
