import { AirlockError } from '../errors.js';
import type { Users } from './users.js';

export interface BootstrapResult {
  readonly username: string;
  /** Set only when the admin was created just now with a generated password: shown once, never stored. */
  readonly generatedPassword?: string;
  readonly created: boolean;
}

/**
 * Creates the first admin when no person has an account yet: with the configured password (refused
 * when weak or a default), or with a generated one that the caller shows once.
 */
export async function bootstrapAdmin(users: Users, settings: { bootstrapAdmin: string; bootstrapPassword?: string | undefined }, actor: string): Promise<BootstrapResult> {
  const username = settings.bootstrapAdmin;
  if ((await users.count('human')) > 0) return { username, created: false };
  try {
    const created = await users.create({ username, role: 'admin', actor, ...(settings.bootstrapPassword !== undefined ? { password: settings.bootstrapPassword } : {}) });
    return { username, created: true, ...(created.password ? { generatedPassword: created.password } : {}) };
  } catch (error) {
    // Another process sharing the store created it first.
    if (error instanceof AirlockError && error.code === 'user_exists') return { username, created: false };
    if (error instanceof AirlockError && error.code === 'weak_password') {
      throw new AirlockError('weak_bootstrap_password', `AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD is refused: ${error.message.replace(/^the password /, 'it ')}; choose a strong one, or leave it unset to have one generated`);
    }
    throw error;
  }
}
