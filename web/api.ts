/** The API client: same-origin fetch with the session cookie, the CSRF header on state changes, problem+json errors. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let sessionEnded: (() => void) | undefined;

/** The CSRF token of the current session (from the login answer or GET /v1/auth/session); kept in memory only. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when the server says the session is gone (401), so the console can ask to log in again. */
export function onSessionEnded(callback: () => void): void {
  sessionEnded = callback;
}

const SAFE = new Set(['GET', 'HEAD']);

async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let payload: string | undefined;
  if (!SAFE.has(method) && method !== 'DELETE') {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body ?? {});
  }
  if (!SAFE.has(method) && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection and try again.');
  }
  if (!response.ok) {
    let problem: Record<string, unknown> = {};
    try {
      problem = (await response.json()) as Record<string, unknown>;
    } catch {
      // not JSON
    }
    const code = typeof problem.code === 'string' ? problem.code : `http_${response.status}`;
    const detail = typeof problem.detail === 'string' ? problem.detail : typeof problem.error === 'string' ? problem.error : response.statusText || `HTTP ${response.status}`;
    if (response.status === 401 && !path.startsWith('/v1/auth/login')) sessionEnded?.();
    throw new ApiError(response.status, code, detail, problem);
  }
  return response;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await request(method, path, body);
  return (await response.json()) as T;
}

/** A request answered with JSON lines (NDJSON), each handed to `onLine` as it arrives. */
export async function apiLines(method: string, path: string, onLine: (line: Record<string, unknown>) => void): Promise<void> {
  const response = await request(method, path);
  const reader = response.body?.getReader();
  if (!reader) throw new ApiError(0, 'stream', 'The answer could not be read.');
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    buffered += decoder.decode(value, { stream: !done });
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) onLine(JSON.parse(line) as Record<string, unknown>);
      newline = buffered.indexOf('\n');
    }
    if (done) break;
  }
  if (buffered.trim()) onLine(JSON.parse(buffered) as Record<string, unknown>);
}

/** Query string of the defined, non-empty values. */
export function query(values: Readonly<Record<string, string | number | undefined | null>>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}
