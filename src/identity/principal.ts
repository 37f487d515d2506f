import { AirlockError } from '../errors.js';
import type { Role } from './roles.js';

/** Who is acting, as every service sees it: a user or service account, through one credential. */
export interface Principal {
  /** The credential: an API key id, a session id, or the Telegram chat a person acts from. */
  readonly id: string;
  readonly kind: 'api_key' | 'session' | 'access_token' | 'telegram';
  /** The key's name, or the username. */
  readonly name: string;
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  readonly scopes: ReadonlySet<string>;
  /** Where a key may be used; undefined means wherever its owner may. */
  readonly environments?: readonly string[];
  readonly targets?: readonly string[];
}

/** The audit actor for a principal: the key for API keys, the user for people. */
export function actorOf(principal: Principal): string {
  return principal.kind === 'api_key' ? `key:${principal.id}` : `user:${principal.username}`;
}

/** Where a person acted from, for audit data, when it is not the API: `{via: 'telegram', chat_id}`. */
export function originOf(principal: Principal): Record<string, string> {
  return principal.kind === 'telegram' ? { via: 'telegram', chat_id: principal.id } : {};
}

/** False when the principal's key is limited to other environments or targets. */
export function mayUse(principal: Principal, where: { environment: string; target: string }): boolean {
  return principal.environments?.includes(where.environment) !== false && principal.targets?.includes(where.target) !== false;
}

/** Refuses a principal whose key is limited to other environments or targets. */
export function assertMayUse(principal: Principal, where: { environment: string; target: string }): void {
  if (principal.environments && !principal.environments.includes(where.environment)) {
    throw new AirlockError('key_environment_denied', `this API key may not be used in environment ${where.environment} (allowed: ${principal.environments.join(', ')})`, { status: 403 });
  }
  if (principal.targets && !principal.targets.includes(where.target)) {
    throw new AirlockError('key_target_denied', `this API key may not be used on target ${where.target} (allowed: ${principal.targets.join(', ')})`, { status: 403 });
  }
}
