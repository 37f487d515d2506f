import { TOTP } from 'otpauth';
import type { Runtime } from '../../src/runtime.js';
import { totpCode } from '../../src/identity/totp.js';
import { http } from './http.js';

/** A person with TOTP enrolled, and a source of codes that are each fresh (never a replay). */
export interface Person {
  readonly username: string;
  readonly userId: string;
  readonly password: string;
  readonly secret: string;
  readonly recoveryCodes: string[];
  /** The next code the server will accept: the current step, then the next, then recovery codes. */
  code(): string;
}

/** Creates a person with a role and enrolls TOTP for them, through the services a server uses. */
export async function createPerson(runtime: Runtime, username: string, role: 'admin' | 'approver' | 'requester' | 'auditor'): Promise<Person> {
  const password = `Correct-Horse-Battery-${username.length}-Staple`;
  const { user } = await runtime.users.create({ username, role, password, actor: 'test' });
  const enrollment = await runtime.mfa.enroll(user.id, 'test');
  const secret = enrollment.secret;
  const { recovery_codes } = await runtime.mfa.confirm(user.id, totpCode(secret), 'test');
  let lastStep = TOTP.counter({ timestamp: Date.now() });
  const spare = [...recovery_codes];
  return {
    username,
    userId: user.id,
    password,
    secret,
    recoveryCodes: recovery_codes,
    code() {
      const now = TOTP.counter({ timestamp: Date.now() });
      const step = Math.max(now, lastStep + 1);
      if (step <= now + 1) {
        lastStep = step;
        return totpCode(secret, step * 30_000);
      }
      const recovery = spare.shift();
      if (!recovery) throw new Error(`${username} has used every fresh code and recovery code`);
      return recovery;
    },
  };
}

/** Logs a person in over HTTP: the session cookie, its CSRF token, and an access and refresh token. */
export async function login(url: string, person: { username: string; password: string; code?: () => string }) {
  const response = await http('POST', `${url}/v1/auth/login`, {
    json: { username: person.username, password: person.password, tokens: true, ...(person.code ? { totp: person.code() } : {}) },
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.text}`);
  const setCookie = [response.headers['set-cookie'] ?? []].flat().find((cookie) => cookie.startsWith('airlock_session='));
  if (!setCookie) throw new Error('login set no session cookie');
  return {
    cookie: setCookie.split(';')[0] as string,
    setCookie,
    csrf: response.body.csrf_token as string,
    accessToken: response.body.access_token as string,
    refreshToken: response.body.refresh_token as string,
    body: response.body,
  };
}
