import { z } from 'zod';
import { ROLES, type Role } from './roles.js';
import { SCOPES } from './scopes.js';

// Kept here, not beside the lists: the lists are read by the command line, which must start without zod.
export const RoleSchema = z.enum(ROLES as [Role, ...Role[]]);
export const ScopeSchema = z.enum(SCOPES);

const username = z.string().trim().min(1).max(63);
const listOfNames = z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)).min(1).max(50);

export const CreateKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(ScopeSchema).min(1).max(20),
  /** The owner (admins only); by default the acting user, or a service account named after the key. */
  user: username.optional(),
  expires_at: z.iso.datetime({ offset: true }).optional(),
  environments: listOfNames.optional(),
  targets: listOfNames.optional(),
});

export const KeyParams = z.strictObject({ id: z.string().min(1).max(100) });
export const UserParams = z.strictObject({ username });

export const CreateUserBody = z.strictObject({
  username,
  role: RoleSchema,
  kind: z.enum(['human', 'service']).default('human'),
  /** Generated (and returned once) when absent. */
  password: z.string().min(1).max(1024).optional(),
});

export const PasswordBody = z.strictObject({ password: z.string().min(1).max(1024).optional() }).default({});
export const RoleBody = z.strictObject({ role: RoleSchema });

export const LoginBody = z.strictObject({
  username,
  password: z.string().min(1).max(1024),
  totp: z.string().trim().min(6).max(32).optional(),
  /** Also return an access token and a refresh token (for programs; browsers use the cookie). */
  tokens: z.boolean().default(false),
});

export const RefreshBody = z.strictObject({ refresh_token: z.string().min(1).max(200) });

/** RFC 7662 section 2.1: `token`, optionally `token_type_hint`, as a form or as JSON. */
export const IntrospectBody = z.object({
  token: z.string().min(1).max(8192),
  token_type_hint: z.string().max(100).optional(),
});

export const CodeBody = z.strictObject({ code: z.string().trim().min(6).max(32) });

export const PlanChallengeBody = z.strictObject({
  purpose: z.string().trim().min(1).max(500),
  approval_id: z.string().min(1).max(100).optional(),
});
export const ChallengeParams = z.strictObject({ id: z.string().min(1).max(100) });
