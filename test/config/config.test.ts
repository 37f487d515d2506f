import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeSettings, describeStore, loadConfig, type LoadOptions, type Paths, type ResolvedConfig } from '../../src/config/index.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * Every test loads in a fresh folder with an explicit environment, so neither the developer's
 * AIRLOCK_* variables nor an airlock.yaml in the repository can leak in.
 */
interface Load extends Omit<LoadOptions, 'cwd' | 'env'> {
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Written to airlock.yaml in the folder before loading. */
  readonly yaml?: string;
}

function load(options: Load = {}): { cwd: string; result: ReturnType<typeof loadConfig> } {
  const { yaml, ...rest } = options;
  const cwd = rest.cwd ?? tmpDir();
  if (yaml !== undefined) writeFileSync(join(cwd, 'airlock.yaml'), yaml);
  return { cwd, result: loadConfig({ ...rest, env: rest.env ?? {}, cwd }) };
}

function valid(options: Load = {}): { cwd: string; config: ResolvedConfig } {
  const { cwd, result } = load(options);
  if (!result.ok) throw new Error(`expected a valid configuration, got:\n${result.problems.join('\n')}`);
  return { cwd, config: result.config };
}

function problemsOf(options: Load): { cwd: string; problems: string[] } {
  const { cwd, result } = load(options);
  if (result.ok) throw new Error('expected the configuration to be refused');
  return { cwd, problems: result.problems };
}

/** True when `inner` is `outer` or lies inside it. */
function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

describe('zero configuration', () => {
  it('keeps data in ./.airlock under the working folder, a SQLite file inside it, on 127.0.0.1:5002', () => {
    const { cwd, config } = valid();
    expect(config.configFile).toBeUndefined();
    expect(config.dataDir).toBe('./.airlock');
    expect(config.paths.base).toBe(join(cwd, '.airlock'));
    expect(config.server).toEqual({ host: '127.0.0.1', port: 5002, trustProxy: false });
    expect(config.store).toEqual({ dialect: 'sqlite', file: join(cwd, '.airlock', 'airlock.db') });
    expect(config.paths.defaultDatabaseFile).toBe(join(cwd, '.airlock', 'airlock.db'));
    expect(config.environments.known).toEqual(['dev', 'test', 'stg', 'prd']);
    expect(config.environments.allowed).toBeUndefined();
    expect(config.audit.storage).toBe('database');
    expect(config.paths.auditMirrorFile).toBeUndefined();
  });

  it('names every setting as coming from the default', () => {
    const { config } = valid();
    for (const key of ['dataDir', 'server.host', 'server.port', 'environments.known', 'audit.storage', 'log.level']) {
      expect(config.sources[key], key).toBe('default');
    }
  });

  it('creates nothing while loading', () => {
    const { cwd, config } = valid();
    expect(config.paths.base).toBe(join(cwd, '.airlock'));
    expect(existsSync(config.paths.base)).toBe(false);
    expect(existsSync(config.paths.defaultDatabaseFile)).toBe(false);
  });
});

describe('precedence: flags > environment > airlock.yaml > defaults', () => {
  const yaml = ['server:', '  host: 0.0.0.0', '  port: 6000', 'log:', '  level: debug', 'audit:', '  checkpointEvery: 50', ''].join('\n');

  it('takes each value from the highest layer that sets it and names that layer in sources', () => {
    const { cwd, config } = valid({
      yaml,
      env: { AIRLOCK_PORT: '7000', AIRLOCK_LOG_LEVEL: 'warn' },
      flags: { server: { port: '8000' } },
    });
    const file = join(cwd, 'airlock.yaml');
    expect(config.configFile).toBe(file);

    expect(config.server.port).toBe(8000); // flag over env over file
    expect(config.sources['server.port']).toBe('--port');
    expect(config.log.level).toBe('warn'); // env over file
    expect(config.sources['log.level']).toBe('AIRLOCK_LOG_LEVEL');
    expect(config.server.host).toBe('0.0.0.0'); // file over default
    expect(config.sources['server.host']).toBe(file);
    expect(config.audit.checkpointEvery).toBe(50);
    expect(config.sources['audit.checkpointEvery']).toBe(file);
    expect(config.audit.checkpointIntervalSeconds).toBe(60); // default
    expect(config.sources['audit.checkpointIntervalSeconds']).toBe('default');
  });

  it('takes the environment over the file when no flag is given', () => {
    const { config } = valid({ yaml, env: { AIRLOCK_PORT: '7000' } });
    expect(config.server.port).toBe(7000);
    expect(config.sources['server.port']).toBe('AIRLOCK_PORT');
  });

  it('takes the file over the defaults when nothing else is set', () => {
    const { cwd, config } = valid({ yaml });
    expect(config.server.port).toBe(6000);
    expect(config.sources['server.port']).toBe(join(cwd, 'airlock.yaml'));
  });

  it('ignores an empty or blank environment variable', () => {
    const { config } = valid({ yaml, env: { AIRLOCK_PORT: '   ' } });
    expect(config.server.port).toBe(6000);
  });

  it('reads the file named by the configFile option instead of ./airlock.yaml', () => {
    const cwd = tmpDir();
    writeFileSync(join(cwd, 'airlock.yaml'), 'server:\n  port: 6000\n');
    mkdirSync(join(cwd, 'etc'));
    writeFileSync(join(cwd, 'etc', 'other.yaml'), 'server:\n  port: 6100\n');
    const { config } = valid({ cwd, configFile: 'etc/other.yaml' });
    expect(config.configFile).toBe(join(cwd, 'etc', 'other.yaml'));
    expect(config.server.port).toBe(6100);
    expect(config.sources['server.port']).toBe(join(cwd, 'etc', 'other.yaml'));
  });

  it('reads the file named by AIRLOCK_CONFIG, and the configFile option over AIRLOCK_CONFIG', () => {
    const cwd = tmpDir();
    writeFileSync(join(cwd, 'airlock.yaml'), 'server:\n  port: 6000\n');
    writeFileSync(join(cwd, 'from-env.yaml'), 'server:\n  port: 6200\n');
    writeFileSync(join(cwd, 'from-option.yaml'), 'server:\n  port: 6300\n');

    const byEnv = valid({ cwd, env: { AIRLOCK_CONFIG: 'from-env.yaml' } }).config;
    expect(byEnv.configFile).toBe(join(cwd, 'from-env.yaml'));
    expect(byEnv.server.port).toBe(6200);

    const byOption = valid({ cwd, env: { AIRLOCK_CONFIG: 'from-env.yaml' }, configFile: 'from-option.yaml' }).config;
    expect(byOption.configFile).toBe(join(cwd, 'from-option.yaml'));
    expect(byOption.server.port).toBe(6300);
  });

  it('reads list settings from the environment as comma-separated names', () => {
    const { config } = valid({ env: { AIRLOCK_ALLOWED_ENVIRONMENTS: ' stg , prd ,' } });
    expect(config.environments.allowed).toEqual(['stg', 'prd']);
    expect(config.sources['environments.allowed']).toBe('AIRLOCK_ALLOWED_ENVIRONMENTS');
  });
});

describe('reference aliases', () => {
  it('accepts DATABASE_URL', () => {
    const { cwd, config } = valid({ env: { DATABASE_URL: 'sqlite:./ref.db' } });
    expect(config.store).toEqual({ dialect: 'sqlite', file: join(cwd, 'ref.db') });
    expect(config.sources['database.url']).toBe('DATABASE_URL');
  });

  it('accepts ALLOWED_ENVIRONMENTS', () => {
    const { config } = valid({ env: { ALLOWED_ENVIRONMENTS: 'dev,test' } });
    expect(config.environments.allowed).toEqual(['dev', 'test']);
    expect(config.sources['environments.allowed']).toBe('ALLOWED_ENVIRONMENTS');
  });

  it('accepts AUDIT_STORAGE', () => {
    const { config } = valid({ env: { AUDIT_STORAGE: 'sqlite' } });
    expect(config.audit.storage).toBe('sqlite');
    expect(config.sources['audit.storage']).toBe('AUDIT_STORAGE');
  });

  it('accepts GATEWAY_PORT', () => {
    const { config } = valid({ env: { GATEWAY_PORT: '5100' } });
    expect(config.server.port).toBe(5100);
    expect(config.sources['server.port']).toBe('GATEWAY_PORT');
  });

  it('lets the AIRLOCK_* name win over its alias', () => {
    const { cwd, config } = valid({
      env: {
        DATABASE_URL: 'sqlite:./alias.db',
        AIRLOCK_DATABASE_URL: 'sqlite:./airlock.db',
        ALLOWED_ENVIRONMENTS: 'dev',
        AIRLOCK_ALLOWED_ENVIRONMENTS: 'prd',
        AUDIT_STORAGE: 'postgres',
        AIRLOCK_AUDIT_STORAGE: 'sqlite',
        GATEWAY_PORT: '5100',
        AIRLOCK_PORT: '5200',
      },
    });
    expect(config.store).toEqual({ dialect: 'sqlite', file: join(cwd, 'airlock.db') });
    expect(config.sources['database.url']).toBe('AIRLOCK_DATABASE_URL');
    expect(config.environments.allowed).toEqual(['prd']);
    expect(config.sources['environments.allowed']).toBe('AIRLOCK_ALLOWED_ENVIRONMENTS');
    expect(config.audit.storage).toBe('sqlite');
    expect(config.sources['audit.storage']).toBe('AIRLOCK_AUDIT_STORAGE');
    expect(config.server.port).toBe(5200);
    expect(config.sources['server.port']).toBe('AIRLOCK_PORT');
  });
});

describe('database URLs', () => {
  it('reads sqlite:///./x.db as a file relative to the working folder', () => {
    const { cwd, config } = valid({ env: { AIRLOCK_DATABASE_URL: 'sqlite:///./x.db' } });
    expect(config.store).toEqual({ dialect: 'sqlite', file: join(cwd, 'x.db') });
  });

  it('reads sqlite:////abs/x.db as an absolute file', () => {
    const dir = tmpDir();
    const { config } = valid({ env: { AIRLOCK_DATABASE_URL: `sqlite:///${dir}/x.db` } });
    expect(`sqlite:///${dir}/x.db`.startsWith('sqlite:////')).toBe(true);
    expect(config.store).toEqual({ dialect: 'sqlite', file: join(dir, 'x.db') });
  });

  it('reads sqlite:PATH', () => {
    const { cwd, config } = valid({ env: { AIRLOCK_DATABASE_URL: 'sqlite:data/x.db' } });
    expect(config.store).toEqual({ dialect: 'sqlite', file: join(cwd, 'data', 'x.db') });
  });

  it('reads postgres:// and postgresql:// URLs as PostgreSQL, unchanged', () => {
    for (const url of ['postgres://airlock:pw@db.example:5432/airlock', 'postgresql://airlock@db.example/airlock?sslmode=require']) {
      const { config } = valid({ env: { AIRLOCK_DATABASE_URL: url } });
      expect(config.store).toEqual({ dialect: 'postgres', url });
    }
  });

  it('accepts AUDIT_STORAGE=postgres on a PostgreSQL store', () => {
    const { config } = valid({ env: { AUDIT_STORAGE: 'postgres', DATABASE_URL: 'postgres://airlock@db.example/airlock' } });
    expect(config.audit.storage).toBe('postgres');
    expect(config.store.dialect).toBe('postgres');
  });
});

describe('--instance-id', () => {
  const keys: ReadonlyArray<keyof Paths> = [
    'base',
    'keysDir',
    'auditKeyFile',
    'auditPublicKeyFile',
    'retiredKeysDir',
    'tokenKeyFile',
    'receiptKeyFile',
    'accessKeyFile',
    'secretKeyFile',
    'stateDir',
    'logDir',
    'defaultDatabaseFile',
    'auditMirrorFile',
    'workspacesDir',
  ];

  it('gives two instances on one data directory disjoint paths for every file', () => {
    const cwd = tmpDir();
    const env = { AIRLOCK_DATA_DIR: 'shared', AIRLOCK_AUDIT_MIRROR_FILE: 'mirror/audit.jsonl' };
    const a = valid({ cwd, env, flags: { instanceId: 'blue' } }).config;
    const b = valid({ cwd, env, flags: { instanceId: 'green' } }).config;
    expect(a.sources.instanceId).toBe('--instance-id');
    expect(a.paths.base).toBe(join(cwd, 'shared', 'instances', 'blue'));
    expect(b.paths.base).toBe(join(cwd, 'shared', 'instances', 'green'));

    // Every path of Paths is checked: a new one added later must be listed above.
    expect(Object.keys(a.paths).sort()).toEqual([...keys].sort());
    for (const key of keys) {
      const pathA = a.paths[key];
      const pathB = b.paths[key];
      expect(pathA, key).toBeTypeOf('string');
      expect(pathB, key).toBeTypeOf('string');
      expect(pathA, key).not.toBe(pathB);
      expect(within(pathA as string, a.paths.base), `${key} of blue lies in blue's folder`).toBe(true);
      expect(within(pathA as string, b.paths.base), `${key} of blue lies outside green's folder`).toBe(false);
      expect(within(pathB as string, a.paths.base), `${key} of green lies outside blue's folder`).toBe(false);
    }
    expect(a.store).toEqual({ dialect: 'sqlite', file: a.paths.defaultDatabaseFile });
    expect(b.store).toEqual({ dialect: 'sqlite', file: b.paths.defaultDatabaseFile });
  });

  it('shares one keys folder between instances when keys.dir names it', () => {
    const cwd = tmpDir();
    const env = { AIRLOCK_DATA_DIR: 'shared', AIRLOCK_KEYS_DIR: 'keys' };
    const a = valid({ cwd, env, flags: { instanceId: 'api-1' } }).config;
    const b = valid({ cwd, env, flags: { instanceId: 'api-2' } }).config;
    expect(a.sources['keys.dir']).toBe('AIRLOCK_KEYS_DIR');
    for (const key of ['keysDir', 'retiredKeysDir', 'tokenKeyFile', 'receiptKeyFile', 'accessKeyFile', 'secretKeyFile', 'auditKeyFile'] as const) {
      expect(a.paths[key], key).toBe(b.paths[key]);
      expect(within(a.paths[key], join(cwd, 'keys')), key).toBe(true);
    }
    // Everything else stays apart.
    expect(a.paths.stateDir).not.toBe(b.paths.stateDir);
    expect(a.paths.defaultDatabaseFile).not.toBe(b.paths.defaultDatabaseFile);
  });

  it('takes the role, segment, gateway URL and JWKS source from the environment and refuses bad ones', () => {
    const { config } = valid({ env: { AIRLOCK_ROLE: 'gateway', AIRLOCK_SEGMENT: 'production-a', AIRLOCK_JWKS_URL: 'http://api:5002/.well-known/jwks.json', AIRLOCK_GATEWAY_URL: 'http://gw:5002/' } });
    expect(config.role).toBe('gateway');
    expect(config.gateway.segment).toBe('production-a');
    expect(config.gateway.url).toBe('http://gw:5002');
    expect(config.tokens.jwksUrl).toBe('http://api:5002/.well-known/jwks.json');
    const { problems } = problemsOf({ env: { AIRLOCK_ROLE: 'worker', AIRLOCK_SEGMENT: 'Prod A', AIRLOCK_JWKS_URL: 'ftp://x' } });
    const text = problems.join('\n');
    expect(text).toMatch(/^role.*AIRLOCK_ROLE/m);
    expect(text).toMatch(/^gateway\.segment.*AIRLOCK_SEGMENT/m);
    expect(text).toMatch(/^tokens\.jwksUrl.*AIRLOCK_JWKS_URL/m);
    expect(problemsOf({ env: { AIRLOCK_JWKS_URL: 'http://api/jwks', AIRLOCK_JWKS_FILE: 'jwks.json' } }).problems.join('\n')).toMatch(/either jwksUrl or jwksFile/);
  });

  it('takes the instance id from AIRLOCK_INSTANCE_ID too', () => {
    const { cwd, config } = valid({ env: { AIRLOCK_INSTANCE_ID: 'canary' } });
    expect(config.paths.base).toBe(join(cwd, '.airlock', 'instances', 'canary'));
    expect(config.sources.instanceId).toBe('AIRLOCK_INSTANCE_ID');
  });

  it('refuses an instance id that would climb out of the data directory', () => {
    const { problems } = problemsOf({ flags: { instanceId: '../other' } });
    expect(problems).toEqual(['instanceId: must be 1-63 letters, digits, "-" or "_", starting with a letter or digit (from --instance-id)']);
  });
});

describe('bad input: each problem names the setting and its source', () => {
  it('refuses port 99999', () => {
    const { problems } = problemsOf({ env: { AIRLOCK_PORT: '99999' } });
    expect(problems).toEqual(['server.port: must be at most 65535 (from AIRLOCK_PORT)']);
  });

  it('refuses port "abc"', () => {
    const { problems } = problemsOf({ env: { AIRLOCK_PORT: 'abc' } });
    expect(problems).toEqual(['server.port: must be a whole number (from AIRLOCK_PORT)']);
  });

  it('refuses port -1', () => {
    const { problems } = problemsOf({ flags: { server: { port: '-1' } } });
    expect(problems).toEqual(['server.port: must be at least 0 (from --port)']);
  });

  it('refuses a fractional port from the file', () => {
    const { cwd, problems } = problemsOf({ yaml: 'server:\n  port: 80.5\n' });
    expect(problems).toEqual([`server.port: must be a whole number (from ${join(cwd, 'airlock.yaml')})`]);
  });

  it('refuses an unknown environment in ALLOWED_ENVIRONMENTS', () => {
    const { problems } = problemsOf({ env: { ALLOWED_ENVIRONMENTS: 'dev,prod' } });
    expect(problems).toEqual(['environments.allowed.1: unknown environment "prod" (known: dev, test, stg, prd) (from ALLOWED_ENVIRONMENTS)']);
  });

  it('checks allowed environments against the environments the installation names', () => {
    expect(valid({ env: { AIRLOCK_ENVIRONMENTS: 'dev,prod', ALLOWED_ENVIRONMENTS: 'prod' } }).config.environments.allowed).toEqual(['prod']);
    const { problems } = problemsOf({ env: { AIRLOCK_ENVIRONMENTS: 'dev,prod', ALLOWED_ENVIRONMENTS: 'prd' } });
    expect(problems).toEqual(['environments.allowed.0: unknown environment "prd" (known: dev, prod) (from ALLOWED_ENVIRONMENTS)']);
  });

  it('refuses an environment name with invalid syntax', () => {
    const { problems } = problemsOf({ env: { AIRLOCK_ENVIRONMENTS: 'dev,Prod_1' } });
    expect(problems).toEqual(['environments.known.1: must be lower-case letters, digits or "-", starting with a letter (from AIRLOCK_ENVIRONMENTS)']);
  });

  it('refuses a config file that does not exist (ENOENT)', () => {
    const cwd = tmpDir();
    const { problems } = problemsOf({ cwd, configFile: 'missing.yaml' });
    expect(problems).toEqual([`config file ${join(cwd, 'missing.yaml')}: cannot read it (ENOENT)`]);
  });

  it('refuses a config file named by AIRLOCK_CONFIG that does not exist', () => {
    const cwd = tmpDir();
    const { problems } = problemsOf({ cwd, env: { AIRLOCK_CONFIG: 'nope.yaml' } });
    expect(problems).toEqual([`config file ${join(cwd, 'nope.yaml')}: cannot read it (ENOENT)`]);
  });

  it('refuses a config file that is a directory (EISDIR)', () => {
    const cwd = tmpDir();
    mkdirSync(join(cwd, 'conf.d'));
    const { problems } = problemsOf({ cwd, configFile: 'conf.d' });
    expect(problems).toEqual([`config file ${join(cwd, 'conf.d')}: cannot read it (EISDIR)`]);
  });

  it('refuses malformed YAML, naming the line and column', () => {
    const { cwd, problems } = problemsOf({ yaml: 'server:\n  port: 6000\n  host: [127.0.0.1\n' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^config file ${escape(join(cwd, 'airlock.yaml'))}: malformed YAML at line \\d+, column \\d+: \\S`));
  });

  it('names the exact line and column of a YAML error', () => {
    const { cwd, problems } = problemsOf({ yaml: 'server:\n  port: 6000\n  port: 6001\n' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^config file ${escape(join(cwd, 'airlock.yaml'))}: malformed YAML at line 3, column 3: .*unique`, 'i'));
  });

  it('refuses a YAML file that is a list, not a mapping', () => {
    const { cwd, problems } = problemsOf({ yaml: '- server\n- port\n' });
    expect(problems).toEqual([`config file ${join(cwd, 'airlock.yaml')}: must be a mapping of settings (see airlock.example.yaml)`]);
  });

  it('accepts an empty YAML file as no settings', () => {
    const { cwd, config } = valid({ yaml: '# nothing yet\n' });
    expect(config.configFile).toBe(join(cwd, 'airlock.yaml'));
    expect(config.server.port).toBe(5002);
  });

  it('refuses an unknown key in the YAML, at the top level and inside a section', () => {
    const { cwd, problems } = problemsOf({ yaml: 'prot: 5003\nserver:\n  prot: 5003\n' });
    const file = join(cwd, 'airlock.yaml');
    expect(problems).toHaveLength(2);
    expect(problems).toContain(`prot: unknown setting (see airlock.example.yaml) (from ${file})`);
    expect(problems).toContain(`server.prot: unknown setting (see airlock.example.yaml) (from ${file})`);
  });

  it('refuses a mysql:// database URL', () => {
    const { problems } = problemsOf({ env: { DATABASE_URL: 'mysql://airlock@db.example/airlock' } });
    expect(problems).toEqual([
      'database.url: "mysql://airlock@db.example/airlock" is not supported: use postgres://…, postgresql://… or sqlite:PATH (from DATABASE_URL)',
    ]);
  });

  it('refuses a PostgreSQL URL that names no database', () => {
    const { problems } = problemsOf({ env: { AIRLOCK_DATABASE_URL: 'postgres://airlock@db.example' } });
    expect(problems).toEqual([
      'database.url: "postgres://airlock@db.example" names no database (postgres://user:password@host:5432/database) (from AIRLOCK_DATABASE_URL)',
    ]);
  });

  it('refuses a bare "postgres://"', () => {
    const { problems } = problemsOf({ env: { AIRLOCK_DATABASE_URL: 'postgres://' } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^database\.url: "postgres:\/\/" names no (host|database) .*\(from AIRLOCK_DATABASE_URL\)$/);
  });

  it('refuses sqlite: with no file, and an in-memory SQLite database', () => {
    for (const url of ['sqlite:', 'sqlite:///', 'sqlite::memory:']) {
      const { problems } = problemsOf({ flags: { database: { url } } });
      expect(problems, url).toEqual([`database.url: "${url}" names no file; the audit chain must outlive the process (sqlite:./airlock.db) (from --database-url)`]);
    }
  });

  it('does not print the password of a refused PostgreSQL URL', () => {
    const { problems } = problemsOf({ env: { DATABASE_URL: 'postgres://airlock:Sup3r-Secret@db.example' } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('names no database');
    expect(problems.join('\n')).not.toContain('Sup3r-Secret');
  });

  it('refuses AUDIT_STORAGE=postgres while the database is SQLite', () => {
    const { problems } = problemsOf({ env: { AUDIT_STORAGE: 'postgres' } });
    expect(problems).toEqual(['audit.storage: "postgres" but the database is SQLite; set database.url to match']);
  });

  it('refuses an AUDIT_STORAGE it does not know', () => {
    const { problems } = problemsOf({ env: { AUDIT_STORAGE: 'mongo' } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^audit\.storage: .*"database".*"postgres".*"sqlite".* \(from AUDIT_STORAGE\)$/);
  });

  it('refuses a data directory that is an existing regular file', () => {
    const cwd = tmpDir();
    writeFileSync(join(cwd, 'data'), 'not a folder');
    const { problems } = problemsOf({ cwd, env: { AIRLOCK_DATA_DIR: 'data' } });
    expect(problems).toEqual([`dataDir: ${join(cwd, 'data')} exists and is not a directory`]);
  });

  it('refuses a data directory below an existing regular file', () => {
    const cwd = tmpDir();
    writeFileSync(join(cwd, 'data'), 'not a folder');
    const { problems } = problemsOf({ cwd, flags: { dataDir: 'data/airlock' } });
    expect(problems).toEqual([`dataDir: ${join(cwd, 'data')} exists and is not a directory`]);
  });

  it('refuses an explicit audit key file that does not exist', () => {
    const cwd = tmpDir();
    const { problems } = problemsOf({ cwd, env: { AIRLOCK_AUDIT_KEY_FILE: 'keys/missing.pem' } });
    expect(problems).toEqual([`audit.keyFile: cannot read ${join(cwd, 'keys', 'missing.pem')} (ENOENT)`]);
  });
});

describe('every problem at once', () => {
  it('lists problems from the environment, the flags and the file together', () => {
    const { cwd, problems } = problemsOf({
      env: { AIRLOCK_PORT: '99999' },
      flags: { environments: { allowed: ['prod'] } },
      yaml: 'log:\n  level: info\n  colour: true\n',
    });
    const file = join(cwd, 'airlock.yaml');
    expect(problems).toHaveLength(3);
    expect(problems).toContain('server.port: must be at most 65535 (from AIRLOCK_PORT)');
    expect(problems).toContain('environments.allowed.0: unknown environment "prod" (known: dev, test, stg, prd) (from --allowed-environments)');
    expect(problems).toContain(`log.colour: unknown setting (see airlock.example.yaml) (from ${file})`);
  });

  it('lists a malformed file together with problems from the environment and the flags', () => {
    const { cwd, problems } = problemsOf({
      env: { AIRLOCK_PORT: 'abc', AIRLOCK_LOG_LEVEL: 'loud' },
      flags: { environments: { allowed: ['prod'] } },
      yaml: 'server: [\n',
    });
    expect(problems).toHaveLength(4);
    expect(problems.filter((p) => p.startsWith(`config file ${join(cwd, 'airlock.yaml')}: malformed YAML at line `))).toHaveLength(1);
    expect(problems).toContain('server.port: must be a whole number (from AIRLOCK_PORT)');
    expect(problems.filter((p) => p.startsWith('log.level: ') && p.endsWith('(from AIRLOCK_LOG_LEVEL)'))).toHaveLength(1);
    expect(problems).toContain('environments.allowed.0: unknown environment "prod" (known: dev, test, stg, prd) (from --allowed-environments)');
  });

  it('lists database, storage and path problems alongside problems with other settings', () => {
    const cwd = tmpDir();
    writeFileSync(join(cwd, 'data'), 'not a folder');
    const bad = problemsOf({ cwd, env: { AIRLOCK_PORT: '99999', AIRLOCK_DATA_DIR: 'data', DATABASE_URL: 'mysql://db.example/airlock' } }).problems;
    expect(bad).toContain('server.port: must be at most 65535 (from AIRLOCK_PORT)');
    expect(bad).toContain('database.url: "mysql://db.example/airlock" is not supported: use postgres://…, postgresql://… or sqlite:PATH (from DATABASE_URL)');

    const storage = problemsOf({ cwd, env: { AIRLOCK_PORT: 'abc', AIRLOCK_DATA_DIR: 'data', AUDIT_STORAGE: 'postgres' } }).problems;
    expect(storage).toEqual([
      'server.port: must be a whole number (from AIRLOCK_PORT)',
      'audit.storage: "postgres" but the database is SQLite; set database.url to match',
      `dataDir: ${join(cwd, 'data')} exists and is not a directory`,
    ]);
  });

  it('does not report follow-on problems of a setting it already refused', () => {
    // The URL is refused, so the store is unknown: "the database is SQLite" would be a guess.
    const { cwd, problems } = problemsOf({ yaml: 'database:\n  url: 5432\n', env: { AUDIT_STORAGE: 'postgres' } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^database\\.url: .*\\(from ${escape(join(cwd, 'airlock.yaml'))}\\)$`));
  });
});

describe('robustness', () => {
  it('never throws for arbitrary AIRLOCK_PORT and AIRLOCK_ALLOWED_ENVIRONMENTS: it succeeds or lists problems', () => {
    const cwd = tmpDir();
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.stringMatching(/^-?\d{1,6}$/), fc.constantFrom('dev', 'prd,stg', 'prod', ' , ', '0x10'));
    fc.assert(
      fc.property(text, text, (port, allowed) => {
        const result = loadConfig({ env: { AIRLOCK_PORT: port, AIRLOCK_ALLOWED_ENVIRONMENTS: allowed }, cwd });
        if (result.ok) {
          const { server, environments } = result.config;
          expect(Number.isInteger(server.port) && server.port >= 0 && server.port <= 65535).toBe(true);
          for (const name of environments.allowed ?? []) expect(environments.known).toContain(name);
        } else {
          expect(result.problems.length).toBeGreaterThan(0);
          for (const problem of result.problems) expect(problem).toMatch(/^(server\.port|environments\.allowed(\.\d+)?): /);
        }
      }),
    );
  });
});

describe('describeSettings', () => {
  it('masks the password of a PostgreSQL URL', () => {
    const password = 'pA55-w0rd-never-printed';
    const { config } = valid({ env: { DATABASE_URL: `postgres://airlock:${password}@db.example:5432/airlock` } });
    const lines = describeSettings(config);
    const url = lines.find((line) => line.key === 'database.url');
    expect(url).toEqual({ key: 'database.url', value: 'postgres://airlock:***@db.example:5432/airlock', source: 'DATABASE_URL' });
    expect(JSON.stringify(lines)).not.toContain(password);
    expect(describeStore(config)).toBe('PostgreSQL postgres://airlock:***@db.example:5432/airlock');
  });

  it('masks a password holding URL-escaped characters', () => {
    const password = 'p%40ss%3Aw0rd';
    const { config } = valid({ env: { AIRLOCK_DATABASE_URL: `postgresql://airlock:${password}@db.example/airlock` } });
    const text = JSON.stringify(describeSettings(config)) + describeStore(config);
    expect(text).not.toContain(password);
    expect(text).not.toContain('w0rd');
    expect(text).toContain('airlock:***@db.example');
  });

  it('lists each setting with its value and source', () => {
    const { config } = valid({ env: { AIRLOCK_PORT: '6001' } });
    const lines = describeSettings(config);
    expect(lines).toContainEqual({ key: 'server.port', value: 6001, source: 'AIRLOCK_PORT' });
    expect(lines).toContainEqual({ key: 'server.host', value: '127.0.0.1', source: 'default' });
    expect(lines).toContainEqual({ key: 'environments.known', value: ['dev', 'test', 'stg', 'prd'], source: 'default' });
  });
});

describe('telegram', () => {
  const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';

  it('is off without a bot token, polling api.telegram.org with an empty allowlist, approvals only', () => {
    const { config } = valid();
    expect(config.telegram).toEqual({ apiRoot: 'https://api.telegram.org', chats: {}, mode: 'polling', chatops: 'off', systemAdmins: [], system: { target: 'local' }, commandsPerMinute: 20 });
  });

  it('reads a system-mode bot from the environment and refuses one without system admins', () => {
    const { config } = valid({
      env: { AIRLOCK_TELEGRAM_CHATOPS: 'system', AIRLOCK_TELEGRAM_SYSTEM_ADMINS: 'dana, erin', AIRLOCK_TELEGRAM_SYSTEM_TARGET: 'web-1', AIRLOCK_TELEGRAM_SYSTEM_ENVIRONMENT: 'prd', AIRLOCK_TELEGRAM_COMMANDS_PER_MINUTE: '5' },
    });
    expect(config.telegram).toMatchObject({ chatops: 'system', systemAdmins: ['dana', 'erin'], system: { target: 'web-1', environment: 'prd' }, commandsPerMinute: 5 });
    expect(problemsOf({ env: { AIRLOCK_TELEGRAM_CHATOPS: 'system' } }).problems).toEqual([expect.stringContaining('telegram.systemAdmins: system mode needs at least one system admin')]);
    expect(problemsOf({ env: { AIRLOCK_TELEGRAM_CHATOPS: 'system', AIRLOCK_TELEGRAM_SYSTEM_ADMINS: 'dana,dana' } }).problems).toEqual([expect.stringContaining('must not name a user twice')]);
  });

  it('reads the token (AIRLOCK_ name or the TELEGRAM_BOT_TOKEN alias), the API root and the chats in their environment form', () => {
    const { config } = valid({ env: { TELEGRAM_BOT_TOKEN: token, AIRLOCK_TELEGRAM_API_ROOT: 'http://127.0.0.1:8081/', AIRLOCK_TELEGRAM_CHATS: '12345=alice, -100200300=bob' } });
    expect(config.telegram.botToken).toBe(token);
    expect(config.telegram.apiRoot).toBe('http://127.0.0.1:8081');
    expect(config.telegram.chats).toEqual({ '12345': 'alice', '-100200300': 'bob' });
    expect(config.sources['telegram.botToken']).toBe('TELEGRAM_BOT_TOKEN');
    expect(valid({ env: { AIRLOCK_TELEGRAM_BOT_TOKEN: token, TELEGRAM_BOT_TOKEN: '1:other' } }).config.telegram.botToken).toBe(token);
  });

  it('reads the chats as a mapping from airlock.yaml', () => {
    const { config } = valid({ yaml: ['telegram:', '  chats:', '    12345: alice', '    -100200300: bob', ''].join('\n') });
    expect(config.telegram.chats).toEqual({ '12345': 'alice', '-100200300': 'bob' });
    expect(describeSettings(config)).toContainEqual({ key: 'telegram.chats', value: { '12345': 'alice', '-100200300': 'bob' }, source: config.configFile });
  });

  it('masks the bot token and the webhook secret, and shows the chats as one setting', () => {
    const secret = 'w'.repeat(40);
    const { config } = valid({ env: { AIRLOCK_TELEGRAM_BOT_TOKEN: token, AIRLOCK_TELEGRAM_MODE: 'webhook', AIRLOCK_TELEGRAM_WEBHOOK_SECRET: secret, AIRLOCK_TELEGRAM_CHATS: '12345=alice' } });
    const lines = describeSettings(config);
    expect(lines).toContainEqual({ key: 'telegram.botToken', value: '(set, hidden)', source: 'AIRLOCK_TELEGRAM_BOT_TOKEN' });
    expect(lines).toContainEqual({ key: 'telegram.webhookSecret', value: '(set, hidden)', source: 'AIRLOCK_TELEGRAM_WEBHOOK_SECRET' });
    expect(lines).toContainEqual({ key: 'telegram.chats', value: { '12345': 'alice' }, source: 'AIRLOCK_TELEGRAM_CHATS' });
    expect(JSON.stringify(lines)).not.toContain('AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw');
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  it('refuses a chat id that is not a number, an entry without a username, and a malformed token, naming each', () => {
    const { problems } = problemsOf({ env: { AIRLOCK_TELEGRAM_CHATS: 'alice=12345,67890', AIRLOCK_TELEGRAM_BOT_TOKEN: 'not-a-token' } });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^telegram\.chats.*chat id.*AIRLOCK_TELEGRAM_CHATS/),
        expect.stringMatching(/^telegram\.chats\.67890: .*username.*AIRLOCK_TELEGRAM_CHATS/),
        expect.stringMatching(/^telegram\.botToken: .*bot token.*AIRLOCK_TELEGRAM_BOT_TOKEN/),
      ]),
    );
  });

  it('reads the bot mode from AIRLOCK_TELEGRAM_CHATOPS (off unless set) and refuses one it does not know', () => {
    expect(valid({ env: {} }).config.telegram.chatops).toBe('off');
    expect(valid({ env: { AIRLOCK_TELEGRAM_CHATOPS: 'session' } }).config.telegram.chatops).toBe('session');
    const { problems } = problemsOf({ env: { AIRLOCK_TELEGRAM_CHATOPS: 'everything' } });
    expect(problems).toEqual([expect.stringMatching(/^telegram\.chatops: .*AIRLOCK_TELEGRAM_CHATOPS/)]);
  });

  it('refuses webhook mode without a webhook secret', () => {
    const { problems } = problemsOf({ env: { AIRLOCK_TELEGRAM_BOT_TOKEN: token, AIRLOCK_TELEGRAM_MODE: 'webhook' } });
    expect(problems).toEqual([expect.stringMatching(/^telegram\.webhookSecret: webhook mode needs a secret/)]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
