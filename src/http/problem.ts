import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isAirlockError } from '../errors.js';
import { isConnectionError } from '../store/index.js';

/**
 * RFC 9457 problem details, with Airlock's stable `code` and the request id for support. The schema is
 * what the API document shows for every error answer; answers are built by `sendProblem`, not parsed.
 */
export const ProblemSchema = z
  .looseObject({
    type: z.string().describe('urn:airlock:problem:<code>'),
    title: z.string().describe('The HTTP status text'),
    status: z.number().int().min(400).max(599),
    code: z.string().describe('Stable, machine-readable: what went wrong (e.g. invalid_request, unauthorized, forbidden, not_found)'),
    detail: z.string().optional().describe('What went wrong, for people'),
    instance: z.string().describe('The request path'),
    request_id: z.string().describe('Also in the X-Request-Id header and in every log line of the request'),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('For invalid_request: each problem of the body, query, path or headers'),
  })
  .describe('An error (application/problem+json). Other members carry details of some codes, e.g. required_scope.');
export type Problem = z.infer<typeof ProblemSchema>;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Fastify's own client errors, given codes of ours. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

export function sendProblem(request: FastifyRequest, reply: FastifyReply, status: number, code: string, detail?: string, extra: Record<string, unknown> = {}): FastifyReply {
  const problem: Problem = {
    type: `urn:airlock:problem:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    ...(detail ? { detail } : {}),
    instance: request.url,
    request_id: request.id,
    ...extra,
  };
  return reply.status(status).type('application/problem+json').send(problem);
}

/** The one place where errors become HTTP responses. Server faults are logged, never shown. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isAirlockError(error)) {
      if (error.status >= 500) request.log.error({ err: error }, 'request failed');
      return sendProblem(request, reply, error.status, error.code, error.message, error.details ?? {});
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const errors = error.validation.map((issue) => ({ path: issue.instancePath || '/', message: issue.message }));
      return sendProblem(request, reply, 400, 'invalid_request', `the request ${error.validationContext ?? 'body'} is invalid`, { errors });
    }
    // A query outside a transaction that lost the database: the same clear 503 as everywhere else.
    if (isConnectionError(error)) {
      request.log.error({ err: error }, 'the database is unreachable');
      return sendProblem(request, reply, 503, 'store_unavailable', 'the database cannot be reached; nothing was done');
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendProblem(request, reply, status, FASTIFY_CODES[error.code] ?? 'invalid_request', error.message);
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(request, reply, 500, 'internal_error', 'an unexpected error occurred; the request id identifies it in the server log');
  });
  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, 404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`));
}
