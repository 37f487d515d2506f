import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** One year, with subdomains: what HSTS preload lists ask for. */
export const HSTS = 'max-age=31536000; includeSubDomains';

/** Headers a browser client may send across origins: the native bearer, the reference aliases, ours. */
const CORS_ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'x-request-id',
  'x-capability-token',
  'x-wingman-approval-request-key',
  'x-wingman-approval-read-key',
  'x-wingman-approval-decide-key',
];

/** Response headers a cross-origin script may read. */
const CORS_EXPOSED_HEADERS = ['x-request-id', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'www-authenticate'];

/**
 * Security headers on every response (errors and 404s included) and CORS when an allowlist is configured.
 *
 * Helmet writes its headers onto the raw response in an onRequest hook, before any route or error handler
 * runs, so problem+json answers carry them as well.
 */
export function registerSecurity(app: FastifyInstance, options: { corsOrigins: readonly string[] }): void {
  app.register(helmet, {
    global: true,
    // Strict: only this origin, no inline script or style, no plugins, never framed (also X-Frame-Options).
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
      },
    },
    xFrameOptions: { action: 'deny' },
    xContentTypeOptions: true,
    // no-referrer rather than strict-origin-when-cross-origin: paths here carry approval and execution ids,
    // and neither the API nor the console needs the Referer header, so nothing is sent anywhere.
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS is set below, and only on requests that came over TLS: over plain HTTP browsers ignore it, and
    // a local or test server must never pin itself to HTTPS.
    strictTransportSecurity: false,
  });
  app.addHook('onRequest', async (request, reply) => {
    // request.protocol honours X-Forwarded-Proto only when server.trustProxy is on.
    if (request.protocol === 'https') reply.raw.setHeader('strict-transport-security', HSTS);
  });

  // CORS is off unless origins are listed: then no Access-Control-* header is ever sent.
  if (options.corsOrigins.length > 0) {
    app.register(cors, {
      origin: [...options.corsOrigins],
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      // API keys travel in headers, never cookies.
      credentials: false,
      maxAge: 600,
      // A preflight without Access-Control-Request-Method is not a preflight: 400.
      strictPreflight: true,
    });
  }
}
