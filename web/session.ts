import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { WhoAmI } from './types.js';

export interface Session {
  readonly whoami: WhoAmI;
  readonly totpEnrolled: boolean;
  readonly expiresAt: string | undefined;
  /** The principal holds this scope (admin holds every scope). */
  can(scope: string): boolean;
  /** Reads the session again (after enrolling TOTP, say). */
  refresh(): Promise<void>;
  logout(): Promise<void>;
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('no session');
  return session;
}

export function canOf(scopes: readonly string[]): (scope: string) => boolean {
  return (scope) => scopes.includes('admin') || scopes.includes(scope);
}

/** Messages for everyone: shown briefly and read out by screen readers. */
export type Notify = (message: string, kind?: 'ok' | 'error' | 'info') => void;
export const NotifyContext = createContext<Notify>(() => undefined);
export function useNotify(): Notify {
  return useContext(NotifyContext);
}
