import { hash, verify, type Algorithm } from '@node-rs/argon2';

/**
 * argon2id with the OWASP-recommended minimum (19 MiB, 2 passes, 1 lane). The parameters are recorded
 * in every hash string, so raising them later still verifies old hashes.
 */
export const ARGON2_PARAMETERS = { algorithm: 2 as Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 12;

/** Passwords that installers leave in place; the reference deployment's defaults among them. */
const DEFAULT_PASSWORDS = new Set(['admin', 'password', 'changeme', 'change-me', 'your-secure-password', 'administrator', 'letmein', 'secret', 'airlock', 'qwerty', '123456']);

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_PARAMETERS);
}

/** Never throws: a malformed stored hash is simply a mismatch. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/** A real hash to verify against when the user is unknown, so that path costs what a wrong password costs. */
export function dummyHash(): Promise<string> {
  return (dummy ??= hashPassword('airlock-dummy-password-for-unknown-users'));
}

/** Why a password is too weak, or undefined when it is acceptable. */
export function passwordWeakness(password: string, username: string): string | undefined {
  const lower = password.toLowerCase();
  if (password.length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > 1024) return 'must be at most 1024 characters';
  if ([...DEFAULT_PASSWORDS].some((weak) => lower.replace(/[^a-z0-9-]/g, '').startsWith(weak) && lower.length < weak.length + 6)) return 'is a default or common password';
  if (username.length >= 3 && lower.includes(username.toLowerCase())) return 'must not contain the username';
  if (new Set(password).size < 6) return 'must use at least 6 different characters';
  return undefined;
}
