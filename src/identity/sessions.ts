import { createHash, randomBytes } from 'node:crypto';
import { sameSecret } from '../constant-time.js';
import { SignJWT, jwtVerify } from 'jose';
import { v7 as uuidv7 } from 'uuid';
import type { AuditLog, KeyPair } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { SessionsTable, UsersTable } from '../store/tables.js';
import type { Mfa } from './mfa.js';
import { dummyHash, verifyPassword } from './passwords.js';
import type { Principal } from './principal.js';
import { scopesOfRole, type Role } from './roles.js';

export interface SessionSettings {
  readonly sessionHours: number;
  readonly accessTokenMinutes: number;
  readonly maxFailedLogins: number;
  readonly lockoutSeconds: number;
  readonly issuer: string;
  /** Distinct from the capability tokens' audience, so an access token can never run anything. */
  readonly audience: string;
}

export interface LoginInput {
  readonly username: string;
  readonly password: string;
  readonly totp?: string | undefined;
  readonly ip: string;
}

export interface LoginResult {
  readonly sessionId: string;
  /** The cookie's secret: stored only as its hash. */
  readonly session: string;
  readonly csrf: string;
  readonly expires_at: string;
  readonly user: { id: string; username: string; role: Role; mfa: boolean };
}

export interface TokenGrant {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly refresh_token: string;
  readonly scope: string;
}

/** What introspection answers (RFC 7662 section 2.2). */
export type Introspection = { active: false } | ({ active: true } & Record<string, unknown>);

const LAST_SEEN_EVERY_MS = 60_000;
const LOCKOUT_CAP_SECONDS = 15 * 60;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function secret(): string {
  return randomBytes(32).toString('base64url');
}

/** The CSRF token that goes with a session: derived from its secret, so it needs no storage. */
export function csrfOf(sessionToken: string): string {
  return createHash('sha256').update(`airlock-csrf:${sessionToken}`).digest('base64url');
}

export function csrfMatches(sessionToken: string, presented: string): boolean {
  return sameSecret(csrfOf(sessionToken), presented);
}

function principalOfSession(session: SessionsTable, user: UsersTable, kind: 'session' | 'access_token'): Principal {
  const role = user.role as Role;
  return { id: session.id, kind, name: user.username, userId: user.id, username: user.username, role, scopes: new Set(scopesOfRole(role)) };
}

/**
 * People's sessions: password (and TOTP when enrolled) login with lockout, a session cookie secret,
 * short access JWTs with rotating refresh tokens, logout, and RFC 7662 introspection.
 */
export class Sessions {
  private readonly lastSeenWritten = new Map<string, number>();

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly mfa: Mfa;
      readonly signing: KeyPair;
      readonly settings: SessionSettings;
    },
  ) {}

  /**
   * Unknown users, wrong passwords, disabled users and locked accounts all take the same path and get
   * the same answer; the audit event records the real reason.
   */
  async login(input: LoginInput): Promise<LoginResult> {
    const user = await this.deps.store.db.selectFrom('users').selectAll().where('username', '=', input.username).executeTakeFirst();
    const hash = user?.password_hash ?? (await dummyHash());
    const passwordOk = await verifyPassword(hash, input.password);
    const now = new Date();
    const reason = !user || !user.password_hash ? 'unknown_user' : user.status !== 'active' ? 'disabled' : user.locked_until && user.locked_until > now.toISOString() ? 'locked' : passwordOk ? undefined : 'wrong_password';
    const where = { username: input.username, ip: input.ip };
    if (reason || !user) {
      if (user && reason === 'wrong_password') await this.countFailure(user);
      await this.deps.audit.record({ actor: 'anonymous', action: 'auth.login_failed', ...(user ? { subject: { type: 'user', id: user.id } } : {}), data: { ...where, reason: reason ?? 'unknown_user' } });
      throw new AirlockError('invalid_credentials', 'the username or password is wrong, or the account is locked for a while after repeated failures', { status: 401 });
    }
    let mfa = false;
    if (user.totp_secret) {
      if (!input.totp) {
        await this.deps.audit.record({ actor: `user:${user.username}`, action: 'auth.login_failed', subject: { type: 'user', id: user.id }, data: { ...where, reason: 'totp_missing' } });
        throw new AirlockError('totp_required', 'this account has TOTP: send the current code as "totp"', { status: 401 });
      }
      try {
        await this.deps.mfa.verify(user.id, input.totp, 'login');
      } catch (error) {
        await this.countFailure(user);
        throw error;
      }
      mfa = true;
    }
    const token = secret();
    const session: SessionsTable = {
      id: uuidv7(),
      token_hash: sha256(token),
      refresh_hash: null,
      user_id: user.id,
      mfa: mfa ? 1 : 0,
      ip: input.ip,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + this.deps.settings.sessionHours * 3_600_000).toISOString(),
      last_seen_at: now.toISOString(),
      revoked_at: null,
    };
    await this.deps.store.transaction(async (tx) => {
      await tx.db.insertInto('sessions').values(session).execute();
      await tx.db.updateTable('users').set({ failed_logins: 0, locked_until: null }).where('id', '=', user.id).execute();
      await this.deps.audit.append(tx, { actor: `user:${user.username}`, action: 'auth.login', subject: { type: 'session', id: session.id }, data: { ...where, mfa } });
    });
    return { sessionId: session.id, session: token, csrf: csrfOf(token), expires_at: session.expires_at, user: { id: user.id, username: user.username, role: user.role as Role, mfa } };
  }

  /** After `maxFailedLogins` failures in a row the account locks, for longer after each further failure. */
  private async countFailure(user: UsersTable): Promise<void> {
    const { maxFailedLogins, lockoutSeconds } = this.deps.settings;
    await this.deps.store.transaction(async (tx) => {
      let query = tx.db.selectFrom('users').select(['failed_logins']).where('id', '=', user.id);
      if (tx.dialect === 'postgres') query = query.forUpdate();
      const current = await query.executeTakeFirstOrThrow();
      const failures = current.failed_logins + 1;
      const over = failures - maxFailedLogins;
      const lockedUntil = over >= 0 ? new Date(Date.now() + Math.min(LOCKOUT_CAP_SECONDS, lockoutSeconds * 2 ** over) * 1000).toISOString() : null;
      await tx.db.updateTable('users').set({ failed_logins: failures, locked_until: lockedUntil }).where('id', '=', user.id).execute();
      if (lockedUntil) await this.deps.audit.append(tx, { actor: 'system', action: 'auth.locked', subject: { type: 'user', id: user.id }, data: { username: user.username, failures, until: lockedUntil } });
    });
  }

  /** The principal of a session cookie's secret, or undefined when it is unknown, expired or revoked. */
  async authenticateSession(token: string): Promise<Principal | undefined> {
    const found = await this.live('token_hash', sha256(token));
    if (!found) return undefined;
    this.touch(found.session.id);
    return principalOfSession(found.session, found.user, 'session');
  }

  /**
   * What a browser may learn about its own session cookie: who it is, until when, whether TOTP was
   * used to log in and is enrolled, and the CSRF token its state-changing requests must send.
   */
  async describeSession(token: string): Promise<{ principal: Principal; expires_at: string; mfa: boolean; totp_enrolled: boolean; csrf_token: string } | undefined> {
    const found = await this.live('token_hash', sha256(token));
    if (!found) return undefined;
    this.touch(found.session.id);
    return {
      principal: principalOfSession(found.session, found.user, 'session'),
      expires_at: found.session.expires_at,
      mfa: found.session.mfa === 1,
      totp_enrolled: found.user.totp_secret !== null,
      csrf_token: csrfOf(token),
    };
  }

  /** Issues an access token and a refresh token for a live session. */
  async grant(sessionId: string): Promise<TokenGrant> {
    const found = await this.live('id', sessionId);
    if (!found) throw new AirlockError('session_invalid', 'the session has ended', { status: 401 });
    const refresh = secret();
    await this.deps.store.db.updateTable('sessions').set({ refresh_hash: sha256(refresh) }).where('id', '=', sessionId).execute();
    return this.accessToken(found.session, found.user, refresh);
  }

  /** Trades a refresh token for a new access token and a new refresh token (the old one stops working). */
  async refresh(refreshToken: string): Promise<TokenGrant> {
    const found = await this.live('refresh_hash', sha256(refreshToken));
    if (!found) throw new AirlockError('invalid_grant', 'the refresh token is not valid (used already, or its session ended)', { status: 401 });
    const next = secret();
    const result = await this.deps.store.db
      .updateTable('sessions')
      .set({ refresh_hash: sha256(next), last_seen_at: new Date().toISOString() })
      .where('id', '=', found.session.id)
      .where('refresh_hash', '=', sha256(refreshToken))
      .executeTakeFirst();
    // Two refreshes racing with one token: only one wins.
    if (Number(result.numUpdatedRows) !== 1) throw new AirlockError('invalid_grant', 'the refresh token was used already', { status: 401 });
    return this.accessToken(found.session, found.user, next);
  }

  private async accessToken(session: SessionsTable, user: UsersTable, refresh: string): Promise<TokenGrant> {
    const { settings, signing } = this.deps;
    const scope = [...scopesOfRole(user.role as Role)].sort().join(' ');
    const expiresIn = settings.accessTokenMinutes * 60;
    const token = await new SignJWT({ scope, sid: session.id, username: user.username })
      .setProtectedHeader({ alg: 'EdDSA', kid: signing.keyId, typ: 'at+jwt' })
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setSubject(user.id)
      .setJti(uuidv7())
      .setIssuedAt()
      .setExpirationTime(`${expiresIn}s`)
      .sign(signing.privateKey);
    return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, refresh_token: refresh, scope };
  }

  /** The principal of an access token: signature, audience, expiry, and a session that is still live. */
  async authenticateAccessToken(token: string): Promise<Principal | undefined> {
    const claims = await this.verifyAccessToken(token);
    if (!claims) return undefined;
    const found = await this.live('id', claims.sid);
    if (!found || found.user.id !== claims.sub) return undefined;
    return principalOfSession(found.session, found.user, 'access_token');
  }

  private async verifyAccessToken(token: string): Promise<{ sid: string; sub: string; exp: number; iat: number; scope: string } | undefined> {
    const { settings, signing } = this.deps;
    try {
      const { payload } = await jwtVerify(token, signing.publicKey, { algorithms: ['EdDSA'], issuer: settings.issuer, audience: settings.audience, typ: 'at+jwt', clockTolerance: 5 });
      if (typeof payload.sid !== 'string' || typeof payload.sub !== 'string' || typeof payload.scope !== 'string') return undefined;
      return { sid: payload.sid, sub: payload.sub, exp: payload.exp ?? 0, iat: payload.iat ?? 0, scope: payload.scope };
    } catch {
      return undefined;
    }
  }

  /** Ends a session: its cookie, access tokens and refresh token stop working at once. */
  async logout(sessionId: string, actor: string): Promise<void> {
    await this.deps.store.transaction(async (tx) => {
      const result = await tx.db.updateTable('sessions').set({ revoked_at: new Date().toISOString(), refresh_hash: null }).where('id', '=', sessionId).where('revoked_at', 'is', null).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) await this.deps.audit.append(tx, { actor, action: 'auth.logout', subject: { type: 'session', id: sessionId } });
    });
  }

  /** RFC 7662: whether an access token or a session is active, and what it may do. */
  async introspect(token: string): Promise<Introspection> {
    const claims = await this.verifyAccessToken(token);
    if (!claims) return { active: false };
    const found = await this.live('id', claims.sid);
    if (!found) return { active: false };
    return {
      active: true,
      token_type: 'access_token',
      scope: [...scopesOfRole(found.user.role as Role)].sort().join(' '),
      sub: found.user.id,
      username: found.user.username,
      exp: claims.exp,
      iat: claims.iat,
      iss: this.deps.settings.issuer,
      aud: this.deps.settings.audience,
    };
  }

  /** A session found by one of its unique columns, if it and its user are still live. */
  private async live(column: 'id' | 'token_hash' | 'refresh_hash', value: string): Promise<{ session: SessionsTable; user: UsersTable } | undefined> {
    const session = await this.deps.store.db.selectFrom('sessions').selectAll().where(column, '=', value).executeTakeFirst();
    if (!session || session.revoked_at || session.expires_at <= new Date().toISOString()) return undefined;
    const user = await this.deps.store.db.selectFrom('users').selectAll().where('id', '=', session.user_id).executeTakeFirst();
    if (!user || user.status !== 'active') return undefined;
    return { session, user };
  }

  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.lastSeenWritten.get(id) ?? 0) < LAST_SEEN_EVERY_MS) return;
    this.lastSeenWritten.set(id, now);
    void this.deps.store.db
      .updateTable('sessions')
      .set({ last_seen_at: new Date(now).toISOString() })
      .where('id', '=', id)
      .execute()
      .catch(() => undefined);
  }
}
