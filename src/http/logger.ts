import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** Headers that carry credentials: never written to a log. */
export const SECRET_HEADERS = [
  'authorization',
  'cookie',
  'set-cookie',
  'x-capability-token',
  'x-wingman-approval-request-key',
  'x-wingman-approval-read-key',
  'x-wingman-approval-decide-key',
  'x-api-key',
  'x-csrf-token',
  'x-introspect-secret',
] as const;

/** Field names that carry secrets wherever they appear one or two levels deep in a log line. */
const SECRET_FIELDS = [
  'password',
  'token',
  'secret',
  'apiKey',
  'api_key',
  'privateKey',
  'private_key',
  'totp',
  'totp_code',
  'code',
  'access_token',
  'refresh_token',
  'csrf_token',
  'recovery_codes',
] as const;

export function loggerOptions(level: string): LoggerOptions {
  const paths = [
    ...SECRET_HEADERS.flatMap((header) => [`req.headers["${header}"]`, `res.headers["${header}"]`, `headers["${header}"]`]),
    ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
  ];
  return {
    level,
    base: { service: 'airlock' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths, censor: '[redacted]' },
  };
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
