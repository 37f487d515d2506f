import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AirlockError } from '../errors.js';

/** Options of every command that talks to a running server. */
export interface ClientFlags {
  url?: string;
  keyFile?: string;
}

export function withClientOptions(command: Command): Command {
  return command
    .option('--url <url>', 'the Airlock server (default: $AIRLOCK_URL, then http://127.0.0.1:5002)')
    .option('--key-file <file>', 'read the API key from this file (default: $AIRLOCK_API_KEY)');
}

export interface ApiResponse {
  readonly status: number;
  readonly body: any;
}

/** A thin HTTP client for the CLI: JSON in and out, the API key as a bearer, problems as AirlockErrors. */
export class ApiClient {
  readonly url: string;
  private readonly key: string | undefined;

  constructor(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env) {
    this.url = (flags.url ?? env.AIRLOCK_URL ?? 'http://127.0.0.1:5002').replace(/\/+$/, '');
    this.key = flags.keyFile ? readFileSync(flags.keyFile, 'utf8').trim() : env.AIRLOCK_API_KEY?.trim() || undefined;
  }

  /** Any answer, whatever its status. */
  async raw(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; key?: string | null; signal?: AbortSignal } = {}): Promise<ApiResponse> {
    const key = options.key === null ? undefined : (options.key ?? this.key);
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
    if (!this.key && options.key === undefined) {
      throw new AirlockError('api_key_missing', 'set AIRLOCK_API_KEY (or --key-file) to an API key; `airlock keys create` makes one');
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
