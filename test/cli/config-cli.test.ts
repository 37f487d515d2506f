import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const NO_STACK = /^\s+at /m;
const UNREACHABLE = 'postgres://airlock:pw-unreachable@127.0.0.1:1/airlock';
const FAST = { AIRLOCK_DATABASE_CONNECT_TIMEOUT_MS: '1000' };

/** A folder with a configuration that is wrong in three ways from three sources. */
function badSetup() {
  const cwd = tmpDir();
  writeFileSync(join(cwd, 'airlock.yaml'), 'server:\n  port: 5002\n   host: [oops\n');
  return { cwd, env: { AIRLOCK_PORT: '99999', ALLOWED_ENVIRONMENTS: 'prod' } };
}

describe('airlock config validate', () => {
  it('passes zero configuration and prints settings, sources and paths', async () => {
    const cwd = tmpDir();
    const result = await runCli(['config', 'validate'], { cwd });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('server.port = 5002  (default)');
    expect(result.stdout).toContain(`base = ${join(cwd, '.airlock')}`);
    expect(result.stdout).toContain(`database: SQLite ${join(cwd, '.airlock', 'airlock.db')}: reachable`);
    expect(result.stdout).toContain('configuration is valid');
  });

  it.each([['config', 'validate'], ['serve', '--validate-only']])('%s %s exits 2 listing every problem, without a stack trace', async (...args) => {
    const { cwd, env } = badSetup();
    const result = await runCli(args, { cwd, env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/configuration has 3 problems:/);
    expect(result.stderr).toMatch(/malformed YAML at line 2, column 9: Nested mappings are not allowed in compact mappings \(and 2 more errors after it\)/);
    expect(result.stderr).toContain('server.port: must be at most 65535 (from AIRLOCK_PORT)');
    expect(result.stderr).toContain('environments.allowed.0: unknown environment "prod"');
    expect(result.stdout + result.stderr).not.toMatch(NO_STACK);
  });

  it('serve --validate-only checks and exits without serving', async () => {
    const result = await runCli(['serve', '--validate-only', '--port', '0'], { cwd: tmpDir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('configuration is valid');
    expect(result.stdout).not.toContain('airlock listening');
  });

  it('prints JSON on request, with the database password masked', async () => {
    const bad = badSetup();
    const invalid = await runCli(['config', 'validate', '--json'], bad);
    expect(invalid.code).toBe(2);
    expect(JSON.parse(invalid.stdout)).toMatchObject({ valid: false, problems: expect.arrayContaining([expect.stringContaining('server.port')]) });

    const valid = await runCli(['config', 'validate', '--json', '--database-url', UNREACHABLE], { cwd: tmpDir(), env: FAST });
    const report = JSON.parse(valid.stdout) as { valid: boolean; problems: string[]; settings: Array<{ key: string; value: unknown; source: string }> };
    expect(valid.stdout).not.toContain('pw-unreachable');
    expect(report.settings).toContainEqual({ key: 'database.url', value: 'postgres://airlock:***@127.0.0.1:1/airlock', source: '--database-url' });
    expect(report.valid).toBe(false);
    expect(report.problems[0]).toMatch(/^database: cannot reach the database \(PostgreSQL postgres:\/\/airlock:\*\*\*@127\.0\.0\.1:1\/airlock\)/);
  });

  it('reports an unreachable database plainly: validate exits 2, serve and migrate exit 1', async () => {
    const cwd = tmpDir();
    const validate = await runCli(['config', 'validate', '--database-url', UNREACHABLE], { cwd, env: FAST });
    expect(validate.code).toBe(2);
    expect(validate.stdout).toContain('UNREACHABLE');
    expect(validate.stderr).toMatch(/cannot reach the database/);
    for (const command of [['serve', '--port', '0'], ['migrate'], ['audit', 'verify']]) {
      const result = await runCli([...command, '--database-url', UNREACHABLE], { cwd, env: FAST });
      expect(result.code, command.join(' ')).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(/^airlock: cannot reach the database \(PostgreSQL postgres:\/\/airlock:\*\*\*@127\.0\.0\.1:1\/airlock\): .*ECONNREFUSED.* \[store_unavailable\]$/);
      expect(result.stderr).not.toContain('pw-unreachable');
    }
  });
});

describe('airlock basics', () => {
  it('prints its version and lists its commands', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await runCli(['--version'], { cwd: tmpDir() })).stdout.trim()).toBe(version);
    const help = await runCli(['--help'], { cwd: tmpDir() });
    expect(help.code).toBe(0);
    for (const command of ['serve', 'init', 'config', 'migrate', 'audit']) expect(help.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    expect(help.stdout).toContain('Examples:');
  });

  it('init is idempotent and prints the first admin key once', async () => {
    const cwd = tmpDir();
    const first = await runCli(['init'], { cwd });
    expect(first.stdout).toContain('(created, key id');
    expect(first.stdout).toMatch(/^admin API key \(shown only now, store it\): alk_\w{8}_[\w-]{43}$/m);
    expect(first.stdout).toMatch(/initialized$/m);
    const key = readFileSync(join(cwd, '.airlock', 'keys', 'audit-ed25519.pem'), 'utf8');
    const second = await runCli(['init'], { cwd });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('already initialized: nothing changed');
    expect(second.stdout).not.toContain('alk_');
    expect(readFileSync(join(cwd, '.airlock', 'keys', 'audit-ed25519.pem'), 'utf8')).toBe(key);
    const tail = await runCli(['audit', 'tail', '--json'], { cwd });
    const actions = tail.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { action: string }).action);
    expect(actions).toEqual(['system.initialized', 'key.created']);
  });
});
