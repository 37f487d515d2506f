import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { v7 as uuidv7 } from 'uuid';
import type { Runtime } from '../runtime.js';
import { approvalRoutes } from '../approvals/index.js';
import { gatewayRoutes } from '../gateway/index.js';
import { identityRoutes } from '../identity/index.js';
import { registerAuth } from './auth.js';
import { healthRoutes } from './health.js';
import { registerProblemHandlers } from './problem.js';
import { registerRateLimit } from './rate-limit.js';
import { registerSecurity } from './security.js';

/** An incoming request id is kept only if it is short and plain, so it cannot forge log lines. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AppOptions {
  /** Readiness turns off once this returns true (graceful shutdown). */
  readonly isDraining?: () => boolean;
}

/** The HTTP application: used by `airlock serve` and by the tests alike. Every plugin is registered here. */
export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

export function buildApp(runtime: Runtime, options: AppOptions = {}): App {
  const app = Fastify({
    loggerInstance: runtime.logger as FastifyBaseLogger,
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

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerProblemHandlers(app);
  registerSecurity(app, { corsOrigins: runtime.config.cors.origins });
  // Once helmet and CORS are in, so that their headers are set before authentication can refuse a request;
  // the rate limit comes after authentication, which names the principal it counts.
  app.after((error) => {
    if (error) throw error;
    registerAuth(app, { keys: runtime.keys, audit: runtime.audit });
    if (runtime.config.rateLimit.enabled) {
      registerRateLimit(app, {
        apiPerMinute: runtime.config.rateLimit.apiPerMinute,
        authPerMinute: runtime.config.rateLimit.authPerMinute,
        redis: runtime.redis,
        keyPrefix: runtime.config.redis.keyPrefix,
      });
    }
  });
  runtime.metrics.observe(app);

  app.register(healthRoutes, { runtime, isDraining: options.isDraining ?? (() => false) });
  app.register(identityRoutes, { keys: runtime.keys });
  app.register(approvalRoutes, { approvals: runtime.approvals });
  app.register(gatewayRoutes, { gateway: runtime.gateway, tokens: runtime.tokens });
  return app;
}
