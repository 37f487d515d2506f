import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { AuditLog, AuditMirror, loadAuditSigner, loadKeyPair, loadPublicKeys, type AuditSigner, type KeyPair } from './audit/index.js';
import { AirlockError } from './errors.js';
import { publicKeyFileOf, type ResolvedConfig } from './config/index.js';
import type { Redis } from 'ioredis';
import { Metrics } from './http/metrics.js';
import { connectRedis } from './http/rate-limit.js';
import { Approvals, PolicyHolder } from './approvals/index.js';
import { Events, Outbox } from './events/index.js';
import { ApiKeys, Challenges, Mfa, SecretBox, Sessions, Users } from './identity/index.js';
import { Gateway, RemoteGateway, type ExecutionService } from './gateway/index.js';
import { WebhookChannel, Webhooks } from './notify/webhooks/index.js';
import { Telegram } from './notify/index.js';
import { ExecutorPool, TargetRegistry } from './targets/index.js';
import { ConfigReloader } from './reload/index.js';
import { configuredKeySet, SigningKeyRing, Tokens, TokenVerifier, type CapabilityVerifier, type PublicKey } from './tokens/index.js';
import { migrate, openStore, type Store } from './store/index.js';
import { WorkspaceExecutor, Workspaces } from './workspaces/index.js';

/** What every role holds: the store, the audit chain and the target registry. */
export interface BaseRuntime {
  readonly config: ResolvedConfig;
  readonly store: Store;
  readonly signer: AuditSigner;
  readonly audit: AuditLog;
  readonly targets: TargetRegistry;
  /** The policy in force; read it with `current()` at each use (a reload replaces it). */
  readonly policy: PolicyHolder;
  /** Reloads targets.yaml and policy.yaml together, all or nothing (SIGHUP, POST /v1/admin/reload, file changes). */
  readonly reloader: ConfigReloader;
  readonly workspaces: Workspaces;
  readonly metrics: Metrics;
  readonly logger: Logger;
  close(): Promise<void>;
}

/** The gateway role: verifies tokens against public keys and executes; no identity, no signing key for tokens. */
export interface GatewayRuntime extends BaseRuntime {
  readonly gateway: Gateway;
  /** Where the trusted token keys come from (a JWKS URL or file, or the keys folder). */
  readonly keySource: string;
  /** The receipt key, published at /.well-known/jwks.json so receipts can be checked. */
  readonly receiptKey: KeyPair;
}

/** Everything the api role (and the single-process `all` role) holds: built once from the configuration, closed once. */
export interface Runtime extends BaseRuntime {
  readonly keys: ApiKeys;
  readonly users: Users;
  readonly sessions: Sessions;
  readonly mfa: Mfa;
  readonly challenges: Challenges;
  readonly events: Events;
  readonly webhooks: Webhooks;
  readonly approvals: Approvals;
  readonly tokens: Tokens;
  /** Runs what MCP tools execute: this process's gateway (role all) or a gateway instance over HTTP (role api). */
  readonly gateway: ExecutionService;
  /** The Telegram bot and delivery channel, when a bot token is configured. */
  readonly telegram: Telegram | undefined;
  /** The shared rate-limit store when redis.url is set; counters live in memory without it. */
  readonly redis: Redis | undefined;
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
    receipt: loadReceiptKey(config, create),
  };
}

function loadReceiptKey(config: ResolvedConfig, create: boolean): KeyPair {
  return loadKeyPair(config.paths.receiptKeyFile, publicKeyFileOf(config.paths.receiptKeyFile), { create, label: 'receipt signing' });
}

/**
 * The receipt key the gateways of this deployment share, when the API's keys folder has it (its public
 * half, or the key itself as a Kubernetes Secret gives it): published so one JWKS checks tokens and
 * receipts alike. The api role never creates one.
 */
function publishedReceiptKey(config: ResolvedConfig): PublicKey[] {
  for (const file of [publicKeyFileOf(config.paths.receiptKeyFile), config.paths.receiptKeyFile]) {
    try {
      return [...loadPublicKeys([file])].map(([keyId, publicKey]) => ({ keyId, publicKey }));
    } catch {
      // not there: try the next, or publish none
    }
  }
  return [];
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

/** The parts every role builds the same way: the store, the audit chain with its outbox, targets and workspaces. */
async function openBase(config: ResolvedConfig, logger: Logger) {
  ensureDataDirs(config);
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
  const policy = new PolicyHolder(config.policyFile);
  const reloader = new ConfigReloader({ targets, policy, audit });
  const workspaces = new Workspaces({
    store,
    audit,
    settings: { ...config.workspaces, dir: config.paths.workspacesDir },
    onError: (message) => logger.warn(message),
  });
  const closeBase = async (): Promise<void> => {
    await workspaces.stop();
    mirror?.close();
    await store.close();
  };
  return { config, store, signer, audit, outbox, targets, policy, reloader, workspaces, metrics, logger, closeBase };
}

type Base = Awaited<ReturnType<typeof openBase>>;

function gatewayOf(base: Base, verifier: CapabilityVerifier, receiptKey: KeyPair): Gateway {
  const { config, store, audit, targets, workspaces } = base;
  return new Gateway({
    store,
    audit,
    verifier,
    targets,
    executors: new ExecutorPool(audit, { workspace: (id) => new WorkspaceExecutor(workspaces, id) }),
    receiptKey,
    issuer: config.tokens.issuer,
    instanceId: config.instanceId ?? 'default',
    ...(config.gateway.segment ? { segment: config.gateway.segment } : {}),
  });
}

/** The gateway role: the store, public keys to verify tokens with, and the executors. Nothing that signs a token or a session. */
export async function openGatewayRuntime(config: ResolvedConfig, logger: Logger): Promise<GatewayRuntime> {
  const { keySet, source } = configuredKeySet(config);
  const receiptKey = loadReceiptKey(config, true);
  const base = await openBase(config, logger);
  const gateway = gatewayOf(base, new TokenVerifier(keySet, config.tokens), receiptKey);
  const { outbox: _outbox, closeBase, ...rest } = base;
  return {
    ...rest,
    gateway,
    keySource: source,
    receiptKey,
    async close() {
      gateway.close();
      await closeBase();
    },
  };
}

export async function openRuntime(config: ResolvedConfig, logger: Logger): Promise<Runtime> {
  if (config.role === 'gateway') throw new AirlockError('config_invalid', 'the gateway role has no API runtime: start it with `airlock serve --role gateway`');
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
  const ring = new SigningKeyRing(config.paths.tokenKeyFile, config.paths.retiredKeysDir, { create: true });
  // The api role never holds the receipt key (the gateway's): it publishes the public half when there is one.
  const receiptKey = config.role === 'all' ? loadReceiptKey(config, true) : undefined;
  const base = await openBase(config, logger);
  const { store, audit, outbox, targets, policy, workspaces, closeBase } = base;
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
    ring,
    otherPublicKeys: receiptKey ? () => [receiptKey] : () => publishedReceiptKey(config),
    settings: config.tokens,
  });
  const gateway: ExecutionService = receiptKey ? gatewayOf(base, tokens, receiptKey) : new RemoteGateway(config.gateway.url);
  const botToken = config.telegram.botToken;
  const telegram = botToken ? new Telegram({ settings: { ...config.telegram, botToken }, store, audit, approvals, logger, system: { challenges, tokens, gateway, targets } }) : undefined;
  const events = new Events(
    outbox,
    store,
    { pollMs: config.events.pollMs, retentionDays: config.events.retentionDays, maxAttempts: config.events.maxAttempts, baseDelayMs: config.events.retryBaseMs, maxDelayMs: config.events.retryMaxMs, leaseMs: 60_000 },
    [new WebhookChannel({ store, box }), ...(telegram?.channel ? [telegram.channel] : [])],
    (message) => logger.warn(message),
  );
  const webhooks = new Webhooks({ store, audit, box, dispatcher: events.dispatcher });
  const { outbox: _outbox, closeBase: _closeBase, ...shared } = base;
  return {
    ...shared,
    keys,
    users,
    sessions,
    mfa,
    challenges,
    events,
    webhooks,
    approvals,
    tokens,
    gateway,
    telegram,
    redis,
    async close() {
      await telegram?.stop();
      await events.stop();
      if (gateway instanceof Gateway) gateway.close();
      redis?.disconnect();
      await closeBase();
    },
  };
}
