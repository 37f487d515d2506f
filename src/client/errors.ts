import type { ApprovalView } from './types.js';

/** Every error the client throws (an abort aside, which stays the runtime's own AbortError). */
export class AirlockClientError extends Error {
  /** A stable, machine-readable code: the server's problem code, or one of the client's own. */
  readonly code: string;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AirlockClientError';
    this.code = code;
  }
}

/** RFC 9457 problem details as the server sends them, with its `code` and request id. */
export interface Problem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly code?: string;
  readonly detail?: string;
  readonly instance?: string;
  readonly request_id?: string;
  readonly [extension: string]: unknown;
}

/** The server answered with an error status. Subclasses name the statuses a client acts on. */
export class AirlockApiError extends AirlockClientError {
  readonly status: number;
  /** The server's explanation (problem `detail`). */
  readonly detail: string | undefined;
  /** The whole answer: problem fields and extensions (e.g. `errors`, `required_scope`, `findings`). */
  readonly problem: Problem;
  /** The server's id of the request, for its log. */
  readonly requestId: string | undefined;
  readonly method: string;
  readonly path: string;

  constructor(init: { status: number; code: string; detail?: string | undefined; problem: Problem; method: string; path: string }) {
    super(init.code, `${init.method} ${init.path}: ${init.status} ${init.code}${init.detail ? `: ${init.detail}` : ''}`);
    this.name = 'AirlockApiError';
    this.status = init.status;
    this.detail = init.detail;
    this.problem = init.problem;
    this.requestId = typeof init.problem.request_id === 'string' ? init.problem.request_id : undefined;
    this.method = init.method;
    this.path = init.path;
  }
}

/** 400: the request was malformed or failed validation (`problem.errors` lists each problem). */
export class AirlockBadRequestError extends AirlockApiError {
  override readonly name = 'AirlockBadRequestError';
}

/** 401: no credential, or one the server does not accept (unknown, revoked, expired). */
export class AirlockUnauthorizedError extends AirlockApiError {
  override readonly name = 'AirlockUnauthorizedError';
}

/** 403: authenticated but not allowed (scope, self-approval, step-up required, policy denied, …). */
export class AirlockForbiddenError extends AirlockApiError {
  override readonly name = 'AirlockForbiddenError';
}

/** 404: no such request, execution, workspace or route. */
export class AirlockNotFoundError extends AirlockApiError {
  override readonly name = 'AirlockNotFoundError';
}

/** 409: the state does not allow it (already decided, not approved, token already minted or used). */
export class AirlockConflictError extends AirlockApiError {
  override readonly name = 'AirlockConflictError';
}

/** 422: understood but refused on its content (an instruction below the environment's minimum score). */
export class AirlockUnprocessableError extends AirlockApiError {
  override readonly name = 'AirlockUnprocessableError';
}

/** 429: over the rate limit; `retryAfterMs` is the server's Retry-After. */
export class AirlockRateLimitError extends AirlockApiError {
  override readonly name = 'AirlockRateLimitError';
  readonly retryAfterMs: number | undefined;

  constructor(init: ConstructorParameters<typeof AirlockApiError>[0] & { retryAfterMs: number | undefined }) {
    super(init);
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** 5xx: the server failed, or could not reach its store; nothing was done. */
export class AirlockServerError extends AirlockApiError {
  override readonly name = 'AirlockServerError';
}

/** No answer at all: the server could not be reached, or the connection dropped. */
export class AirlockNetworkError extends AirlockClientError {
  override readonly name = 'AirlockNetworkError';

  constructor(message: string, cause: unknown) {
    super('network_error', message, { cause });
  }
}

/** The request was rejected by a person: `reason` is theirs. Nothing ran. */
export class AirlockRejectedError extends AirlockClientError {
  override readonly name = 'AirlockRejectedError';
  readonly reason: string | null;
  /** Who rejected it (a user id). */
  readonly decidedBy: string | null;
  readonly request: ApprovalView;

  constructor(request: ApprovalView) {
    super('request_rejected', `request ${request.request_id} was rejected${request.decision_reason ? `: ${request.decision_reason}` : ''}`);
    this.reason = request.decision_reason;
    this.decidedBy = request.decided_by;
    this.request = request;
  }
}

/** Nobody decided the request in time (or its approval was not used in time). Nothing ran. */
export class AirlockExpiredError extends AirlockClientError {
  override readonly name = 'AirlockExpiredError';
  readonly request: ApprovalView;

  constructor(request: ApprovalView) {
    super('request_expired', `request ${request.request_id} expired (at ${request.expires_at}) without being ${request.status === 'EXPIRED' && request.decided_at ? 'used' : 'decided'}`);
    this.request = request;
  }
}

/** The client stopped waiting (`timeoutMs`); the request is still pending on the server. Nothing ran. */
export class AirlockTimeoutError extends AirlockClientError {
  override readonly name = 'AirlockTimeoutError';
  readonly request: ApprovalView;

  constructor(request: ApprovalView, timeoutMs: number) {
    super('decision_timeout', `no decision on request ${request.request_id} within ${timeoutMs} ms; it is still ${request.status}`);
    this.request = request;
  }
}

/** A receipt that does not verify: bad signature, unknown key, or not stating what was expected. */
export class AirlockReceiptError extends AirlockClientError {
  override readonly name = 'AirlockReceiptError';

  constructor(message: string, cause?: unknown) {
    super('receipt_invalid', message, { cause });
  }
}

type ApiErrorClass = new (init: ConstructorParameters<typeof AirlockApiError>[0]) => AirlockApiError;

const BY_STATUS: Readonly<Record<number, ApiErrorClass>> = {
  400: AirlockBadRequestError,
  401: AirlockUnauthorizedError,
  403: AirlockForbiddenError,
  404: AirlockNotFoundError,
  409: AirlockConflictError,
  422: AirlockUnprocessableError,
};

/** The gateway's reference answer to a replayed token carries no problem code; this is the server's own for it. */
const REPLAY_TEXT = 'Token has already been used';

/** The typed error of an answer with an error status. */
export function apiError(status: number, body: unknown, request: { method: string; path: string; retryAfterMs?: number | undefined }): AirlockApiError {
  const problem: Problem = body !== null && typeof body === 'object' ? (body as Problem) : typeof body === 'string' && body !== '' ? { detail: body.slice(0, 500) } : {};
  const gatewayError = typeof problem.error === 'string' ? problem.error : undefined;
  const code = typeof problem.code === 'string' ? problem.code : gatewayError === REPLAY_TEXT ? 'token_replayed' : `http_${status}`;
  const detail = typeof problem.detail === 'string' ? problem.detail : gatewayError;
  const init = { status, code, detail, problem, method: request.method, path: request.path };
  if (status === 429) return new AirlockRateLimitError({ ...init, retryAfterMs: request.retryAfterMs });
  if (status >= 500) return new AirlockServerError(init);
  const Class = BY_STATUS[status] ?? AirlockApiError;
  return new Class(init);
}

/** What an aborted signal rejects with: its reason when that is an error, else a DOMException named AbortError. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
