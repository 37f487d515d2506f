import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AirlockError, messageOf } from '../errors.js';
import type { ExecuteInput } from './schema.js';
import { REPLAY_ERROR, type ExecuteResponse, type ExecutionService } from './service.js';

/**
 * A gateway instance reached over HTTP: how an API instance (which holds no executor) runs what its MCP
 * tools execute. The gateway checks the token as it would for any client; its refusals come back with
 * their own codes. node:http rather than fetch, whose 300-second header timeout would cut long commands.
 */
export class RemoteGateway implements ExecutionService {
  constructor(private readonly baseUrl: string | undefined) {}

  async execute(token: string | undefined, input: ExecuteInput, meta: { ip: string }): Promise<ExecuteResponse> {
    if (!this.baseUrl) {
      throw new AirlockError('gateway_not_configured', 'this API instance has no gateway to run on: set gateway.url (AIRLOCK_GATEWAY_URL), or send the token to a gateway\'s /v1/execute', { status: 503 });
    }
    const { status, body } = await post(new URL('/v1/execute', this.baseUrl), JSON.stringify(input), {
      'content-type': 'application/json',
      ...(token ? { 'x-capability-token': token } : {}),
      'x-forwarded-for': meta.ip,
    });
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(body) as Record<string, unknown>;
    } catch {
      throw new AirlockError('gateway_failed', `the gateway answered ${status} with a body that is not JSON`, { status: 502 });
    }
    if (status === 200) return parsed as unknown as ExecuteResponse;
    if (status === 409 && parsed.error === REPLAY_ERROR) throw new AirlockError('token_replayed', REPLAY_ERROR, { status: 409 });
    if (typeof parsed.code === 'string') throw new AirlockError(parsed.code, typeof parsed.detail === 'string' ? parsed.detail : `the gateway refused: ${parsed.code}`, { status });
    throw new AirlockError('gateway_failed', `the gateway answered ${status}`, { status: 502 });
  }
}

function post(url: URL, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 502, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', (error) => reject(new AirlockError('gateway_unreachable', `cannot reach the gateway at ${url.origin}: ${messageOf(error)}`, { status: 502, cause: error })));
    request.end(body);
  });
}
