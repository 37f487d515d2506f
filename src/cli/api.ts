import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AirlockError } from '../errors.js';
import { loadLogin, saveLogin, type StoredLogin } from './credentials.js';

/** Options of every command that talks to a running server. */
export interface ClientFlags {
  url?: string;
  keyFile?: string;
}

export function withClientOptions(command: Command): Command {
  return command
    .option('--url <url>', 'the Airlock server (default: $AIRLOCK_URL, then http://127.0.0.1:5002)')
    .option('--key-file <file>', 'read the API key from this file (default: $AIRLOCK_API_KEY, then the login of `airlock login`)');
}

export interface ApiResponse {
  readonly status: number;
  readonly body: any;
}

/** An access token is renewed this long before it would expire. */
const RENEW_BEFORE_MS = 30_000;

/**
 * A thin HTTP client for the CLI: JSON in and out, problems as AirlockErrors. The credential is an API
 * key (--key-file, AIRLOCK_API_KEY) or, without one, the person's login from `airlock login`, whose
 * access token is renewed with its refresh token when it runs out.
 */
export class ApiClient {
  readonly url: string;
  private readonly key: string | undefined;
  private login: StoredLogin | undefined;

  constructor(
    flags: ClientFlags,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.url = (flags.url ?? env.AIRLOCK_URL ?? 'http://127.0.0.1:5002').replace(/\/+$/, '');
    this.key = flags.keyFile ? readFileSync(flags.keyFile, 'utf8').trim() : env.AIRLOCK_API_KEY?.trim() || undefined;
    this.login = this.key ? undefined : loadLogin(this.url, env);
  }

  /** The logged-in person's access token, renewed first when it is (nearly) expired. */
  private async accessToken(): Promise<string | undefined> {
    const login = this.login;
    if (!login) return undefined;
    if (Date.parse(login.access_expires_at) - Date.now() > RENEW_BEFORE_MS) return login.access_token;
    const renewed = await this.raw('POST', '/v1/auth/refresh', { body: { refresh_token: login.refresh_token }, key: null });
    if (renewed.status !== 200) {
      saveLogin(this.url, undefined, this.env);
      this.login = undefined;
      throw new AirlockError('login_expired', 'your login has ended: run `airlock login` again');
    }
    this.login = { ...login, ...loginTokens(renewed.body) };
    saveLogin(this.url, this.login, this.env);
    return this.login.access_token;
  }

  /** The bearer credential to send now: the API key, or the login's access token (renewed when due). */
  async credential(): Promise<string | undefined> {
    return this.key ?? (await this.accessToken());
  }

  /** Any answer, whatever its status. */
  async raw(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; key?: string | null; signal?: AbortSignal } = {}): Promise<ApiResponse> {
    const key = options.key === null ? undefined : (options.key ?? this.key ?? (await this.accessToken()));
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (key) headers.authorization = `Bearer ${key}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new AirlockError('server_unreachable', `cannot reach Airlock at ${this.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body };
  }

  /** A 2xx answer's body; anything else becomes an AirlockError with the server's code and detail. */
  async call(method: string, path: string, options: Parameters<ApiClient['raw']>[2] = {}): Promise<any> {
    if (!this.key && !this.login && options.key === undefined) {
      throw new AirlockError('api_key_missing', 'set AIRLOCK_API_KEY (or --key-file) to an API key, or run `airlock login`; `airlock keys create` makes a key');
    }
    const response = await this.raw(method, path, options);
    if (response.status >= 200 && response.status < 300) return response.body;
    const problem = response.body as { code?: string; detail?: string; error?: string } | undefined;
    throw new AirlockError(problem?.code ?? 'request_failed', problem?.detail ?? problem?.error ?? `${method} ${path} answered ${response.status}`, {
      status: response.status,
      ...(problem && typeof problem === 'object' ? { details: problem as Record<string, unknown> } : {}),
    });
  }
}

/** The token fields of a login or refresh answer, as stored. */
export function loginTokens(body: { access_token: string; refresh_token: string; expires_in: number }): Pick<StoredLogin, 'access_token' | 'refresh_token' | 'access_expires_at'> {
  return { access_token: body.access_token, refresh_token: body.refresh_token, access_expires_at: new Date(Date.now() + body.expires_in * 1000).toISOString() };
}
