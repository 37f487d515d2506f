import { request } from 'undici';

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly body: any;
}

/** One HTTP call as a client makes it; the body is parsed when it is JSON. */
export async function http(method: string, url: string, options: { headers?: Record<string, string>; json?: unknown; body?: string } = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  const response = await request(url, { method: method as 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.body.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, body: parsed };
}

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}
