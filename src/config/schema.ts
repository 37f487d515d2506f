import { z } from 'zod';
import { LOG_LEVELS, ROLES, WORKSPACE_PROVIDERS } from './choices.js';

export { LOG_LEVELS, ROLES, WORKSPACE_PROVIDERS, type Role } from './choices.js';

/** The environments every installation knows unless it names its own (DESIGN.md section 2). */
export const DEFAULT_ENVIRONMENTS = ['dev', 'test', 'stg', 'prd'] as const;

/** Strings from the environment or flags arrive as text; numbers in YAML arrive as numbers. */
function integer(min: number, max: number) {
  return z.preprocess(
    (value) => (typeof value === 'string' && value.trim() !== '' ? Number(value.trim()) : value),
    z
      .number({ error: 'must be a whole number' })
      .int({ error: 'must be a whole number' })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );
}

/** A number that may have a fraction (CPUs), from text or YAML. */
function decimal(min: number, max: number) {
  return z.preprocess(
    (value) => (typeof value === 'string' && value.trim() !== '' ? Number(value.trim()) : value),
    z
      .number({ error: 'must be a number' })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );
}

/** Booleans from the environment arrive as text: true/false, 1/0, yes/no, on/off. */
function flag() {
  const words: Record<string, boolean> = { true: true, '1': true, yes: true, on: true, false: false, '0': false, no: false, off: false };
  return z.preprocess(
    (value) => (typeof value === 'string' && value.trim().toLowerCase() in words ? words[value.trim().toLowerCase()] : value),
    z.boolean({ error: 'must be true or false' }),
  );
}

/** A browser origin exactly as browsers send it: scheme, host, optional port; no path, no trailing slash. */
const origin = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value && !url.hostname.includes('*');
    } catch {
      return false;
    }
  },
  { error: 'must be an origin such as https://console.example.com (scheme, host and optional port; no path, no trailing slash, no wildcard)' },
);

const redisUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'must be a Redis URL such as redis://127.0.0.1:6379 (or rediss:// for TLS)' },
);

const environmentName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'must be lower-case letters, digits or "-", starting with a letter' });

const instanceId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, { error: 'must be 1-63 letters, digits, "-" or "_", starting with a letter or digit' });

/** A Telegram chat id: a person's private chat (their user id) or a group (negative). */
const chatId = z.string().regex(/^-?\d{1,20}$/, { error: 'must be a Telegram chat id (digits, negative for a group)' });
const username = z
  .string()
  .regex(/^[a-z][a-z0-9._-]{1,62}$/, { error: 'must be an Airlock username (2-63 lower-case letters, digits, ".", "_" or "-")' });

/** Chat id → Airlock username, as a mapping or as text: "12345=alice,67890=bob" (the environment's form). */
const telegramChats = z.preprocess(
  (value) => {
    if (typeof value !== 'string') return value;
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '')
      .map((entry) => {
        const at = entry.indexOf('=');
        return at < 0 ? [entry, ''] : [entry.slice(0, at).trim(), entry.slice(at + 1).trim()];
      });
    return Object.fromEntries(entries);
  },
  z.record(chatId, username, { error: 'must map chat ids to usernames, e.g. {12345: alice} (or "12345=alice,67890=bob")' }),
);

/** Usernames as a list, or as text: "alice,bob" (the environment's form). */
const usernameList = z.preprocess(
  (value) => (typeof value === 'string' ? value.split(',').map((name) => name.trim()).filter((name) => name !== '') : value),
  z.array(username).refine((names) => new Set(names).size === names.length, { error: 'must not name a user twice' }),
);

const targetId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be a target id' });

/** Telegram's secret_token: what it sends back in X-Telegram-Bot-Api-Secret-Token (its own alphabet and length). */
const webhookSecret = z.string().regex(/^[A-Za-z0-9_-]{32,256}$/, { error: 'must be 32-256 letters, digits, "_" or "-"' });

const httpUrl = (example: string) =>
  z.string().refine(
    (value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'http:' || url.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { error: `must be an http(s) URL such as ${example}` },
  );

/** Where the audit chain must live; the reference deployments call this AUDIT_STORAGE. */
export const AUDIT_STORAGE = ['database', 'postgres', 'sqlite'] as const;

const GiB = 1024 * 1024 * 1024;

const WorkspacesSchema = z
  .strictObject({
    /** The folder holding every workspace's files; default `<data>/workspaces`. */
    root: z.string().min(1).optional(),
    /** The provider of workspaces created without naming one. */
    provider: z.enum(WORKSPACE_PROVIDERS).default('directory'),
    defaultQuotaBytes: integer(1024, Number.MAX_SAFE_INTEGER).default(GiB),
    /** The largest quota anyone but an admin may ask for. */
    maxQuotaBytes: integer(1024, Number.MAX_SAFE_INTEGER).default(10 * GiB),
    /** The most bytes one read_file returns. */
    maxReadBytes: integer(1024, 64 * 1024 * 1024).default(1024 * 1024),
    /** A deleted workspace can be restored for this long, then the purge removes it. */
    retentionSeconds: integer(0, 10 * 365 * 86_400).default(7 * 86_400),
    /** How often the purge looks for workspaces past their retention. */
    purgeIntervalSeconds: integer(1, 86_400).default(300),
    /** Folders on this machine git_clone may clone from (besides the caller's other workspaces). */
    cloneRoots: z.array(z.string().regex(/^\//, { error: 'must be an absolute path' })).default([]),
    container: z
      .strictObject({
        /** The container engine (Docker, or Podman's Docker API): a unix socket … */
        socketPath: z.string().min(1).optional(),
        /** … or tcp://host:port. */
        url: z.string().regex(/^(tcp|http):\/\/[^\s/]+:\d+\/?$/, { error: 'must be tcp://host:port' }).optional(),
        image: z.string().min(1).default('docker.io/library/alpine:3'),
        /** What the container runs to stay up; commands are exec'd into it. */
        command: z.array(z.string().min(1)).min(1).default(['sleep', 'infinity']),
        /** The engine network; `none` keeps workspaces off every network. */
        network: z.string().min(1).default('none'),
        cpus: decimal(0.01, 1024).default(1),
        memoryBytes: integer(4 * 1024 * 1024, Number.MAX_SAFE_INTEGER).default(512 * 1024 * 1024),
        pidsLimit: integer(1, 1_000_000).default(256),
        /** The user commands run as in the container (uid:gid); Airlock's own, so both can read and write the files. */
        user: z.string().regex(/^\d+(:\d+)?$/, { error: 'must be uid or uid:gid' }).optional(),
        /** Where the workspace's files appear in the container. */
        mountPath: z.string().regex(/^\/[^\0]*$/, { error: 'must be an absolute path' }).default('/workspace'),
      })
      .prefault({})
      .refine((c) => c.socketPath === undefined || c.url === undefined, { error: 'give either socketPath or url, not both' }),
  })
  .prefault({})
  .superRefine((workspaces, ctx) => {
    if (workspaces.defaultQuotaBytes > workspaces.maxQuotaBytes) ctx.addIssue({ code: 'custom', path: ['defaultQuotaBytes'], message: 'must not exceed maxQuotaBytes' });
    if (workspaces.provider === 'container' && workspaces.container.socketPath === undefined && workspaces.container.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['container', 'socketPath'], message: 'the container provider needs an engine: set workspaces.container.socketPath or url' });
    }
  });

export const ConfigSchema = z.strictObject({
  instanceId: instanceId.optional(),
  /** all: one process does everything; api: identity, approvals, minting (no executors); gateway: verify and execute. */
  role: z.enum(ROLES).default('all'),
  dataDir: z.string().min(1).default('./.airlock'),
  keys: z
    .strictObject({
      /** The key files of the deployment; every instance of one deployment points at the same folder. */
      dir: z.string().min(1).optional(),
    })
    .prefault({}),
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: integer(0, 65535).default(5002),
      /** Honour X-Forwarded-For / -Proto / -Host: only behind a proxy that sets them (client IP, HTTPS). */
      trustProxy: flag().default(false),
    })
    .prefault({}),
  database: z
    .strictObject({
      url: z.string().min(1).optional(),
      poolSize: integer(1, 200).default(10),
      connectTimeoutMs: integer(100, 120_000).default(5000),
    })
    .prefault({}),
  environments: z
    .strictObject({
      known: z.array(environmentName).min(1).default([...DEFAULT_ENVIRONMENTS]),
      allowed: z.array(environmentName).min(1).optional(),
    })
    .prefault({})
    .superRefine((environments, ctx) => {
      for (const [index, name] of (environments.allowed ?? []).entries()) {
        if (!environments.known.includes(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['allowed', index],
            message: `unknown environment "${name}" (known: ${environments.known.join(', ')})`,
          });
        }
      }
    }),
  audit: z
    .strictObject({
      storage: z.enum(AUDIT_STORAGE).default('database'),
      checkpointEvery: integer(1, 10_000_000).default(1000),
      checkpointIntervalSeconds: integer(1, 86_400).default(60),
      keyFile: z.string().min(1).optional(),
      mirrorFile: z.string().min(1).optional(),
    })
    .prefault({}),
  targets: z
    .strictObject({
      /** targets.yaml: the target registry (the built-in `local` target without it); reloaded on SIGHUP and on change. */
      file: z.string().min(1).optional(),
    })
    .prefault({}),
  policy: z
    .strictObject({
      /** policy.yaml: risk rules and per-environment approval settings (built-in defaults without it). */
      file: z.string().min(1).optional(),
    })
    .prefault({}),
  tokens: z
    .strictObject({
      ttlSeconds: integer(10, 3600).default(300),
      issuer: z.string().min(1).max(200).default('airlock'),
      audience: z.string().min(1).max(200).default('airlock-gateway'),
      /** A gateway's trusted keys: the API's /.well-known/jwks.json (refetched for a new kid)… */
      jwksUrl: httpUrl('http://api:5002/.well-known/jwks.json').optional(),
      /** …or a JWKS file (re-read when it changes); without either, the .pub.pem files of the keys folder. */
      jwksFile: z.string().min(1).optional(),
    })
    .prefault({})
    .refine((tokens) => tokens.jwksUrl === undefined || tokens.jwksFile === undefined, { error: 'give either jwksUrl or jwksFile, not both' }),
  gateway: z
    .strictObject({
      timeoutSeconds: integer(1, 86_400).default(60),
      outputCapBytes: integer(1024, 64 * 1024 * 1024).default(1024 * 1024),
      /** A gateway with a segment serves only the targets of that segment (targets.yaml `segment:`). */
      segment: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { error: 'must be 1-64 lower-case letters, digits, ".", "_" or "-"' }).optional(),
      /** Where an API instance sends the executions it starts itself (MCP `execute` and `run`). */
      url: httpUrl('http://gateway:5002').transform((value) => value.replace(/\/+$/, '')).optional(),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** A login session (its cookie and refresh token) lasts this long. */
      sessionHours: integer(1, 720).default(12),
      accessTokenMinutes: integer(1, 60).default(15),
      /** The audience of access tokens: never the gateway's, so an access token can never run anything. */
      audience: z.string().min(1).max(200).default('airlock-api'),
      /** Failed logins in a row before the account locks; each further failure doubles the lock. */
      maxFailedLogins: integer(1, 100).default(5),
      lockoutSeconds: integer(1, 3600).default(30),
      challengeMinutes: integer(1, 1440).default(10),
      /** Encrypts TOTP secrets at rest; without it a random key file in the data directory is used. */
      secretKey: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
      /** The credential of POST /v1/auth/introspect; introspection is off without it. */
      introspectSecret: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
      bootstrapAdmin: z
        .string()
        .regex(/^[a-z][a-z0-9._-]{1,62}$/, { error: 'must be 2-63 lower-case letters, digits, ".", "_" or "-", starting with a letter' })
        .default('admin'),
      /** The first admin's password; refused when weak, generated (and printed once) when absent. */
      bootstrapPassword: z.string().min(1).optional(),
      totpIssuer: z.string().min(1).max(100).default('Airlock'),
    })
    .prefault({}),
  events: z
    .strictObject({
      /** The outbox is read at least this often (commits here and PostgreSQL NOTIFY wake it at once). */
      pollMs: integer(50, 60_000).default(1000),
      /** A webhook or Telegram delivery is dead after this many failed attempts (re-drivable). */
      maxAttempts: integer(1, 100).default(8),
      /** The first retry waits about this long, doubling with jitter up to retryMaxMs. */
      retryBaseMs: integer(10, 3_600_000).default(1000),
      retryMaxMs: integer(10, 86_400_000).default(600_000),
      /** Outbox events and finished deliveries are kept this long (the audit chain keeps everything). */
      retentionDays: integer(1, 3650).default(14),
    })
    .prefault({}),
  telegram: z
    .strictObject({
      /** From @BotFather; Telegram is off without it. */
      botToken: z.string().regex(/^\d+:[A-Za-z0-9_-]{20,}$/, { error: 'must be a bot token from @BotFather (digits, ":", then the secret)' }).optional(),
      /** The Bot API's address: another one for a local Bot API server (or the tests' stand-in). */
      apiRoot: httpUrl('https://api.telegram.org')
        .transform((value) => value.replace(/\/+$/, ''))
        .default('https://api.telegram.org'),
      /** The allowlist: each chat acts as its Airlock user; every other chat gets no answer. */
      chats: telegramChats.default({}),
      /** polling (getUpdates, nothing to expose) or webhook (POST /v1/telegram/webhook). */
      mode: z.enum(['polling', 'webhook']).default('polling'),
      /**
       * What the chats may do besides approvals: off (approvals only), session (approvals; `sys …` commands
       * are refused and audited) or system (typed system operations through the gate, for the system admins only).
       */
      chatops: z.enum(['off', 'session', 'system']).default('off'),
      /** System mode: the users who may use this bot at all (the reference's system_admin_users); everyone else is refused. */
      systemAdmins: usernameList.default([]),
      /** System mode: where `sys …` commands run unless they name `--target` / `--env`. */
      system: z
        .strictObject({
          /** The host target of journal, cron, read, config and info. */
          target: targetId.default('local'),
          /** The container-engine target of `sys docker …`; such commands name `--target` without it. */
          containerTarget: targetId.optional(),
          /** The environment of the requests; without it, the target's only environment. */
          environment: environmentName.optional(),
        })
        .prefault({}),
      /** Commands (sys, sysauth) one person may send per minute; more are refused and audited. */
      commandsPerMinute: integer(1, 600).default(20),
      /** Webhook mode: Telegram must send this in X-Telegram-Bot-Api-Secret-Token. */
      webhookSecret: webhookSecret.optional(),
      /** Webhook mode: the public URL of /v1/telegram/webhook, registered with Telegram at start (else register it yourself). */
      webhookUrl: httpUrl('https://airlock.example.com/v1/telegram/webhook').optional(),
    })
    .prefault({})
    .superRefine((telegram, ctx) => {
      if (telegram.chatops === 'system' && telegram.systemAdmins.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['systemAdmins'], message: 'system mode needs at least one system admin (the usernames that may use this bot)' });
      }
      if (telegram.mode === 'webhook' && telegram.botToken !== undefined && telegram.webhookSecret === undefined) {
        ctx.addIssue({ code: 'custom', path: ['webhookSecret'], message: 'webhook mode needs a secret that Telegram sends back with every update (32+ characters)' });
      }
    }),
  rateLimit: z
    .strictObject({
      enabled: flag().default(true),
      /** Requests per minute per principal (per client IP where there is none) on the API. */
      apiPerMinute: integer(1, 1_000_000).default(200),
      /** Requests per minute per client IP on routes in the `auth` group (login, introspection, TOTP). */
      authPerMinute: integer(1, 1_000_000).default(60),
    })
    .prefault({}),
  redis: z
    .strictObject({
      /** Shares the rate-limit counters between instances; in memory (per process) without it. */
      url: redisUrl.optional(),
      /** Prefix of every key Airlock writes, so deployments (or test runs) sharing one Redis never collide. */
      keyPrefix: z.string().min(1).max(100).default('airlock:rate-limit:'),
    })
    .prefault({}),
  cors: z
    .strictObject({
      /** Browser origins allowed to call the API; empty = CORS off (no Access-Control-* headers at all). */
      origins: z.array(origin).default([]),
    })
    .prefault({}),
  workspaces: WorkspacesSchema,
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS).default('info'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
/** What the layers hand to the schema before validation: any shape, checked by the schema. */
export type RawConfig = Record<string, unknown>;
