/** What a principal may do (DESIGN.md section 2). `admin` includes every other scope. */
export const SCOPES = [
  'approvals:request',
  'approvals:read',
  'approvals:decide',
  'gateway:execute',
  'audit:read',
  'targets:admin',
  'workspaces:use',
  'admin',
] as const;

export type Scope = (typeof SCOPES)[number];

export function hasScope(scopes: ReadonlySet<string>, scope: Scope): boolean {
  return scopes.has('admin') || scopes.has(scope);
}

/** Parses "a,b c" into scopes, naming any unknown one. */
export function parseScopes(text: string): { scopes: Scope[] } | { error: string } {
  const names = text.split(/[\s,]+/).filter(Boolean);
  const unknown = names.filter((name) => !(SCOPES as readonly string[]).includes(name));
  if (names.length === 0) return { error: `name at least one scope: ${SCOPES.join(', ')}` };
  if (unknown.length > 0) return { error: `unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${SCOPES.join(', ')})` };
  return { scopes: [...new Set(names)] as Scope[] };
}
