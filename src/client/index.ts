/**
 * airlock/client: a typed client of the Airlock HTTP API for any runtime with fetch (Node, browsers,
 * Deno, Bun, workers), and `gate()` to put an agent's tools behind Airlock's approvals.
 * It imports nothing from the server at run time: its types come from the server's schemas, erased.
 */
export { AirlockClient, AirlockClient as Airlock, createClient, type AirlockClientOptions, type WaitOptions } from './client.js';
export { commandLine, type GateDescription, type GateOptions, type RunOptions, type RunResult } from './gate.js';
export { verifyReceipt, sha256Hex, type VerifyReceiptOptions } from './receipts.js';
export type { EventStreamOptions } from './streams.js';
export type { CallOptions, Credential, FetchLike, RetryOptions } from './transport.js';
export {
  AirlockApiError,
  AirlockBadRequestError,
  AirlockClientError,
  AirlockConflictError,
  AirlockExpiredError,
  AirlockForbiddenError,
  AirlockNetworkError,
  AirlockNotFoundError,
  AirlockRateLimitError,
  AirlockReceiptError,
  AirlockRejectedError,
  AirlockServerError,
  AirlockTimeoutError,
  AirlockUnauthorizedError,
  AirlockUnprocessableError,
  type Problem,
} from './errors.js';
export type * from './types.js';
