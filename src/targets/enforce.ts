import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import type { Target } from './load.js';
import { checkGate, type GateQuestion } from './policy-gate.js';

/**
 * Asks the policy gate and acts on its answer: a denial is audited and refused with 403 naming every
 * reason; in shadow mode the would-be denial is audited and the operation goes on.
 */
export async function enforceGate(audit: AuditLog, target: Target, question: GateQuestion, context: { actor: string; stage: 'request' | 'execution' }): Promise<void> {
  const answer = checkGate(target, question);
  if (answer.denials.length === 0) return;
  const data = { stage: context.stage, denials: answer.denials.map((denial) => ({ ...denial })), capability: question.capability };
  const where = { environment: question.environment, target: target.id };
  if (answer.allow) {
    await audit.record({ actor: context.actor, action: 'policy.shadow_denied', ...where, data });
    return;
  }
  await audit.record({ actor: context.actor, action: 'policy.denied', ...where, data });
  const first = answer.denials[0] as (typeof answer.denials)[number];
  throw new AirlockError(first.code, answer.denials.map((denial) => denial.reason).join('; '), { status: 403, details: { denials: answer.denials } });
}
