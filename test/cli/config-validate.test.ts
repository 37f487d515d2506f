import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

/** Node prints stack frames as indented "at …" lines: none may reach the user. */
const STACK_FRAME = /^\s+at /m;

/** Nothing listens on port 1; a short timeout keeps the failure fast even where connects hang. */
const UNREACHABLE = 'postgres://airlock:pw@127.0.0.1:1/airlock';
const FAST = { AIRLOCK_DATABASE_CONNECT_TIMEOUT_MS: '1000' };

function expectNoStack(result: CliResult): void {
  expect(result.stdout).not.toMatch(STACK_FRAME);
  expect(result.stderr).not.toMatch(STACK_FRAME);
}

/** A folder with a bad port (environment), malformed airlock.yaml and an unknown environment (flag). */
function invalidSetup(): { cwd: string; env: Record<string, string>; args: string[] } {
  const cwd = tmpDir();
  writeFileSync(join(cwd, 'airlock.yaml'), 'server:\n  host: [127.0.0.1\n');
  return { cwd, env: { AIRLOCK_PORT: '99999' }, args: ['--allowed-environments', 'prod'] };
}

function expectEveryProblem(result: CliResult, cwd: string): void {
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('configuration has 3 problems:');
  expect(result.stderr).toContain(`  - config file ${join(cwd, 'airlock.yaml')}: malformed YAML at line `);
  expect(result.stderr).toContain('  - server.port: must be at most 65535 (from AIRLOCK_PORT)');
  expect(result.stderr).toContain('  - environments.allowed.0: unknown environment "prod" (known: dev, test, stg, prd) (from --allowed-environments)');
  expect(result.stdout).not.toContain('configuration is valid');
  expectNoStack(result);
}

describe('airlock config validate', () => {
  it('passes zero configuration in an empty folder and creates nothing', async () => {
    const cwd = tmpDir();
    const result = await runCli(['config', 'validate'], { cwd });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('configuration is valid');
    expect(result.stdout).toContain('configuration file: (none)');
    expect(result.stdout).toContain('  server.port = 5002  (default)');
    expect(result.stdout).toContain(`  base = ${join(cwd, '.airlock')}`);
    expect(result.stdout).toContain(`database: SQLite ${join(cwd, '.airlock', 'airlock.db')}: reachable`);
    expect(existsSync(join(cwd, '.airlock'))).toBe(false);
  });

  it('names where each setting came from', async () => {
    const cwd = tmpDir();
    writeFileSync(join(cwd, 'airlock.yaml'), 'log:\n  level: debug\n');
    const result = await runCli(['config', 'validate', '--host', '127.0.0.2', '--role', 'gateway', '--segment', 'production-a'], { cwd, env: { GATEWAY_PORT: '5100' } });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`configuration file: ${join(cwd, 'airlock.yaml')}`);
    expect(result.stdout).toContain(`  log.level = "debug"  (${join(cwd, 'airlock.yaml')})`);
    expect(result.stdout).toContain('  server.port = 5100  (GATEWAY_PORT)');
    expect(result.stdout).toContain('  server.host = "127.0.0.2"  (--host)');
    expect(result.stdout).toContain('  role = "gateway"  (--role)');
    expect(result.stdout).toContain('  gateway.segment = "production-a"  (--segment)');
  });

  it('exits 2 and lists every problem of an invalid configuration, without a stack trace', async () => {
    const { cwd, env, args } = invalidSetup();
    const result = await runCli(['config', 'validate', ...args], { cwd, env });
    expectEveryProblem(result, cwd);
  });

  it('exits 2 for a config file named by --config that does not exist', async () => {
    const cwd = tmpDir();
    const result = await runCli(['config', 'validate', '--config', 'missing.yaml'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`  - config file ${join(cwd, 'missing.yaml')}: cannot read it (ENOENT)`);
    expectNoStack(result);
  });

  it('keeps instances apart on request', async () => {
    const cwd = tmpDir();
    const result = await runCli(['config', 'validate', '--instance-id', 'canary', '--json'], { cwd });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { paths: Record<string, string> };
    expect(report.paths.base).toBe(join(cwd, '.airlock', 'instances', 'canary'));
    expect(report.paths.defaultDatabaseFile).toBe(join(cwd, '.airlock', 'instances', 'canary', 'airlock.db'));
  });
});

describe('airlock config validate --json', () => {
  interface Report {
    valid: boolean;
    problems: string[];
    configFile?: string | null;
    settings?: Array<{ key: string; value: unknown; source: string }>;
    database?: string;
  }

  it('prints a parseable valid report', async () => {
    const cwd = tmpDir();
    const result = await runCli(['config', 'validate', '--json'], { cwd, env: { AIRLOCK_PORT: '6001' } });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.valid).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.configFile).toBeNull();
    expect(report.settings).toContainEqual({ key: 'server.port', value: 6001, source: 'AIRLOCK_PORT' });
  });

  it('prints a parseable invalid report listing every problem, and exits 2', async () => {
    const { cwd, env, args } = invalidSetup();
    const result = await runCli(['config', 'validate', '--json', ...args], { cwd, env });
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.valid).toBe(false);
    expect(report.problems).toHaveLength(3);
    expect(report.problems).toContain('server.port: must be at most 65535 (from AIRLOCK_PORT)');
    expect(report.problems).toContain('environments.allowed.0: unknown environment "prod" (known: dev, test, stg, prd) (from --allowed-environments)');
    expect(report.problems.filter((problem) => problem.includes('malformed YAML at line '))).toHaveLength(1);
    expectNoStack(result);
  });
});

describe('database passwords', () => {
  const password = 'Zq9-never-shown';
  const url = `postgres://airlock:${password}@127.0.0.1:1/airlock`;

  it('are masked in the printed settings', async () => {
    const result = await runCli(['config', 'validate', '--database-url', url], { cwd: tmpDir(), env: FAST });
    expect(result.stdout).toContain('  database.url = "postgres://airlock:***@127.0.0.1:1/airlock"  (--database-url)');
    expect(result.stdout).not.toContain(password);
    expect(result.stderr).not.toContain(password);
  });

  it('are masked in the JSON report', async () => {
    const result = await runCli(['config', 'validate', '--json'], { cwd: tmpDir(), env: { ...FAST, DATABASE_URL: url } });
    const report = JSON.parse(result.stdout) as { settings: Array<{ key: string; value: unknown }>; database: string };
    expect(report.settings).toContainEqual(expect.objectContaining({ key: 'database.url', value: 'postgres://airlock:***@127.0.0.1:1/airlock' }));
    expect(report.database).toBe('PostgreSQL postgres://airlock:***@127.0.0.1:1/airlock');
    expect(result.stdout).not.toContain(password);
    expect(result.stderr).not.toContain(password);
  });
});

describe('an unreachable database', () => {
  it('makes config validate exit 2 naming it, without a stack trace', async () => {
    const result = await runCli(['config', 'validate', '--database-url', UNREACHABLE], { cwd: tmpDir(), env: FAST });
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('database: PostgreSQL postgres://airlock:***@127.0.0.1:1/airlock: UNREACHABLE');
    expect(result.stdout).not.toContain('configuration is valid');
    expect(result.stderr).toContain('configuration has 1 problem:');
    expect(result.stderr).toContain('  - database: cannot reach the database (PostgreSQL postgres://airlock:***@127.0.0.1:1/airlock)');
    expect(result.stdout + result.stderr).not.toContain(':pw@');
    expectNoStack(result);
  });

  it('makes config validate --json report it as a problem', async () => {
    const result = await runCli(['config', 'validate', '--json', '--database-url', UNREACHABLE], { cwd: tmpDir(), env: FAST });
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as { valid: boolean; problems: string[] };
    expect(report.valid).toBe(false);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatch(/^database: cannot reach the database/);
  });

  it.each([
    ['serve', ['serve', '--port', '0']],
    ['migrate', ['migrate']],
  ])('makes %s exit 1 with one clear line, without a stack trace', async (_name, args) => {
    const result = await runCli([...args, '--database-url', UNREACHABLE], { cwd: tmpDir(), env: FAST });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^airlock: cannot reach the database \(PostgreSQL postgres:\/\/airlock:\*\*\*@127\.0\.0\.1:1\/airlock\): .+\[store_unavailable\]$/);
    expect(result.stdout + result.stderr).not.toContain(':pw@');
    expectNoStack(result);
  });
});

describe('airlock serve --validate-only', () => {
  // Were a server started, the process would not end and runCli would never resolve.
  it('exits 0 on a good configuration without starting a server or creating anything', async () => {
    const cwd = tmpDir();
    const result = await runCli(['serve', '--validate-only', '--port', '0'], { cwd });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('configuration is valid');
    expect(result.stdout).not.toMatch(/listening/i);
    expect(existsSync(join(cwd, '.airlock'))).toBe(false);
  });

  it('exits 2 and lists every problem of an invalid configuration, without a stack trace', async () => {
    const { cwd, env, args } = invalidSetup();
    const result = await runCli(['serve', '--validate-only', ...args], { cwd, env });
    expectEveryProblem(result, cwd);
    expect(existsSync(join(cwd, '.airlock'))).toBe(false);
  });

  it('exits 2 on an unreachable database', async () => {
    const result = await runCli(['serve', '--validate-only', '--database-url', UNREACHABLE], { cwd: tmpDir(), env: FAST });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('  - database: cannot reach the database');
    expectNoStack(result);
  });
});

describe('serve and migrate on an invalid configuration', () => {
  it('refuse to start, exit 2 and list every problem, without a stack trace', async () => {
    for (const command of [['serve'], ['migrate']]) {
      const cwd = tmpDir();
      writeFileSync(join(cwd, 'airlock.yaml'), 'server:\n  host: [127.0.0.1\n');
      const result = await runCli([...command, '--instance-id', '../escape'], { cwd, env: { AIRLOCK_LOG_LEVEL: 'loud' } });
      expect(result.code, command[0]).toBe(2);
      expect(result.stderr).toContain('airlock: invalid configuration:');
      expect(result.stderr).toContain('malformed YAML at line ');
      expect(result.stderr).toContain('  - instanceId: ');
      expect(result.stderr).toContain('(from AIRLOCK_LOG_LEVEL)');
      expect(result.stderr).toContain('[config_invalid]');
      expectNoStack(result);
      expect(existsSync(join(cwd, '.airlock'))).toBe(false);
    }
  });
});

describe('airlock --version and --help', () => {
  it('prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = await runCli([flag], { cwd: tmpDir() });
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it('lists the commands serve, init, config, migrate and audit', async () => {
    const result = await runCli(['--help'], { cwd: tmpDir() });
    expect(result.code).toBe(0);
    for (const command of ['serve', 'init', 'config', 'migrate', 'audit']) {
      expect(result.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    }
  });

  it('lists validate under config', async () => {
    const result = await runCli(['config', '--help'], { cwd: tmpDir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\s+validate\b/m);
  });
});
