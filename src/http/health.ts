import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { readHead } from '../audit/index.js';
import { ROLES } from '../config/index.js';
import { messageOf } from '../errors.js';
import type { BaseRuntime } from '../runtime.js';
import type { Telegram } from '../notify/index.js';
import { VERSION } from '../version.js';

/** The service name the reference Wingman gateway reports; kept so existing health checks match. */
export const SERVICE_NAME = 'execution-gateway';
const CHECK_TIMEOUT_MS = 2000;

/** `degraded`: a part the gate works without (Telegram) is failing; the gate itself stays healthy. */
type Check = { status: 'healthy' | 'degraded' | 'unhealthy' | 'unknown'; [detail: string]: unknown };

const CHECK_STATUSES = ['healthy', 'degraded', 'unhealthy', 'unknown'] as const;

/** GET /health, for the API document: the reference gateway's body plus checks. */
const HealthAnswer = z.object({
  status: z.enum(['healthy', 'unhealthy']),
  service: z.literal(SERVICE_NAME),
  timestamp: z.iso.datetime(),
  version: z.string(),
  role: z.enum(ROLES),
  segment: z.string().optional(),
  instance: z.string().optional(),
  checks: z.record(z.string(), z.looseObject({ status: z.enum(CHECK_STATUSES) })).describe('database, audit, workspaces, version, telegram (when configured)'),
});
const ReadyAnswer = z.object({ ready: z.boolean(), reason: z.string().optional() });

const HEALTH_DOCS = {
  responses: {
    '200': { description: 'Healthy (a degraded part the gate works without, such as Telegram, still counts)', schema: HealthAnswer },
    '503': { description: 'Unhealthy: the store or another check failed', schema: HealthAnswer },
  },
};
const READY_DOCS = { responses: { '200': { description: 'Ready for traffic', schema: ReadyAnswer }, '503': { description: 'Shutting down, or the store is unreachable', schema: ReadyAnswer } } };
const METRICS_DOCS = { responses: { '200': { description: 'Prometheus text exposition', contentType: 'text/plain' } } };

/** Liveness, readiness and metrics. `isDraining` turns readiness off while the server shuts down. */
export async function healthRoutes(app: FastifyInstance, options: { runtime: BaseRuntime & { readonly telegram?: Telegram | undefined }; isDraining: () => boolean }): Promise<void> {
  const { runtime } = options;

  app.get('/health', { config: { openapi: HEALTH_DOCS } }, async (_request, reply) => {
    const checks: Record<string, Check> = {};
    const started = performance.now();
    try {
      const head = await withTimeout(readHead(runtime.store.db), CHECK_TIMEOUT_MS);
      checks.database = { status: 'healthy', dialect: runtime.store.dialect, latency_ms: Math.round(performance.now() - started) };
      checks.audit = { status: 'healthy', head_seq: head.seq, head_hash: head.hash, checkpoint_seq: head.checkpointSeq };
    } catch (error) {
      checks.database = { status: 'unhealthy', dialect: runtime.store.dialect, error: messageOf(error) };
      checks.audit = { status: 'unknown' };
    }
    try {
      const workspaces = await withTimeout(runtime.workspaces.health(), CHECK_TIMEOUT_MS + 500);
      checks.workspaces = { ...workspaces };
    } catch (error) {
      checks.workspaces = { status: 'unhealthy', error: messageOf(error) };
    }
    checks.version = { status: 'healthy', version: VERSION };
    if (runtime.telegram) {
      const { healthy: reachable, ...telegram } = runtime.telegram.bot.health();
      checks.telegram = { status: reachable ? 'healthy' : 'degraded', ...telegram };
    }
    const healthy = Object.values(checks).every((check) => check.status === 'healthy' || check.status === 'degraded');
    return reply.status(healthy ? 200 : 503).send({
      status: healthy ? 'healthy' : 'unhealthy',
      service: SERVICE_NAME,
      timestamp: new Date().toISOString(),
      version: VERSION,
      role: runtime.config.role,
      ...(runtime.config.gateway.segment && runtime.config.role !== 'api' ? { segment: runtime.config.gateway.segment } : {}),
      ...(runtime.config.instanceId ? { instance: runtime.config.instanceId } : {}),
      checks,
    });
  });

  app.get('/ready', { config: { openapi: READY_DOCS } }, async (_request, reply) => {
    if (options.isDraining()) return reply.status(503).send({ ready: false, reason: 'shutting down' });
    try {
      await withTimeout(runtime.store.ping(), CHECK_TIMEOUT_MS);
    } catch (error) {
      return reply.status(503).send({ ready: false, reason: messageOf(error) });
    }
    return { ready: true };
  });

  app.get('/metrics', { config: { openapi: METRICS_DOCS } }, async (_request, reply) => {
    const body = await runtime.metrics.registry.metrics();
    return reply.type(runtime.metrics.registry.contentType).send(body);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
