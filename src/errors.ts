/**
 * The one error type of Airlock. Every failure a user can act on carries a stable, machine-readable
 * `code`; the HTTP layer maps it to RFC 9457 problem+json and the CLI prints it without a stack trace.
 */
export class AirlockError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AirlockError';
    this.code = code;
    this.status = options.status ?? 500;
    this.details = options.details;
  }
}

export function isAirlockError(error: unknown): error is AirlockError {
  return error instanceof AirlockError;
}

/** The message of anything thrown, for places that must not print a stack. */
export function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(messageOf).join('; ');
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
