import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../audit/index.js';
import { actorOf } from '../identity/index.js';
import { principalOf } from '../http/auth.js';
import type { Target } from './load.js';
import type { TargetRegistry } from './registry.js';

/** A target as clients see it: what it is and may do, never how to log in to it. */
export function targetView(target: Target): Record<string, unknown> {
  return {
    id: target.id,
    executor: target.executor,
    description: target.description ?? null,
    environments: target.environments,
    capabilities: target.capabilities,
    constraints: {
      timeout: target.timeoutSeconds,
      concurrency: target.concurrency,
      output_cap: target.outputCapBytes,
      shell: target.shellAllowed,
      sudo_policy: target.sudoPolicy,
      sudo_allow: target.sudoAllow,
    },
    segment: target.segment ?? null,
    mode: target.mode,
    ...(target.workspaceId ? { workspace: target.workspaceId } : {}),
  };
}

/** GET /v1/targets for anyone; POST /v1/admin/reload for target admins. */
export async function targetRoutes(app: FastifyInstance, options: { targets: TargetRegistry; audit: AuditLog }): Promise<void> {
  const { targets, audit } = options;

  app.get('/v1/targets', { config: { scope: 'authenticated' } }, async () => {
    const state = targets.current();
    return { source: state.source, sha256: state.sha256, loaded_at: state.loadedAt, targets: state.targets.map(targetView) };
  });

  app.post('/v1/admin/reload', { config: { scope: 'targets:admin' } }, async (request) => {
    const state = await targets.reload(audit, actorOf(principalOf(request)));
    return { reloaded: true, source: state.source, sha256: state.sha256, targets: state.targets.map((target) => target.id) };
  });
}
