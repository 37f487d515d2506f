import type { ApprovalView } from '../approvals/index.js';
import { AirlockError } from '../errors.js';
import type { Principal } from '../identity/index.js';
import type { Tokens } from '../tokens/service.js';
import type { ExecuteResponse, ExecutionService } from './service.js';

/**
 * Runs an approved request in one step on the server's side (MCP `execute`, the chat bot): mints its
 * single-use token as the principal (who must be allowed to) and spends it at once on the gateway.
 */
export async function runApproved(deps: { readonly tokens: Tokens; readonly gateway: ExecutionService }, principal: Principal, request: ApprovalView, meta: { ip: string }): Promise<ExecuteResponse> {
  if (request.status !== 'APPROVED') throw new AirlockError('approval_not_approved', `request ${request.request_id} is ${request.status}, not APPROVED`, { status: 409 });
  const operation = request.op.kind === 'op' ? { op: { name: request.op.name, args: request.op.args } as never } : { command: request.command };
  const minted = await deps.tokens.mint(principal, { approval_id: request.request_id, environment: request.environment, ...operation });
  return deps.gateway.execute(minted.token, { approval_id: request.request_id, environment: request.environment, ...operation }, meta);
}
