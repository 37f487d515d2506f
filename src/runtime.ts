import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { AuditLog, AuditMirror, loadAuditSigner, loadKeyPair, type AuditSigner, type KeyPair } from './audit/index.js';
import { publicKeyFileOf, type ResolvedConfig } from './config/index.js';
import type { Redis } from 'ioredis';
import { Metrics } from './http/metrics.js';
import { connectRedis } from './http/rate-limit.js';
import { Approvals, loadPolicy, type Policy } from './approvals/index.js';
import { Events, Outbox } from './events/index.js';
import { ApiKeys, Challenges, Mfa, SecretBox, Sessions, Users } from './identity/index.js';
import { Gateway } from './gateway/index.js';
import { WebhookChannel, Webhooks } from './notify/webhooks/index.js';
import { Telegram } from './notify/index.js';
import { ExecutorPool, TargetRegistry } from './targets/index.js';
import { Tokens } from './tokens/index.js';
import { migrate, openStore, type Store } from './store/index.js';
import { WorkspaceExecutor, Workspaces } from './workspaces/index.js';

/** Everything a running Airlock holds: built once from the configuration, closed once. */
export interface Runtime {
  readonly config: ResolvedConfig;
  readonly store: Store;
  readonly signer: AuditSigner;
  readonly audit: AuditLog;
  readonly keys: ApiKeys;
  readonly users: Users;
  readonly sessions: Sessions;
  readonly mfa: Mfa;
  readonly challenges: Challenges;
  readonly targets: TargetRegistry;
  readonly policy: Policy;
  readonly events: Events;
  readonly webhooks: Webhooks;
  readonly approvals: Approvals;
  readonly tokens: Tokens;
  readonly gateway: Gateway;
  /** The Telegram bot and delivery channel, when a bot token is configured. */
  readonly telegram: Telegram | undefined;
  readonly workspaces: Workspaces;
  readonly metrics: Metrics;
  /** The shared rate-limit store when redis.url is set; counters live in memory without it. */
  readonly redis: Redis | undefined;
  readonly logger: Logger;
  close(): Promise<void>;
}

/** Creates the data folders (0700); idempotent. */
export function ensureDataDirs(config: ResolvedConfig): void {
  for (const dir of [config.paths.base, config.paths.keysDir, config.paths.stateDir, config.paths.logDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
}

/** The token and receipt signing keys, created on first use (mode 0600) unless `create` is false. */
export function loadSigningKeys(config: ResolvedConfig, create: boolean): { token: KeyPair; receipt: KeyPair } {
  return {
    token: loadKeyPair(config.paths.tokenKeyFile, publicKeyFileOf(config.paths.tokenKeyFile), { create, label: 'token signing' }),
    receipt: loadKeyPair(config.paths.receiptKeyFile, publicKeyFileOf(config.paths.receiptKeyFile), { create, label: 'receipt signing' }),
  };
}

/** Opens the configured store; commands that run one query at a time ask for a small pool. */
export function openConfiguredStore(config: ResolvedConfig, poolSize = config.database.poolSize): Promise<Store> {
  return openStore(config.store, { poolSize, connectTimeoutMs: config.database.connectTimeoutMs });
}

/** Opens the store and brings its schema up to date; closes it again if that fails. */
export async function openMigratedStore(config: ResolvedConfig): Promise<Store> {
  const store = await openConfiguredStore(config);
  try {
    await migrate(store);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

export async function openRuntime(config: ResolvedConfig, logger: Logger): Promise<Runtime> {
  // First: an unreachable Redis refuses the start (rather than leave requests unlimited) before anything is
  // made. It gets the database's connect timeout: one setting for "how long may a store take to answer".
  const redis = config.redis.url ? await connectRedis(config.redis.url, { logger, connectTimeoutMs: config.database.connectTimeoutMs }) : undefined;
  try {
    return await buildRuntime(config, logger, redis);
  } catch (error) {
    redis?.disconnect();
    throw error;
  }
}

async function buildRuntime(config: ResolvedConfig, logger: Logger, redis: Redis | undefined): Promise<Runtime> {
  ensureDataDirs(config);
  const policy = loadPolicy(config.policyFile);
  const signingKeys = loadSigningKeys(config, true);
  const signer = loadAuditSigner(config.paths.auditKeyFile, config.paths.auditPublicKeyFile, { create: !config.audit.keyFile });
  const store = await openMigratedStore(config);
  const metrics = new Metrics();
  const mirror = config.paths.auditMirrorFile ? new AuditMirror(config.paths.auditMirrorFile) : undefined;
  const outbox = new Outbox(store);
  const audit = new AuditLog(store, {
    signer,
    tap: outbox.tap,
    checkpointEvery: config.audit.checkpointEvery,
    ...(mirror ? { mirror } : {}),
    onCommitted: (events) => {
      metrics.auditAppends.inc(events.length);
      metrics.auditHeadSeq.set(events[events.length - 1]?.seq ?? 0);
    },
  });
  const targets = new TargetRegistry(config);
  const workspaces = new Workspaces({
    store,
    audit,
    settings: { ...config.workspaces, dir: config.paths.workspacesDir },
    onError: (message) => logger.warn(message),
  });
  const box = config.auth.secretKey ? SecretBox.fromSecret(config.auth.secretKey) : SecretBox.fromFile(config.paths.secretKeyFile, true);
  const keys = new ApiKeys(store, audit);
  const users = new Users({ store, audit, keys });
  const mfa = new Mfa({ store, audit, box, issuer: config.auth.totpIssuer });
  const challenges = new Challenges({ store, audit, mfa, minutes: config.auth.challengeMinutes });
  const sessions = new Sessions({
    store,
    audit,
    mfa,
    signing: loadKeyPair(config.paths.accessKeyFile, publicKeyFileOf(config.paths.accessKeyFile), { create: true, label: 'access token signing' }),
    settings: { ...config.auth, issuer: config.tokens.issuer },
  });
  const approvals = new Approvals({
    store,
    audit,
    policy,
    targets,
    mfa,
    challenges,
    environments: config.environments.allowed ?? config.environments.known,
    // A workspace target is open only to the workspace's owner and admins.
    targetAccess: async (principal, target) => {
      if (target.executor === 'workspace') await workspaces.assertMayUse(principal, target.workspaceId as string);
    },
  });
  const tokens = new Tokens({
    store,
    audit,
    approvals,
    signing: signingKeys.token,
    publicKeys: [signingKeys.token, signingKeys.receipt],
    settings: config.tokens,
  });
  const gateway = new Gateway({
    store,
    audit,
    tokens,
    targets,
    executors: new ExecutorPool(audit, { workspace: (id) => new WorkspaceExecutor(workspaces, id) }),
    receiptKey: signingKeys.receipt,
    issuer: config.tokens.issuer,
    instanceId: config.instanceId ?? 'default',
  });
  const botToken = config.telegram.botToken;
  const telegram = botToken ? new Telegram({ settings: { ...config.telegram, botToken }, store, audit, approvals, logger }) : undefined;
  const events = new Events(
    outbox,
    store,
    { pollMs: config.events.pollMs, retentionDays: config.events.retentionDays, maxAttempts: config.events.maxAttempts, baseDelayMs: config.events.retryBaseMs, maxDelayMs: config.events.retryMaxMs, leaseMs: 60_000 },
    [new WebhookChannel({ store, box }), ...(telegram ? [telegram.channel] : [])],
    (message) => logger.warn(message),
  );
  const webhooks = new Webhooks({ store, audit, box, dispatcher: events.dispatcher });
  return {
    config,
    store,
    signer,
    audit,
    keys,
    users,
    sessions,
    mfa,
    challenges,
    targets,
    policy,
    events,
    webhooks,
    approvals,
    tokens,
    gateway,
    telegram,
    workspaces,
    metrics,
    redis,
    logger,
    async close() {
      await telegram?.stop();
      await events.stop();
      await workspaces.stop();
      gateway.close();
      mirror?.close();
      redis?.disconnect();
      await store.close();
    },
  };
}
