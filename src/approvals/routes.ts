import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { principalOf } from '../http/auth.js';
import { ApprovalParams, ApprovalRequestBody, DecisionBody, ExplainBody, ListQuery, WaitQuery } from './schema.js';
import { BUILTIN_RULES, environmentPolicy, type PolicyHolder, type PolicyState } from './policy.js';
import type { Approvals } from './service.js';

/** The policy as requests are judged by it: the file's rules, the built-ins, each environment resolved. */
export function policyView(state: PolicyState, environments: readonly string[]): Record<string, unknown> {
  const { policy } = state;
  return {
    source: state.source,
    sha256: state.sha256,
    loaded_at: state.loadedAt,
    builtins: policy.builtins,
    default_level: policy.defaultLevel,
    rules: policy.rules,
    builtin_rules: policy.builtins ? BUILTIN_RULES : [],
    environments: Object.fromEntries(environments.map((environment) => [environment, environmentPolicy(policy, environment)])),
    sensitive_paths: policy.sensitivePaths,
  };
}

/**
 * Approval requests, under the reference Wingman paths (/approvals/…) and the versioned API
 * (/v1/approvals/…): the same handlers, the same answers.
 */
export async function approvalRoutes(
  app: FastifyInstance,
  options: { approvals: Approvals; policy: PolicyHolder; environments: readonly string[] },
): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { approvals } = options;
  // The API document lists the environments this instance serves. Validation stays as it was: another
  // environment is refused by the service (environment_not_allowed), which names the allowed ones.
  const documented = { deployment_env: ApprovalRequestBody.shape.deployment_env.meta({ enum: [...options.environments] }) };
  const requestBody = ApprovalRequestBody.extend(documented);
  const explainBody = ExplainBody.extend(documented);
  const answersCreated = { openapi: { responses: { '201': { description: 'The request as created: `{ "request": { "request_id", "status", "risk_level", … } }`' } } } };

  routes.get('/v1/policy', { config: { scope: 'approvals:read' } }, async () => ({ policy: policyView(options.policy.state(), options.environments) }));

  for (const path of ['/approvals/request', '/v1/approvals']) {
    routes.post(path, { config: { scope: 'approvals:request', ...answersCreated }, schema: { body: requestBody } }, async (request, reply) => {
      const created = await approvals.request(principalOf(request), request.body);
      return reply.status(201).send({ request: created });
    });
  }

  routes.post('/v1/policy/explain', { config: { scope: 'approvals:read' }, schema: { body: explainBody } }, async (request) => ({
    explanation: await approvals.explain(principalOf(request), request.body),
  }));

  routes.get('/v1/approvals', { config: { scope: 'approvals:read' }, schema: { querystring: ListQuery } }, async (request) => ({
    requests: await approvals.list(request.query),
  }));

  for (const prefix of ['/approvals', '/v1/approvals']) {
    routes.get(`${prefix}/:id`, { config: { scope: 'approvals:read' }, schema: { params: ApprovalParams, querystring: WaitQuery } }, async (request, reply) => {
      const wait = request.query.wait ?? 0;
      if (wait === 0) return { request: await approvals.get(request.params.id) };
      // Stop waiting when the client goes away (the response closes before it was sent).
      const gone = new AbortController();
      reply.raw.on('close', () => gone.abort());
      return { request: await approvals.wait(request.params.id, wait, gone.signal) };
    });

    for (const decision of ['approve', 'reject'] as const) {
      routes.post(
        `${prefix}/:id/${decision}`,
        { config: { scope: 'approvals:decide' }, schema: { params: ApprovalParams, body: DecisionBody } },
        async (request) => ({ request: await approvals.decide(principalOf(request), request.params.id, decision, request.body ?? {}) }),
      );
    }
  }
}
