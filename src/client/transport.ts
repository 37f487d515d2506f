import { AirlockNetworkError, abortReason, apiError } from './errors.js';

/** A fetch function: the runtime's own, or one given (a proxy agent, a test double, an instrumented fetch). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** A bearer credential, or a function that gives the current one (an access token that is renewed). */
export type Credential = string | (() => string | Promise<string>);

/** How calls that are safe to repeat are retried on a network error, 429, 502, 503 or 504. */
export interface RetryOptions {
  /** Further attempts after the first; 0 turns retrying off. Default 2. */
  readonly retries?: number;
  /** The first backoff; each further one doubles, with jitter. Default 250 ms. */
  readonly baseDelayMs?: number;
  /** The longest wait between attempts, a server's Retry-After included; a longer Retry-After is not waited for. Default 30 s. */
  readonly maxDelayMs?: number;
}

export interface TransportOptions {
  readonly url: string;
  readonly credential?: Credential | undefined;
  readonly fetch?: FetchLike | undefined;
  readonly retry?: RetryOptions | undefined;
}

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

export interface Call extends CallOptions {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>> | undefined;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /**
   * Whether repeating the call can do no harm: a read, or a call the server records nothing for.
   * Only such calls are retried; anything that creates, decides, mints or executes is sent once.
   */
  readonly idempotent: boolean;
  /** Send no credential (the gateway's execute authenticates by the capability token alone). */
  readonly anonymous?: boolean;
  /** Another base URL than the client's (a gateway of its own). */
  readonly baseUrl?: string | undefined;
  /** Statuses that are answers, not errors (GET /health's 503). */
  readonly accept?: readonly number[];
}

const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/** Waits `ms`, or rejects at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * HTTP for the client: JSON in and out, the credential as a bearer, errors as typed exceptions, and
 * retries with exponential backoff (honouring Retry-After) for idempotent calls only.
 */
export class Transport {
  readonly url: string;
  private readonly fetchFn: FetchLike;
  private readonly credential: Credential | undefined;
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: TransportOptions) {
    this.url = options.url.replace(/\/+$/, '');
    const given = options.fetch;
    // Called as a plain function, never as a method: browsers refuse fetch called on another object.
    this.fetchFn = given ?? ((input, init) => fetch(input, init));
    this.credential = options.credential;
    this.retries = Math.max(0, Math.floor(options.retry?.retries ?? 2));
    this.baseDelayMs = options.retry?.baseDelayMs ?? 250;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 30_000;
  }

  /** The bearer credential to send now. */
  async bearer(): Promise<string | undefined> {
    const credential = this.credential;
    return typeof credential === 'function' ? await credential() : credential;
  }

  urlOf(call: Pick<Call, 'path' | 'query' | 'baseUrl'>): string {
    const base = (call.baseUrl ?? this.url).replace(/\/+$/, '');
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(call.query ?? {})) if (value !== undefined) query.set(name, String(value));
    const text = query.toString();
    return `${base}${call.path}${text ? `?${text}` : ''}`;
  }

  /** The parsed JSON body of a successful answer (or of an accepted status). */
  async json<T>(call: Call): Promise<T> {
    const response = await this.send(call);
    const text = await response.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /**
   * The answer to a call whose status is 2xx (or accepted), body unread; anything else is thrown as a
   * typed error. Idempotent calls are tried again on a network error, 429, 502, 503 or 504.
   */
  async send(call: Call): Promise<Response> {
    const url = this.urlOf(call);
    const attempts = call.idempotent ? this.retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchOnce(call, url);
      } catch (error) {
        if (call.signal?.aborted) throw abortReason(call.signal);
        if (attempt >= attempts) throw new AirlockNetworkError(`${call.method} ${call.path}: cannot reach Airlock at ${call.baseUrl ?? this.url}: ${describe(error)}`, error);
        await sleep(this.backoff(attempt), call.signal);
        continue;
      }
      if (response.ok || call.accept?.includes(response.status)) return response;
      const after = retryAfterMs(response.headers.get('retry-after'));
      if (attempt < attempts && RETRY_STATUSES.has(response.status) && (after === undefined || after <= this.maxDelayMs)) {
        await response.body?.cancel().catch(() => undefined);
        await sleep(after ?? this.backoff(attempt), call.signal);
        continue;
      }
      throw apiError(response.status, await bodyOf(response), { method: call.method, path: call.path, retryAfterMs: after });
    }
  }

  private async fetchOnce(call: Call, url: string): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
    if (!call.anonymous) {
      const bearer = await this.bearer();
      if (bearer) headers.authorization = `Bearer ${bearer}`;
    }
    const init: RequestInit = { method: call.method, headers };
    if (call.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(call.body);
    }
    if (call.signal) init.signal = call.signal;
    return this.fetchFn(url, init);
  }

  /** Exponential backoff with jitter: base · 2^(attempt-1), between half and all of it, capped. */
  private backoff(attempt: number): number {
    const full = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return full / 2 + Math.random() * (full / 2);
  }
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => '');
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return text;
  }
}

/** The useful part of a fetch failure: undici hides the reason (ECONNREFUSED, …) in `cause`. */
function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
