import { hasScope } from '../identity/scopes.js';
import { mayUse, type Principal } from '../identity/principal.js';

/** The audit actions that are domain events, and the names they are published under. */
export const EVENT_TYPES: Readonly<Record<string, string>> = {
  'approval.requested': 'request.created',
  'approval.decided': 'request.decided',
  'approval.expired': 'request.expired',
  'token.minted': 'token.minted',
  'execution.started': 'execution.started',
  'execution.finished': 'execution.finished',
  'execution.interrupted': 'execution.finished',
  'challenge.created': 'challenge.created',
};
export const PUBLISHED_TYPES = [...new Set(Object.values(EVENT_TYPES))].sort();

/** One domain event as streamed and delivered; `seq` is its place in the audit chain. */
export interface DomainEvent {
  readonly seq: number;
  readonly type: string;
  readonly time: string;
  readonly actor: string;
  readonly subject: { readonly type: string; readonly id: string } | null;
  readonly environment: string | null;
  readonly target: string | null;
  readonly data: Record<string, unknown>;
}

/**
 * Whether a principal may see an event: request, token and execution events need approvals:read
 * (within the key's environments and targets); a challenge only its planner, or an admin.
 */
export function visibleTo(principal: Principal, event: DomainEvent): boolean {
  if (event.type === 'challenge.created') return event.actor === `user:${principal.username}` || hasScope(principal.scopes, 'admin');
  if (!hasScope(principal.scopes, 'approvals:read')) return false;
  return event.environment === null || event.target === null || mayUse(principal, { environment: event.environment, target: event.target });
}
