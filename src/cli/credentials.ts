import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What `airlock login` keeps per server: a short access token and the refresh token that renews it. */
export interface StoredLogin {
  readonly username: string;
  readonly access_token: string;
  /** When the access token stops working (ISO-8601). */
  readonly access_expires_at: string;
  readonly refresh_token: string;
}

/** $AIRLOCK_CREDENTIALS_FILE, or ~/.config/airlock/credentials.json (mode 0600). */
export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.AIRLOCK_CREDENTIALS_FILE ?? join(env.XDG_CONFIG_HOME ?? join(env.HOME ?? homedir(), '.config'), 'airlock', 'credentials.json');
}

function readAll(file: string): Record<string, StoredLogin> {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, StoredLogin>;
  } catch {
    return {};
  }
}

export function loadLogin(url: string, env?: NodeJS.ProcessEnv): StoredLogin | undefined {
  return readAll(credentialsFile(env))[url];
}

/** Saves (or with `undefined`, forgets) the login for one server; the file is only ever readable by its owner. */
export function saveLogin(url: string, login: StoredLogin | undefined, env?: NodeJS.ProcessEnv): void {
  const file = credentialsFile(env);
  const all = readAll(file);
  if (login) all[url] = login;
  else delete all[url];
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
