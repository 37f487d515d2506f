import type { Scope } from './scopes.js';

/** Roles of users and service accounts, and the scopes each grants (DESIGN.md section 2). */
export const ROLE_SCOPES = {
  admin: ['admin'],
  approver: ['approvals:read', 'approvals:decide', 'audit:read'],
  requester: ['approvals:request', 'approvals:read', 'gateway:execute', 'workspaces:use'],
  auditor: ['audit:read', 'approvals:read'],
} as const satisfies Record<string, readonly Scope[]>;

export const ROLES = Object.keys(ROLE_SCOPES) as (keyof typeof ROLE_SCOPES)[];
export type Role = keyof typeof ROLE_SCOPES;

export function scopesOfRole(role: Role): readonly Scope[] {
  return ROLE_SCOPES[role];
}

/** True when `role` grants every one of `scopes`. */
export function roleCovers(role: Role, scopes: readonly string[]): boolean {
  const granted: readonly string[] = ROLE_SCOPES[role];
  return granted.includes('admin') || scopes.every((scope) => scope !== 'admin' && granted.includes(scope));
}

/** The least-privileged role that grants every one of `scopes` (admin when no narrower role does). */
export function leastRoleFor(scopes: readonly string[]): Role {
  return (['auditor', 'requester', 'approver'] as const).find((role) => roleCovers(role, scopes)) ?? 'admin';
}

/** A key's effective scopes: what it was given, cut down to what its owner's role grants today. */
export function effectiveScopes(keyScopes: readonly string[], role: Role): Set<string> {
  return new Set(roleCovers(role, ['admin']) ? keyScopes : keyScopes.filter((scope) => roleCovers(role, [scope])));
}
