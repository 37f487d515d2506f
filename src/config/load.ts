import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { AirlockError } from '../errors.js';
import { parseDatabaseUrl, type DatabaseTarget } from './database-url.js';
import { resolvePaths, type Paths } from './paths.js';
import { ConfigSchema, type Config, type RawConfig } from './schema.js';

/** One environment variable (and its reference-compatible aliases) for one setting. */
interface EnvBinding {
  readonly path: readonly string[];
  readonly names: readonly string[];
  readonly list?: boolean;
}

/** `AIRLOCK_*` names first; later names are the reference systems' names, accepted as aliases. */
export const ENV_BINDINGS: readonly EnvBinding[] = [
  { path: ['instanceId'], names: ['AIRLOCK_INSTANCE_ID'] },
  { path: ['role'], names: ['AIRLOCK_ROLE'] },
  { path: ['keys', 'dir'], names: ['AIRLOCK_KEYS_DIR'] },
  { path: ['dataDir'], names: ['AIRLOCK_DATA_DIR'] },
  { path: ['server', 'host'], names: ['AIRLOCK_HOST'] },
  { path: ['server', 'port'], names: ['AIRLOCK_PORT', 'GATEWAY_PORT'] },
  { path: ['server', 'trustProxy'], names: ['AIRLOCK_TRUST_PROXY'] },
  { path: ['database', 'url'], names: ['AIRLOCK_DATABASE_URL', 'DATABASE_URL'] },
  { path: ['database', 'poolSize'], names: ['AIRLOCK_DATABASE_POOL_SIZE'] },
  { path: ['database', 'connectTimeoutMs'], names: ['AIRLOCK_DATABASE_CONNECT_TIMEOUT_MS'] },
  { path: ['environments', 'known'], names: ['AIRLOCK_ENVIRONMENTS'], list: true },
  { path: ['environments', 'allowed'], names: ['AIRLOCK_ALLOWED_ENVIRONMENTS', 'ALLOWED_ENVIRONMENTS'], list: true },
  { path: ['audit', 'storage'], names: ['AIRLOCK_AUDIT_STORAGE', 'AUDIT_STORAGE'] },
  { path: ['audit', 'checkpointEvery'], names: ['AIRLOCK_AUDIT_CHECKPOINT_EVERY'] },
  { path: ['audit', 'checkpointIntervalSeconds'], names: ['AIRLOCK_AUDIT_CHECKPOINT_SECONDS'] },
  { path: ['audit', 'keyFile'], names: ['AIRLOCK_AUDIT_KEY_FILE'] },
  { path: ['audit', 'mirrorFile'], names: ['AIRLOCK_AUDIT_MIRROR_FILE'] },
  { path: ['policy', 'file'], names: ['AIRLOCK_POLICY_FILE'] },
  { path: ['targets', 'file'], names: ['AIRLOCK_TARGETS_FILE'] },
  { path: ['tokens', 'ttlSeconds'], names: ['AIRLOCK_TOKEN_TTL_SECONDS'] },
  { path: ['tokens', 'issuer'], names: ['AIRLOCK_TOKEN_ISSUER'] },
  { path: ['tokens', 'audience'], names: ['AIRLOCK_TOKEN_AUDIENCE'] },
  { path: ['tokens', 'jwksUrl'], names: ['AIRLOCK_JWKS_URL'] },
  { path: ['tokens', 'jwksFile'], names: ['AIRLOCK_JWKS_FILE'] },
  { path: ['gateway', 'timeoutSeconds'], names: ['AIRLOCK_EXEC_TIMEOUT_SECONDS'] },
  { path: ['gateway', 'outputCapBytes'], names: ['AIRLOCK_OUTPUT_CAP_BYTES'] },
  { path: ['gateway', 'segment'], names: ['AIRLOCK_SEGMENT'] },
  { path: ['gateway', 'url'], names: ['AIRLOCK_GATEWAY_URL'] },
  { path: ['auth', 'sessionHours'], names: ['AIRLOCK_SESSION_HOURS'] },
  { path: ['auth', 'accessTokenMinutes'], names: ['AIRLOCK_ACCESS_TOKEN_MINUTES'] },
  { path: ['auth', 'maxFailedLogins'], names: ['AIRLOCK_MAX_FAILED_LOGINS'] },
  { path: ['auth', 'lockoutSeconds'], names: ['AIRLOCK_LOCKOUT_SECONDS'] },
  { path: ['auth', 'challengeMinutes'], names: ['AIRLOCK_CHALLENGE_MINUTES'] },
  { path: ['auth', 'secretKey'], names: ['AIRLOCK_SECRET_KEY', 'SECRET_KEY'] },
  { path: ['auth', 'introspectSecret'], names: ['AIRLOCK_INTROSPECT_SECRET', 'INTROSPECT_SECRET'] },
  { path: ['auth', 'bootstrapAdmin'], names: ['AIRLOCK_BOOTSTRAP_ADMIN', 'BOOTSTRAP_ADMIN_USERNAME'] },
  { path: ['auth', 'bootstrapPassword'], names: ['AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD', 'BOOTSTRAP_ADMIN_PASSWORD'] },
  { path: ['events', 'pollMs'], names: ['AIRLOCK_EVENTS_POLL_MS'] },
  { path: ['events', 'maxAttempts'], names: ['AIRLOCK_DELIVERY_MAX_ATTEMPTS'] },
  { path: ['events', 'retryBaseMs'], names: ['AIRLOCK_DELIVERY_RETRY_BASE_MS'] },
  { path: ['events', 'retryMaxMs'], names: ['AIRLOCK_DELIVERY_RETRY_MAX_MS'] },
  { path: ['events', 'retentionDays'], names: ['AIRLOCK_EVENTS_RETENTION_DAYS'] },
  { path: ['telegram', 'botToken'], names: ['AIRLOCK_TELEGRAM_BOT_TOKEN', 'TELEGRAM_BOT_TOKEN'] },
  { path: ['telegram', 'apiRoot'], names: ['AIRLOCK_TELEGRAM_API_ROOT'] },
  { path: ['telegram', 'chats'], names: ['AIRLOCK_TELEGRAM_CHATS'] },
  { path: ['telegram', 'mode'], names: ['AIRLOCK_TELEGRAM_MODE'] },
  { path: ['telegram', 'chatops'], names: ['AIRLOCK_TELEGRAM_CHATOPS'] },
  { path: ['telegram', 'systemAdmins'], names: ['AIRLOCK_TELEGRAM_SYSTEM_ADMINS'] },
  { path: ['telegram', 'system', 'target'], names: ['AIRLOCK_TELEGRAM_SYSTEM_TARGET'] },
  { path: ['telegram', 'system', 'containerTarget'], names: ['AIRLOCK_TELEGRAM_SYSTEM_CONTAINER_TARGET'] },
  { path: ['telegram', 'system', 'environment'], names: ['AIRLOCK_TELEGRAM_SYSTEM_ENVIRONMENT'] },
  { path: ['telegram', 'commandsPerMinute'], names: ['AIRLOCK_TELEGRAM_COMMANDS_PER_MINUTE'] },
  { path: ['telegram', 'webhookSecret'], names: ['AIRLOCK_TELEGRAM_WEBHOOK_SECRET'] },
  { path: ['telegram', 'webhookUrl'], names: ['AIRLOCK_TELEGRAM_WEBHOOK_URL'] },
  { path: ['rateLimit', 'enabled'], names: ['AIRLOCK_RATE_LIMIT_ENABLED'] },
  { path: ['rateLimit', 'apiPerMinute'], names: ['AIRLOCK_API_RATE_LIMIT', 'API_RATE_LIMIT'] },
  { path: ['rateLimit', 'authPerMinute'], names: ['AIRLOCK_AUTH_RATE_LIMIT', 'AUTH_RATE_LIMIT'] },
  { path: ['redis', 'url'], names: ['AIRLOCK_REDIS_URL', 'REDIS_URL'] },
  { path: ['redis', 'keyPrefix'], names: ['AIRLOCK_REDIS_KEY_PREFIX'] },
  { path: ['cors', 'origins'], names: ['AIRLOCK_CORS_ORIGINS'], list: true },
  { path: ['workspaces', 'root'], names: ['AIRLOCK_WORKSPACES_ROOT'] },
  { path: ['workspaces', 'provider'], names: ['AIRLOCK_WORKSPACE_PROVIDER'] },
  { path: ['workspaces', 'defaultQuotaBytes'], names: ['AIRLOCK_WORKSPACE_QUOTA_BYTES'] },
  { path: ['workspaces', 'maxQuotaBytes'], names: ['AIRLOCK_WORKSPACE_MAX_QUOTA_BYTES'] },
  { path: ['workspaces', 'maxReadBytes'], names: ['AIRLOCK_WORKSPACE_MAX_READ_BYTES'] },
  { path: ['workspaces', 'retentionSeconds'], names: ['AIRLOCK_WORKSPACE_RETENTION_SECONDS'] },
  { path: ['workspaces', 'purgeIntervalSeconds'], names: ['AIRLOCK_PURGE_INTERVAL_SECONDS', 'PURGE_INTERVAL_SECONDS'] },
  { path: ['workspaces', 'cloneRoots'], names: ['AIRLOCK_WORKSPACE_CLONE_ROOTS'], list: true },
  { path: ['workspaces', 'container', 'socketPath'], names: ['AIRLOCK_WORKSPACE_ENGINE_SOCKET'] },
  { path: ['workspaces', 'container', 'url'], names: ['AIRLOCK_WORKSPACE_ENGINE_URL'] },
  { path: ['workspaces', 'container', 'image'], names: ['AIRLOCK_WORKSPACE_IMAGE', 'WORKSPACE_IMAGE'] },
  { path: ['workspaces', 'container', 'network'], names: ['AIRLOCK_WORKSPACE_NETWORK', 'DOCKER_NETWORK'] },
  { path: ['workspaces', 'container', 'cpus'], names: ['AIRLOCK_WORKSPACE_CPUS'] },
  { path: ['workspaces', 'container', 'memoryBytes'], names: ['AIRLOCK_WORKSPACE_MEMORY_BYTES'] },
  { path: ['workspaces', 'container', 'pidsLimit'], names: ['AIRLOCK_WORKSPACE_PIDS_LIMIT'] },
  { path: ['log', 'level'], names: ['AIRLOCK_LOG_LEVEL'] },
];

export interface LoadOptions {
  /** Settings from command-line flags, already shaped like the config (highest precedence). */
  readonly flags?: RawConfig;
  /** An explicit config file (`--config`); otherwise AIRLOCK_CONFIG, otherwise ./airlock.yaml if present. */
  readonly configFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface ResolvedConfig extends Config {
  readonly configFile: string | undefined;
  /** policy.yaml, resolved against the working directory; built-in rules without it. */
  readonly policyFile: string | undefined;
  /** targets.yaml, resolved against the working directory; the built-in `local` target without it. */
  readonly targetsFile: string | undefined;
  readonly paths: Paths;
  readonly store: DatabaseTarget;
  /** Where each setting came from: a flag, a variable, the file, or the default. */
  readonly sources: Readonly<Record<string, string>>;
}

export type LoadResult = { readonly ok: true; readonly config: ResolvedConfig } | { readonly ok: false; readonly problems: string[] };

/** Loads flags > environment > airlock.yaml > defaults, and reports every problem at once. */
export function loadConfig(options: LoadOptions = {}): LoadResult {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];
  const sources: Record<string, string> = {};

  const explicitFile = options.configFile ?? nonEmpty(env.AIRLOCK_CONFIG);
  const configFile = explicitFile ? resolve(cwd, explicitFile) : existsSync(resolve(cwd, 'airlock.yaml')) ? resolve(cwd, 'airlock.yaml') : undefined;
  const fileLayer = configFile ? readConfigFile(configFile, problems) : {};
  const envLayer = readEnvironment(env);

  const raw: RawConfig = {};
  mergeLayer(raw, fileLayer, configFile ?? '', sources);
  mergeLayer(raw, envLayer.values, '', sources, envLayer.sources);
  mergeLayer(raw, options.flags ?? {}, '', sources, flagSources(options.flags ?? {}));

  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const failed: string[] = [];
    const report = (path: readonly PropertyKey[], message: string): void => {
      const source = sourceOf(sources, path.map(String));
      problems.push(`${path.join('.') || '(root)'}: ${message}${source ? ` (from ${source})` : ''}`);
      // A bad list entry fails the whole list.
      const index = path.findIndex((key) => typeof key === 'number');
      failed.push((index < 0 ? path : path.slice(0, index)).join('.'));
    };
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) report([...issue.path, key], 'unknown setting (see airlock.example.yaml)');
      } else {
        report(issue.path, issue.message);
      }
    }
    // Every problem at once: check the database URL and the paths too, with the failing settings left out.
    const rest = failed.includes('') ? undefined : ConfigSchema.safeParse(without(raw, failed));
    if (rest?.success) resolveAndCheck(rest.data, cwd, sources, problems, failed);
    return { ok: false, problems };
  }
  const config = parsed.data;
  const resolved = resolveAndCheck(config, cwd, sources, problems, []);
  if (problems.length > 0 || !resolved) return { ok: false, problems };
  const { paths, store, policyFile, targetsFile } = resolved;

  for (const key of flatKeys(config)) sources[key] ??= 'default';
  return { ok: true, config: { ...config, configFile, policyFile, targetsFile, paths, store, sources } };
}

/** loadConfig for commands: throws one AirlockError that lists every problem. */
export function requireConfig(options: LoadOptions = {}): ResolvedConfig {
  const result = loadConfig(options);
  if (!result.ok) {
    throw new AirlockError('config_invalid', `invalid configuration:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`, {
      status: 400,
      details: { problems: result.problems },
    });
  }
  return result.config;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function readConfigFile(file: string, problems: string[]): RawConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    problems.push(`config file ${file}: cannot read it (${code})`);
    return {};
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const [first, ...rest] = document.errors;
  if (first) {
    // Later YAML errors are mostly echoes of the first: name it precisely, count the others.
    const where = first.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : '';
    const more = rest.length > 0 ? ` (and ${rest.length} more error${rest.length === 1 ? '' : 's'} after it)` : '';
    const message = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    problems.push(`config file ${file}: malformed YAML${where}: ${message}${more}`);
    return {};
  }
  const value: unknown = document.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`config file ${file}: must be a mapping of settings (see airlock.example.yaml)`);
    return {};
  }
  return value as RawConfig;
}

function readEnvironment(env: NodeJS.ProcessEnv): { values: RawConfig; sources: Record<string, string> } {
  const values: RawConfig = {};
  const sources: Record<string, string> = {};
  for (const binding of ENV_BINDINGS) {
    const name = binding.names.find((candidate) => nonEmpty(env[candidate]) !== undefined);
    if (!name) continue;
    const text = (env[name] as string).trim();
    const value = binding.list ? text.split(',').map((item) => item.trim()).filter((item) => item !== '') : text;
    setPath(values, binding.path, value);
    sources[binding.path.join('.')] = name;
  }
  return { values, sources };
}

const FLAG_NAMES: Record<string, string> = {
  instanceId: '--instance-id',
  role: '--role',
  'keys.dir': '--keys-dir',
  'gateway.segment': '--segment',
  dataDir: '--data-dir',
  'server.host': '--host',
  'server.port': '--port',
  'database.url': '--database-url',
  'environments.allowed': '--allowed-environments',
  'log.level': '--log-level',
};

function flagSources(flags: RawConfig): Record<string, string> {
  return Object.fromEntries(flatKeys(flags).map((key) => [key, FLAG_NAMES[key] ?? `--${key}`]));
}

function mergeLayer(target: RawConfig, layer: RawConfig, label: string, sources: Record<string, string>, perKey?: Record<string, string>): void {
  for (const key of flatKeys(layer)) {
    const path = key.split('.');
    setPath(target, path, getPath(layer, path));
    sources[key] = perKey?.[key] ?? label;
  }
}

/** Dotted keys of the leaves of a plain object (arrays count as leaves). */
function flatKeys(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return prefix ? [prefix] : [];
  return Object.entries(value).flatMap(([key, inner]) => (inner === undefined ? [] : flatKeys(inner, prefix ? `${prefix}.${key}` : key)));
}

function getPath(value: RawConfig, path: readonly string[]): unknown {
  return path.reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as RawConfig)[key] : undefined), value);
}

function setPath(target: RawConfig, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as RawConfig;
  }
  node[path[path.length - 1] as string] = value;
}

function sourceOf(sources: Record<string, string>, path: readonly string[]): string | undefined {
  for (let length = path.length; length > 0; length--) {
    const source = sources[path.slice(0, length).join('.')];
    if (source) return source;
  }
  return undefined;
}

/** Resolves the paths and the store and checks them, skipping every check that reads a setting in `failed`. */
function resolveAndCheck(
  config: Config,
  cwd: string,
  sources: Record<string, string>,
  problems: string[],
  failed: readonly string[],
): { paths: Paths; store: DatabaseTarget; policyFile: string | undefined; targetsFile: string | undefined } | undefined {
  const ok = (...keys: string[]): boolean =>
    !failed.some((bad) => keys.some((key) => bad === key || bad.startsWith(`${key}.`) || key.startsWith(`${bad}.`)));
  const paths = resolvePaths(config, cwd);
  // Without a URL the store is a file in the data directory, so it depends on where that is too.
  const storeOk = config.database.url === undefined ? ok('database.url', 'dataDir', 'instanceId') : ok('database.url');
  const store = storeOk ? parseDatabaseUrl(config.database.url, paths.defaultDatabaseFile, cwd) : undefined;
  if (store && 'error' in store) {
    problems.push(`database.url: ${store.error}${sources['database.url'] ? ` (from ${sources['database.url']})` : ''}`);
    return undefined;
  }
  if (store && ok('audit.storage')) problems.push(...checkStorage(config, store));
  problems.push(...checkFiles(config, paths, store).filter((problem) => ok(problem.slice(0, problem.indexOf(':')))));
  const readable = (setting: string, file: string | undefined): string | undefined => {
    const path = file ? resolve(cwd, file) : undefined;
    if (path) {
      try {
        accessSync(path, constants.R_OK);
      } catch (error) {
        problems.push(`${setting}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    return path;
  };
  const policyFile = readable('policy.file', config.policy.file);
  const targetsFile = readable('targets.file', config.targets.file);
  return store ? { paths, store, policyFile, targetsFile } : undefined;
}

/** A copy of `raw` without the settings at the given dotted paths. */
function without(raw: RawConfig, paths: readonly string[]): RawConfig {
  const copy = structuredClone(raw);
  for (const path of paths) {
    const keys = path.split('.');
    const parent = getPath(copy, keys.slice(0, -1));
    if (parent && typeof parent === 'object') delete (parent as RawConfig)[keys[keys.length - 1] as string];
  }
  return copy;
}

/** AUDIT_STORAGE names where the operator expects the chain; refuse to start if the store says otherwise. */
function checkStorage(config: Config, store: DatabaseTarget): string[] {
  const storage = config.audit.storage;
  if (storage === 'database' || storage === store.dialect) return [];
  return [`audit.storage: "${storage}" but the database is ${store.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}; set database.url to match`];
}

/** Catches unusable paths before anything is created, so the operator hears about them all at once. */
function checkFiles(config: Config, paths: Paths, store: DatabaseTarget | undefined): string[] {
  const problems: string[] = [];
  const dirProblem = writableDirProblem(paths.base);
  if (dirProblem) problems.push(`dataDir: ${dirProblem}`);
  if (store?.dialect === 'sqlite' && store.file !== paths.defaultDatabaseFile) {
    const problem = writableDirProblem(dirname(store.file));
    if (problem) problems.push(`database.url: ${problem}`);
  }
  if (config.audit.keyFile) {
    try {
      accessSync(paths.auditKeyFile, constants.R_OK);
    } catch (error) {
      problems.push(`audit.keyFile: cannot read ${paths.auditKeyFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  // By default workspaces live in the data directory, checked above.
  const workspacesProblem = config.workspaces.root === undefined ? undefined : writableDirProblem(paths.workspacesDir);
  if (workspacesProblem) problems.push(`workspaces.root: ${workspacesProblem}`);
  if (paths.auditMirrorFile) {
    const problem = writableDirProblem(dirname(paths.auditMirrorFile));
    if (problem) problems.push(`audit.mirrorFile: ${problem}`);
  }
  return problems;
}

/** A directory is usable if it is writable, or if it can be created inside its nearest existing parent. */
function writableDirProblem(dir: string): string | undefined {
  let current = dir;
  for (;;) {
    if (existsSync(current)) {
      if (!statSync(current).isDirectory()) return `${current} exists and is not a directory`;
      try {
        accessSync(current, constants.W_OK | constants.X_OK);
        return undefined;
      } catch {
        return current === dir ? `${dir} is not writable` : `cannot create ${dir}: ${current} is not writable`;
      }
    }
    const parent = dirname(current);
    if (parent === current) return `cannot create ${dir}`;
    current = parent;
  }
}
