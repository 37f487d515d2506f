import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeSettings, loadConfig, type LoadOptions, type ResolvedConfig } from '../../src/config/index.js';
import { tmpDir } from '../helpers/tmp.js';

/** Loads with only the given environment, in a folder of its own. */
function load(options: Omit<LoadOptions, 'cwd'> & { cwd?: string; yaml?: string } = {}) {
  const cwd = options.cwd ?? tmpDir();
  if (options.yaml !== undefined) writeFileSync(join(cwd, 'airlock.yaml'), options.yaml);
  return { cwd, result: loadConfig({ env: {}, ...options, cwd }) };
}

function ok(options: Parameters<typeof load>[0] = {}): ResolvedConfig & { cwd: string } {
  const { cwd, result } = load(options);
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return { ...result.config, cwd };
}

function problems(options: Parameters<typeof load>[0]): string[] {
  const { result } = load(options);
  if (result.ok) throw new Error('expected the configuration to be refused');
  return result.problems;
}

describe('configuration', () => {
  it('works with zero configuration', () => {
    const config = ok();
    expect(config.server).toEqual({ host: '127.0.0.1', port: 5002 });
    expect(config.paths.base).toBe(join(config.cwd, '.airlock'));
    expect(config.store).toEqual({ dialect: 'sqlite', file: join(config.cwd, '.airlock', 'airlock.db') });
    expect(config.environments.known).toEqual(['dev', 'test', 'stg', 'prd']);
    expect(config.configFile).toBeUndefined();
    expect(config.sources['server.port']).toBe('default');
  });

  it('takes flags over environment over airlock.yaml over defaults, and says where each value came from', () => {
    const yaml = 'server:\n  port: 6000\n  host: 0.0.0.0\nlog:\n  level: debug\naudit:\n  checkpointEvery: 50\n';
    const config = ok({ yaml, env: { AIRLOCK_PORT: '7000', AIRLOCK_HOST: '127.0.0.2' }, flags: { server: { port: '8000' } } });
    expect(config.server).toEqual({ host: '127.0.0.2', port: 8000 });
    expect(config.log.level).toBe('debug');
    expect(config.audit.checkpointEvery).toBe(50);
    expect(config.sources).toMatchObject({
      'server.port': '--port',
      'server.host': 'AIRLOCK_HOST',
      'log.level': join(config.cwd, 'airlock.yaml'),
      'audit.checkpointIntervalSeconds': 'default',
    });
  });

  it('finds the file named by AIRLOCK_CONFIG or the configFile option', () => {
    const dir = tmpDir();
    const file = join(dir, 'custom.yaml');
    writeFileSync(file, 'server:\n  port: 6100\n');
    expect(ok({ env: { AIRLOCK_CONFIG: file } }).server.port).toBe(6100);
    expect(ok({ configFile: file }).configFile).toBe(file);
  });

  it('accepts the reference names as aliases, with AIRLOCK_* winning', () => {
    const config = ok({
      env: { DATABASE_URL: 'postgres://wingman:pw@db:5432/wingman_prd', ALLOWED_ENVIRONMENTS: 'prd', AUDIT_STORAGE: 'postgres', GATEWAY_PORT: '5003' },
    });
    expect(config.store).toEqual({ dialect: 'postgres', url: 'postgres://wingman:pw@db:5432/wingman_prd' });
    expect(config.environments.allowed).toEqual(['prd']);
    expect(config.audit.storage).toBe('postgres');
    expect(config.server.port).toBe(5003);
    expect(config.sources['database.url']).toBe('DATABASE_URL');
    const both = ok({ env: { GATEWAY_PORT: '5003', AIRLOCK_PORT: '5004', ALLOWED_ENVIRONMENTS: 'prd', AIRLOCK_ALLOWED_ENVIRONMENTS: 'dev, test' } });
    expect(both.server.port).toBe(5004);
    expect(both.environments.allowed).toEqual(['dev', 'test']);
  });

  it('reads every form of database URL', () => {
    const cwd = tmpDir();
    expect(ok({ cwd, env: { DATABASE_URL: 'sqlite:///./data/manager.db' } }).store).toEqual({ dialect: 'sqlite', file: join(cwd, 'data', 'manager.db') });
    expect(ok({ env: { DATABASE_URL: 'sqlite:////var/tmp/airlock.db' } }).store).toEqual({ dialect: 'sqlite', file: '/var/tmp/airlock.db' });
    expect(ok({ cwd, env: { DATABASE_URL: 'sqlite:rel.db' } }).store).toEqual({ dialect: 'sqlite', file: join(cwd, 'rel.db') });
    expect(ok({ env: { DATABASE_URL: 'postgresql://a@h/db' } }).store.dialect).toBe('postgres');
  });

  it('keeps every path of two instances on one data directory apart', () => {
    const cwd = tmpDir();
    const a = ok({ cwd, flags: { instanceId: 'bot-a', audit: { mirrorFile: 'logs/audit.jsonl' } } });
    const b = ok({ cwd, flags: { instanceId: 'ops-a', audit: { mirrorFile: 'logs/audit.jsonl' } } });
    expect(a.paths.base).toBe(join(cwd, '.airlock', 'instances', 'bot-a'));
    const pathsOfB = new Set(Object.values(b.paths));
    for (const [name, path] of Object.entries(a.paths)) {
      expect(path, name).toBeDefined();
      expect(pathsOfB.has(path), name).toBe(false);
      expect(path?.startsWith(a.paths.base), name).toBe(true);
    }
    expect(a.store).toEqual({ dialect: 'sqlite', file: join(a.paths.base, 'airlock.db') });
  });

  it('prints settings with the database password masked', () => {
    const config = ok({ env: { AIRLOCK_DATABASE_URL: 'postgres://airlock:s3cr3t-pw@db.internal:5432/airlock' } });
    const printed = JSON.stringify(describeSettings(config));
    expect(printed).not.toContain('s3cr3t-pw');
    expect(printed).toContain('postgres://airlock:***@db.internal:5432/airlock');
  });
});

describe('configuration problems', () => {
  it.each([
    ['99999', 'server.port: must be at most 65535 (from AIRLOCK_PORT)'],
    ['-1', 'server.port: must be at least 0 (from AIRLOCK_PORT)'],
    ['abc', 'server.port: must be a whole number (from AIRLOCK_PORT)'],
    ['80.5', 'server.port: must be a whole number (from AIRLOCK_PORT)'],
  ])('names a bad port %s', (port, problem) => {
    expect(problems({ env: { AIRLOCK_PORT: port } })).toEqual([problem]);
  });

  it('names an unknown environment and an invalid environment name', () => {
    expect(problems({ env: { ALLOWED_ENVIRONMENTS: 'prod' } })).toEqual([
      'environments.allowed.0: unknown environment "prod" (known: dev, test, stg, prd) (from ALLOWED_ENVIRONMENTS)',
    ]);
    expect(problems({ env: { AIRLOCK_ENVIRONMENTS: 'dev,Prod Env' } })).toEqual([
      'environments.known.1: must be lower-case letters, digits or "-", starting with a letter (from AIRLOCK_ENVIRONMENTS)',
    ]);
  });

  it('names a config file that cannot be read', () => {
    const dir = tmpDir();
    expect(problems({ configFile: join(dir, 'missing.yaml') })).toEqual([`config file ${join(dir, 'missing.yaml')}: cannot read it (ENOENT)`]);
    mkdirSync(join(dir, 'folder.yaml'));
    expect(problems({ configFile: join(dir, 'folder.yaml') })).toEqual([`config file ${join(dir, 'folder.yaml')}: cannot read it (EISDIR)`]);
  });

  it('names malformed YAML by line and column, a file that is no mapping, and unknown keys', () => {
    const [malformed] = problems({ yaml: 'server:\n  port: 5002\n   host: [unclosed\n' });
    expect(malformed).toMatch(/airlock\.yaml: malformed YAML at line \d+, column \d+: /);
    expect(problems({ yaml: '- a\n- b\n' })[0]).toMatch(/airlock\.yaml: must be a mapping of settings/);
    expect(problems({ yaml: 'server:\n  prot: 5002\n' })[0]).toMatch(/^server\.prot: unknown setting \(see airlock\.example\.yaml\) \(from .*airlock\.yaml\)$/);
  });

  it.each([
    ['mysql://root@localhost/airlock', /"mysql:\/\/root@localhost\/airlock" is not supported: use postgres:\/\/…, postgresql:\/\/… or sqlite:PATH/],
    ['postgres://user:pw@host:5432', /names no database/],
    ['postgres://user:pw@host:5432/db', null],
    ['sqlite:', /names no file/],
    ['sqlite::memory:', /names no file/],
  ])('checks the database URL %s', (url, problem) => {
    const { result } = load({ env: { AIRLOCK_DATABASE_URL: url } });
    if (problem === null) {
      expect(result.ok).toBe(true);
      return;
    }
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatch(/^database\.url: /);
      expect(result.problems[0]).toMatch(problem);
      expect(result.problems[0]).not.toContain(':pw@');
    }
  });

  it('refuses AUDIT_STORAGE=postgres on a SQLite store', () => {
    expect(problems({ env: { AUDIT_STORAGE: 'postgres' } })).toEqual(['audit.storage: "postgres" but the database is SQLite; set database.url to match']);
    expect(problems({ env: { AUDIT_STORAGE: 'mongo' } })[0]).toMatch(/^audit\.storage: .*"database".*(from AUDIT_STORAGE)/);
  });

  it('refuses a data directory that is a file, and a missing explicit audit key', () => {
    const cwd = tmpDir();
    writeFileSync(join(cwd, 'taken'), '');
    expect(problems({ cwd, env: { AIRLOCK_DATA_DIR: 'taken' } })).toEqual([`dataDir: ${join(cwd, 'taken')} exists and is not a directory`]);
    expect(problems({ cwd, env: { AIRLOCK_AUDIT_KEY_FILE: 'nope.pem' } })).toEqual([`audit.keyFile: cannot read ${join(cwd, 'nope.pem')} (ENOENT)`]);
  });

  it('lists every problem from every source at once, not just the first', () => {
    const found = problems({
      yaml: 'server:\n  host: 127.0.0.1\ncolour: blue\n',
      env: { AIRLOCK_PORT: '70000', AIRLOCK_LOG_LEVEL: 'loud' },
      flags: { environments: { allowed: ['prod'] }, instanceId: '../escape' },
    });
    expect(found).toHaveLength(5);
    expect(found.join('\n')).toMatch(/server\.port: must be at most 65535 \(from AIRLOCK_PORT\)/);
    expect(found.join('\n')).toMatch(/log\.level: .* \(from AIRLOCK_LOG_LEVEL\)/);
    expect(found.join('\n')).toMatch(/environments\.allowed\.0: unknown environment "prod"/);
    expect(found.join('\n')).toMatch(/instanceId: must be 1-63 letters/);
    expect(found.join('\n')).toMatch(/colour: unknown setting/);
  });

  it('never throws, whatever the environment holds', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (port, environments, url) => {
        const result = loadConfig({ env: { AIRLOCK_PORT: port, AIRLOCK_ALLOWED_ENVIRONMENTS: environments, AIRLOCK_DATABASE_URL: url }, cwd: tmpDir() });
        if (!result.ok) expect(result.problems.length).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });
});
