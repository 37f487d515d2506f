import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { maskUrl } from '../config/index.js';
import { AirlockError, isAirlockError, messageOf } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The rate-limit bucket of a route. `auth` (login, introspection, TOTP: every `/v1/auth/*` route must
     * declare it) is counted per client IP at `rateLimit.authPerMinute`. Without it a route is in the `api`
     * bucket: per principal at `rateLimit.apiPerMinute` (per client IP where the route has no principal).
     */
    rateLimitGroup?: 'auth';
  }
}

export type RateLimitGroup = 'api' | 'auth';

/** Never limited: probes, metrics and published keys must answer whatever the callers do. */
const EXEMPT_PATHS = new Set(['/health', '/ready', '/metrics']);

/** What the group of a request depends on: its method, path and route config. */
export interface RouteFacts {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  readonly config: { readonly scope?: unknown; readonly rateLimitGroup?: 'auth' | undefined };
}

/** The bucket a request counts against, or undefined if it is not limited. */
export function rateLimitGroupOf(route: RouteFacts): RateLimitGroup | undefined {
  if (EXEMPT_PATHS.has(route.path) || route.path.startsWith('/.well-known/')) return undefined;
  if (route.config.rateLimitGroup === 'auth') return 'auth';
  // A CORS preflight does nothing but answer the allowlist.
  if (route.method === 'OPTIONS' && route.config.scope === undefined) return undefined;
  return 'api';
}

/**
 * The counter a request increments: `auth:ip:<ip>`, `api:principal:<id>` or `api:ip:<ip>`. IPv6 clients
 * are counted per /64, as one host usually holds the whole prefix.
 */
export function rateLimitKeyOf(group: RateLimitGroup, request: { ip: string; principal?: { id: string } | undefined }): string {
  if (group === 'api' && request.principal) return `api:principal:${request.principal.id}`;
  return `${group}:ip:${normalizeIP(request.ip)}`;
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

function groupOfRequest(request: FastifyRequest): RateLimitGroup | undefined {
  return rateLimitGroupOf({ method: request.method, path: pathOf(request.url), config: request.routeOptions.config });
}

export interface RateLimitSettings {
  readonly apiPerMinute: number;
  readonly authPerMinute: number;
  /** A connected client (see connectRedis): counters shared by every instance that uses it. */
  readonly redis?: Redis | undefined;
  /** Prefix of every Redis key (redis.keyPrefix). */
  readonly keyPrefix: string;
}

/**
 * Rate limits (@fastify/rate-limit, in memory or in Redis). The check runs in an onRequest hook added after
 * the auth hook, so the principal is known and a refused request costs no body parsing. A request the auth
 * hook refuses (401/403) stops there and is audited by it, not counted here.
 */
export function registerRateLimit(app: FastifyInstance, settings: RateLimitSettings): void {
  app.register(rateLimit, {
    // Routes are not limited one by one: the hook below picks the bucket of each request.
    global: false,
    timeWindow: 60_000,
    keyGenerator: (request) => rateLimitKeyOf(groupOfRequest(request) ?? 'api', request),
    max: (_request, key) => (key.startsWith('auth:') ? settings.authPerMinute : settings.apiPerMinute),
    // RateLimit-Limit, -Remaining, -Reset (the IETF draft) on every limited answer, Retry-After on 429.
    enableDraftSpec: true,
    // Fail closed: a store that cannot count refuses the request (see the hook below).
    skipOnError: false,
    ...(settings.redis ? { redis: settings.redis, nameSpace: settings.keyPrefix } : {}),
    errorResponseBuilder: (_request, context) =>
      new AirlockError('rate_limited', `too many requests: at most ${context.max} a minute; retry in ${context.after}`, {
        status: 429,
        details: { limit: context.max, retry_after_seconds: Math.ceil(context.ttl / 1000) },
      }),
    // Not an audit event (one per refused request would flood the chain): a warning, without credentials.
    onExceeded: (request, key) => {
      request.log.warn({ rate_limit: { key, route: request.routeOptions.url ?? 'unmatched', method: request.method } }, 'rate limit exceeded');
    },
  });
  app.after((error) => {
    if (error) throw error;
    const limit = app.rateLimit();
    app.addHook('onRequest', async (request, reply) => {
      if (!groupOfRequest(request)) return;
      try {
        await limit.call(app, request, reply);
      } catch (error) {
        if (isAirlockError(error)) throw error;
        throw new AirlockError('store_unavailable', `the rate-limit store cannot count this request: ${messageOf(error)}`, { status: 503, cause: error });
      }
    });
  });
}

/**
 * Connects to Redis for the shared rate-limit counters. An unreachable server at start is a
 * `store_unavailable` error (the process refuses to start rather than run unlimited); later outages are
 * retried in the background while requests that need a count are refused with 503.
 */
export async function connectRedis(url: string, options: { logger: Logger; connectTimeoutMs: number }): Promise<Redis> {
  const description = `Redis ${maskUrl(url)}`;
  let connected = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs,
    // Never queue commands for later: a request is counted now or refused.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // No retries before the first connection (start fails at once); backoff up to 2 s after it.
    retryStrategy: (attempt) => (connected ? Math.min(attempt * 100, 2000) : null),
  });
  let lastError = '';
  redis.on('error', (error: unknown) => {
    const message = messageOf(error);
    if (connected && message !== lastError) options.logger.warn({ store: description, error: message }, 'rate-limit store unreachable');
    lastError = message;
  });
  redis.on('ready', () => {
    if (connected && lastError) options.logger.info({ store: description }, 'rate-limit store reachable again');
    lastError = '';
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new AirlockError('store_unavailable', `cannot reach the rate-limit store (${description}): ${lastError || messageOf(error)}`, { status: 503, cause: error });
  }
  connected = true;
  return redis;
}
