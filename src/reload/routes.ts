import type { FastifyInstance } from 'fastify';
import { principalOf } from '../http/auth.js';
import { actorOf } from '../identity/index.js';
import { reloadView, type ConfigReloader } from './service.js';

/**
 * POST /v1/admin/reload: reloads targets.yaml and policy.yaml together (as SIGHUP does). 200 with what
 * is now in force; 422 `config_reload_failed` naming each file's problems when either is invalid, and
 * then nothing changed.
 */
export async function reloadRoutes(app: FastifyInstance, options: { reloader: ConfigReloader }): Promise<void> {
  app.post('/v1/admin/reload', { config: { scope: 'targets:admin' } }, async (request) => {
    const outcome = await options.reloader.reload(actorOf(principalOf(request)), 'http');
    const { targets } = outcome;
    // `source`, `sha256` and `targets` (the ids) as before the policy was reloaded too.
    return { reloaded: true, source: targets.source, sha256: targets.sha256, targets: targets.targets.map((target) => target.id), loaded: reloadView(outcome) };
  });
}
