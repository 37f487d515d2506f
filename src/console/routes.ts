import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { ApprovalParams, type Approvals } from '../approvals/index.js';
import type { ResolvedConfig } from '../config/index.js';
import type { Store } from '../store/index.js';
import type { TargetRegistry } from '../targets/index.js';
import { adminStatus, validateConfiguration } from './admin.js';
import { requestHistory } from './history.js';
import { requestStats, StatsQuery } from './stats.js';

/**
 * Views across domains that the web console (and any other client) reads: a request's history, request
 * and decision statistics, an admin overview, and a dry-run validation of targets.yaml and policy.yaml.
 */
export async function consoleApiRoutes(
  app: FastifyInstance,
  options: { store: Store; approvals: Approvals; targets: TargetRegistry; config: ResolvedConfig; routes: () => ReadonlyArray<{ readonly method: string; readonly url: string }> },
): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { store, approvals } = options;

  routes.get('/v1/approvals/:id/history', { config: { scope: 'approvals:read' }, schema: { params: ApprovalParams } }, async (request) =>
    requestHistory({ store, approvals }, request.params.id),
  );

  routes.get('/v1/stats', { config: { scope: 'approvals:read' }, schema: { querystring: StatsQuery } }, async (request) => ({ stats: await requestStats(store, request.query.hours) }));

  routes.get('/v1/admin/status', { config: { scope: 'admin' } }, async () => ({ status: await adminStatus({ store, config: options.config, routes: options.routes }) }));

  routes.post('/v1/admin/validate', { config: { scope: 'targets:admin' } }, async () => ({ validation: validateConfiguration(options.config, options.targets) }));
}
