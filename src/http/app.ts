import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import cookie from '@fastify/cookie';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { v7 as uuidv7 } from 'uuid';
import type { BaseRuntime, GatewayRuntime, Runtime } from '../runtime.js';
import { approvalRoutes } from '../approvals/index.js';
import { executeRoutes, executionRoutes, receiptKeyRoutes, tokenRoutes } from '../gateway/index.js';
import { targetRoutes } from '../targets/index.js';
import { reloadRoutes } from '../reload/index.js';
import { authRoutes, identityRoutes } from '../identity/index.js';
import { auditRoutes } from '../audit/routes.js';
import { Incidents, incidentRoutes } from '../incidents/index.js';
import { mcpRoutes } from '../mcp/index.js';
import { eventRoutes } from '../events/index.js';
import { webhookRoutes } from '../notify/webhooks/index.js';
import { telegramRoutes } from '../notify/index.js';
import { workspaceRoutes } from '../workspaces/index.js';
import { consoleApiRoutes, consoleStaticRoutes } from '../console/index.js';
import { registerAuth } from './auth.js';
import { healthRoutes } from './health.js';
import { registerOpenApi } from './openapi.js';
import { registerProblemHandlers } from './problem.js';
import { registerRateLimit } from './rate-limit.js';
import { registerSecurity } from './security.js';

/** An incoming request id is kept only if it is short and plain, so it cannot forge log lines. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  readonly scope: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    readonly routeCatalog: readonly RouteEntry[];
  }
}

/**
 * One log line per request at info: "request completed" carries the request (method, url, client) as
 * well as the status and time, so the "incoming request" line adds nothing there and is written at debug.
 * A request that fails still gets Fastify's "request errored" line at error.
 */
class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) {
      super.requestCompleted(error, request, reply);
      return;
    }
    reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

export interface AppOptions {
  /** Readiness turns off once this returns true (graceful shutdown). */
  readonly isDraining?: () => boolean;
  /** The built web console's folder (default: dist/web). */
  readonly consoleDir?: string;
}

/** The HTTP application: used by `airlock serve` and by the tests alike. Every plugin is registered here. */
export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/** Fastify with what every role serves the same way: request ids, logging, problem+json, security headers, metrics. */
function createApp(runtime: BaseRuntime): App {
  const app = Fastify({
    loggerInstance: runtime.logger as FastifyBaseLogger,
    logController: new RequestLog(),
    requestIdHeader: false,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : uuidv7();
    },
    bodyLimit: 1024 * 1024,
    // Idle keep-alive sockets close at once on shutdown; requests in flight are finished first.
    forceCloseConnections: 'idle',
    // X-Forwarded-For / -Proto count only behind a proxy the operator names (client IP, HTTPS → HSTS).
    trustProxy: runtime.config.server.trustProxy,
  }).withTypeProvider<ZodTypeProvider>();

  // Every route and the scope it requires, as registered: what the access matrix test checks against.
  const catalog: RouteEntry[] = [];
  app.decorate('routeCatalog', catalog);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') catalog.push({ method, url: route.url, scope: route.config?.scope ?? 'public' });
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerProblemHandlers(app);
  registerSecurity(app, { corsOrigins: runtime.config.cors.origins });
  runtime.metrics.observe(app);

  return app;
}

/** The API (and the single-process `all` role): identity, approvals, tokens, MCP, the console, events. */
export function buildApp(runtime: Runtime, options: AppOptions = {}): App {
  const app = createApp(runtime);
  // First, so that the document sees every route registered after it.
  registerOpenApi(app, { role: 'api' });
  app.register(cookie);
  // Once helmet, CORS and cookies are in, so that their headers are set before authentication can refuse
  // a request and the session cookie is parsed before it is read; the rate limit comes after
  // authentication, which names the principal it counts.
  app.after((error) => {
    if (error) throw error;
    registerAuth(app, { keys: runtime.keys, sessions: runtime.sessions, audit: runtime.audit });
    if (runtime.config.rateLimit.enabled) {
      registerRateLimit(app, {
        apiPerMinute: runtime.config.rateLimit.apiPerMinute,
        authPerMinute: runtime.config.rateLimit.authPerMinute,
        redis: runtime.redis,
        keyPrefix: runtime.config.redis.keyPrefix,
      });
    }
  });
  app.register(healthRoutes, { runtime, isDraining: options.isDraining ?? (() => false) });
  app.register(identityRoutes, { keys: runtime.keys, users: runtime.users, mfa: runtime.mfa });
  app.register(authRoutes, { sessions: runtime.sessions, keys: runtime.keys, mfa: runtime.mfa, challenges: runtime.challenges, introspectSecret: runtime.config.auth.introspectSecret });
  app.register(approvalRoutes, {
    approvals: runtime.approvals,
    policy: runtime.policy,
    environments: runtime.config.environments.allowed ?? runtime.config.environments.known,
  });
  app.register(targetRoutes, { targets: runtime.targets });
  app.register(reloadRoutes, { reloader: runtime.reloader });
  app.register(tokenRoutes, { tokens: runtime.tokens });
  app.register(executionRoutes, { store: runtime.store });
  // An API instance executes nothing itself: clients (and its MCP tools) go to a gateway instance.
  if (runtime.config.role === 'all') app.register(executeRoutes, { gateway: runtime.gateway });
  app.register(auditRoutes, { store: runtime.store, audit: runtime.audit, signer: runtime.signer, keysDir: runtime.config.paths.keysDir });
  app.register(incidentRoutes, { incidents: new Incidents({ store: runtime.store, audit: runtime.audit }) });
  app.register(eventRoutes, { outbox: runtime.events.outbox, hub: runtime.events.hub });
  app.register(webhookRoutes, { webhooks: runtime.webhooks });
  const telegram = runtime.telegram;
  if (telegram?.settings.mode === 'webhook') app.register(telegramRoutes, { bot: telegram.bot, secret: telegram.settings.webhookSecret as string, audit: runtime.audit });
  app.register(consoleApiRoutes, { store: runtime.store, approvals: runtime.approvals, targets: runtime.targets, config: runtime.config, routes: () => app.routeCatalog });
  app.register(consoleStaticRoutes, { dir: options.consoleDir });
  app.register(mcpRoutes, {
    deps: { approvals: runtime.approvals, tokens: runtime.tokens, gateway: runtime.gateway, targets: runtime.targets, store: runtime.store, audit: runtime.audit, policy: runtime.policy },
  });
  app.register(workspaceRoutes, { workspaces: runtime.workspaces, audit: runtime.audit });
  return app;
}

/** The gateway role: health, metrics, its receipt key and the execute endpoints; no identity, no console. */
export function buildGatewayApp(runtime: GatewayRuntime, options: AppOptions = {}): App {
  const app = createApp(runtime);
  registerOpenApi(app, { role: 'gateway' });
  app.register(healthRoutes, { runtime, isDraining: options.isDraining ?? (() => false) });
  app.register(receiptKeyRoutes, { receiptKey: runtime.receiptKey });
  app.register(executeRoutes, { gateway: runtime.gateway });
  return app;
}
