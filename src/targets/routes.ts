import type { FastifyInstance } from 'fastify';
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

/** GET /v1/targets for anyone (reloads are src/reload: POST /v1/admin/reload). */
export async function targetRoutes(app: FastifyInstance, options: { targets: TargetRegistry }): Promise<void> {
  const { targets } = options;

  app.get('/v1/targets', { config: { scope: 'authenticated' } }, async () => {
    const state = targets.current();
    return { source: state.source, sha256: state.sha256, loaded_at: state.loadedAt, targets: state.targets.map(targetView) };
  });
}
