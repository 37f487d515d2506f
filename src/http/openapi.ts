import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { createJsonSchemaTransform } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';
import { VERSION } from '../version.js';
import { ProblemSchema } from './problem.js';

/** The API document (OpenAPI 3.1), public. */
export const DOCUMENT_PATH = '/openapi.json';
/** The browsable reference (Swagger UI) of the API role. */
export const DOCS_PATH = '/docs';

/** What a route answers, for the document: `schema` in `contentType` (JSON by default), or only words. */
export interface ResponseDoc {
  readonly description: string;
  readonly contentType?: string;
  readonly schema?: ZodType;
}

/**
 * What the document says of a route beyond its validation schemas. Kept out of `schema` on purpose:
 * Fastify compiles `schema.body` into validation and `schema.response` into serialization, and these
 * describe without changing what the route accepts or sends.
 */
export interface RouteDocs {
  /** A body the route hands to a library that validates it itself (MCP's JSON-RPC): documented, not validated here. */
  readonly body?: ZodType;
  /** Answers by status, instead of the plain "200 OK"; 4XX and 5XX are problem+json unless given here. */
  readonly responses?: Readonly<Record<string, ResponseDoc>>;
  /** A credential of the route's own (capability token, introspection secret), for routes without a scope. */
  readonly security?: ReadonlyArray<Readonly<Record<string, readonly string[]>>>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    openapi?: RouteDocs;
  }
}

/** The paths of the reference (Wingman) API: served unchanged for existing clients, not deprecated. */
export const REFERENCE_TAG = 'reference-compatible';

const TAGS: ReadonlyArray<{ readonly name: string; readonly description: string; readonly paths: readonly string[] }> = [
  { name: 'approvals', description: 'Requests for an operation, their decisions, the policy that judges them', paths: ['/approvals', '/v1/approvals', '/v1/policy', '/v1/stats'] },
  { name: 'tokens', description: 'Capability tokens: minted for one approved operation, used once at a gateway', paths: ['/gateway/token', '/v1/tokens'] },
  { name: 'gateway', description: 'Execution with a capability token, and executions as recorded', paths: ['/gateway/execute', '/v1/execute', '/v1/executions'] },
  { name: 'keys', description: 'Public keys (JWKS): token keys on the API role, the receipt key on a gateway', paths: ['/.well-known/jwks.json'] },
  { name: 'identity', description: 'Login, sessions, access tokens, API keys, users, TOTP and step-up challenges', paths: ['/v1/whoami', '/v1/auth', '/v1/keys', '/v1/users', '/v1/challenges'] },
  { name: 'targets', description: 'Where operations run (targets.yaml)', paths: ['/v1/targets'] },
  { name: 'admin', description: 'Reloading and checking the configuration, the instance overview', paths: ['/v1/admin'] },
  { name: 'audit', description: 'The hash-chained audit log: events, status, verification, export', paths: ['/v1/audit'] },
  { name: 'incidents', description: 'Incidents recorded in the audit chain', paths: ['/v1/incidents'] },
  { name: 'events', description: 'Server-Sent Events of what the caller may see', paths: ['/v1/events'] },
  { name: 'webhooks', description: 'Webhook subscriptions and their deliveries', paths: ['/v1/webhooks'] },
  { name: 'telegram', description: "Telegram's updates in webhook mode", paths: ['/v1/telegram'] },
  { name: 'mcp', description: 'The MCP server (Streamable HTTP) and its RFC 9728 metadata', paths: ['/mcp', '/.well-known/oauth-protected-resource/mcp'] },
  { name: 'workspaces', description: 'Isolated workspaces with MCP file and git tools', paths: ['/v1/workspaces', '/.well-known/oauth-protected-resource/v1/workspaces'] },
  { name: 'health', description: 'Liveness, readiness, metrics', paths: ['/health', '/ready', '/metrics'] },
  { name: 'console', description: 'The web console (HTML)', paths: ['/app'] },
  { name: 'documentation', description: 'This document', paths: [DOCUMENT_PATH] },
  { name: REFERENCE_TAG, description: 'The reference Wingman API paths, kept so existing clients and scripts work unchanged: the same handlers and answers as their /v1 twins', paths: ['/approvals', '/gateway', '/health'] },
];

const startsAt = (url: string, path: string): boolean => url === path || url.startsWith(`${path}/`);

/** The tags of a path: its domain, and `reference-compatible` for the reference paths. */
export function tagsOf(url: string): string[] {
  if (url === '/') return ['console'];
  const domain = TAGS.find((tag) => tag.name !== REFERENCE_TAG && tag.paths.some((path) => startsAt(url, path)));
  const reference = TAGS.find((tag) => tag.name === REFERENCE_TAG)?.paths.some((path) => startsAt(url, path));
  return [...(domain ? [domain.name] : []), ...(reference ? [REFERENCE_TAG] : [])];
}

const SECURITY_SCHEMES = {
  bearer: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'API key (alk_…) or access token (JWT)',
    description:
      '`Authorization: Bearer <credential>`: an API key (`alk_…`, from `airlock keys create` or POST /v1/keys) or an access token (POST /v1/auth/login with `"tokens": true`, POST /v1/auth/token). ' +
      "A key's scopes are cut to its owner's role at every use. The names in a security requirement are the scope the route needs.",
  },
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: 'airlock_session',
    description: 'The session cookie set by POST /v1/auth/login (the web console). State-changing requests made with it must send the CSRF token of the session in `X-CSRF-Token`.',
  },
  wingmanRequestKey: { type: 'apiKey', in: 'header', name: 'X-Wingman-Approval-Request-Key', description: 'Reference alias: an API key in this header (any of the three `X-Wingman-Approval-*-Key` headers is accepted on any route).' },
  wingmanReadKey: { type: 'apiKey', in: 'header', name: 'X-Wingman-Approval-Read-Key', description: 'Reference alias: an API key in this header.' },
  wingmanDecideKey: { type: 'apiKey', in: 'header', name: 'X-Wingman-Approval-Decide-Key', description: 'Reference alias: an API key in this header.' },
  capabilityToken: { type: 'apiKey', in: 'header', name: 'X-Capability-Token', description: 'The capability token (EdDSA JWT) minted for one approved operation; single use.' },
  capabilityBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The capability token as `Authorization: Bearer <token>`.' },
  introspection: {
    type: 'http',
    scheme: 'bearer',
    description: 'The introspection secret (`AIRLOCK_INTROSPECT_SECRET`) as `Authorization: Bearer <secret>`, or in `X-Introspect-Secret`.',
  },
  telegramSecret: { type: 'apiKey', in: 'header', name: 'X-Telegram-Bot-Api-Secret-Token', description: 'The webhook secret configured for the bot.' },
} as const;

/** The reference header that carries a key for a reference path, by the scope the path needs. */
const REFERENCE_HEADER: Readonly<Record<string, keyof typeof SECURITY_SCHEMES>> = {
  'approvals:request': 'wingmanRequestKey',
  'approvals:read': 'wingmanReadKey',
  'approvals:decide': 'wingmanDecideKey',
  // Minting on /gateway/token: the reference sends the decide key.
  authenticated: 'wingmanDecideKey',
};

const PROBLEM_RESPONSE = { $ref: '#/components/responses/Problem' };

/** `const: x` as `enum: [x]`, as @fastify/swagger writes the route schemas (Swagger UI shows no `const`). */
function constAsEnum(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(constAsEnum);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).map(([key, child]) => {
    if (key === 'const') return ['enum', [child]];
    // Property names are names, not keywords: a property called "const" stays one.
    if (key === 'properties' && child !== null && typeof child === 'object') return [key, Object.fromEntries(Object.entries(child).map(([name, sub]) => [name, constAsEnum(sub)]))];
    return [key, constAsEnum(child)];
  });
  return Object.fromEntries(entries);
}

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of a schema the document shows without validating with it. */
function jsonSchemaOf(schema: ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  return constAsEnum(json) as Record<string, unknown>;
}

function responseOf(doc: ResponseDoc): Record<string, unknown> {
  if (!doc.schema && !doc.contentType) return { description: doc.description };
  return { description: doc.description, content: { [doc.contentType ?? 'application/json']: { schema: doc.schema ? jsonSchemaOf(doc.schema, 'output') : {} } } };
}

/** `/v1/approvals/:id` as OpenAPI writes it: `/v1/approvals/{id}`. */
const templated = (url: string): string => url.replace(/:(\w+)/g, '{$1}');

type Operation = Record<string, unknown> & { responses?: Record<string, unknown>; security?: unknown[]; tags?: string[] };

/**
 * The document of one app, from the zod schemas its routes declare (through fastify-type-provider-zod)
 * and their `config`: the scope, a route's own credential, answers. Built by @fastify/swagger on the
 * first request for it, not at start.
 */
function documentOptions(options: { title: string; description: string }) {
  // Schemas are written inline: naming shared ones as components would take them out of zod's global
  // registry, which holds their descriptions and metadata (and an id there would change every other
  // JSON Schema made of them, such as the MCP tools').
  const zodTransform = createJsonSchemaTransform({ skipList: [] });
  // What only the final pass can write, by "METHOD /path/{param}": whole response maps, and bodies that
  // may be left out (@fastify/swagger marks every body required).
  const responses = new Map<string, Record<string, unknown>>();
  const optionalBodies = new Set<string>();

  const transform = ({ schema, url, route, ...document }: { schema: FastifySchema; url: string; route: RouteOptions; openapiObject: object }) => {
    const result = zodTransform({ schema, url, route, ...document } as never) as { schema: (FastifySchema & Record<string, unknown>) | undefined; url: string };
    const base = result.schema ?? {};
    if (base.hide) return { schema: base, url };
    const config = route.config ?? {};
    const docs = config.openapi ?? {};
    const scope = config.scope;
    const tags = tagsOf(url);
    const out: FastifySchema & Record<string, unknown> = { ...base, tags: [...new Set([...tags, ...(base.tags ?? [])])], 'x-airlock-scope': scope ?? 'public' };
    if (scope) {
      const names = scope === 'authenticated' ? [] : [scope];
      const alias = tags.includes(REFERENCE_TAG) ? REFERENCE_HEADER[scope] : undefined;
      out.security = [{ bearer: names }, { session: names }, ...(alias ? [{ [alias]: names }] : [])];
      const needs = scope === 'authenticated' ? 'Any authenticated principal (API key, access token or session).' : `Requires the scope \`${scope}\` (the admin scope includes every other).`;
      out.description = [needs, base.description].filter(Boolean).join('\n\n');
    } else if (docs.security) {
      out.security = docs.security;
    } else {
      // Public: answers without credentials (the document says so rather than inheriting a default).
      out.security = [];
    }
    if (docs.body && !out.body) out.body = jsonSchemaOf(docs.body, 'input');
    const keys = [route.method].flat().map((method) => `${method.toUpperCase()} ${templated(url)}`);
    const body = schema?.body;
    // Fastify hands a request without a body to validation as undefined (or null): such a body is optional.
    if (body instanceof z.ZodType && (body.safeParse(undefined).success || body.safeParse(null).success)) for (const key of keys) optionalBodies.add(key);
    if (docs.responses) {
      const answers = Object.fromEntries(Object.entries(docs.responses).map(([status, doc]) => [status, responseOf(doc)]));
      for (const key of keys) responses.set(key, answers);
    }
    return { schema: out, url };
  };

  const transformObject = ({ openapiObject }: { openapiObject: Record<string, unknown> }) => {
    const paths = (openapiObject.paths ?? {}) as Record<string, Record<string, Operation>>;
    const usedTags = new Set<string>();
    const usedSchemes = new Set<string>();
    for (const [path, item] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const key = `${method.toUpperCase()} ${path}`;
        const given = responses.get(key);
        if (optionalBodies.has(key) && operation.requestBody) (operation.requestBody as { required: boolean }).required = false;
        const defaults = operation.responses ?? {};
        // @fastify/swagger writes "200 Default Response" where a route declares no answer.
        operation.responses = given ?? (defaults['200'] && Object.keys(defaults).length === 1 ? { '200': { description: 'OK' } } : defaults);
        operation.responses['4XX'] ??= PROBLEM_RESPONSE;
        operation.responses['5XX'] ??= PROBLEM_RESPONSE;
        for (const tag of operation.tags ?? []) usedTags.add(tag);
        // The reference paths are part of the contract, not on their way out.
        if (operation.tags?.includes(REFERENCE_TAG)) operation.deprecated = false;
        for (const requirement of (operation.security ?? []) as Record<string, unknown>[]) for (const name of Object.keys(requirement)) usedSchemes.add(name);
      }
    }
    const components = (openapiObject.components ?? {}) as Record<string, unknown>;
    const schemes = Object.fromEntries(Object.entries(SECURITY_SCHEMES).filter(([name]) => usedSchemes.has(name)));
    return {
      ...openapiObject,
      tags: TAGS.filter((tag) => usedTags.has(tag.name)).map(({ name, description }) => ({ name, description })),
      components: { ...components, securitySchemes: schemes },
    };
  };

  return {
    openapi: {
      openapi: '3.1.0',
      info: { title: options.title, version: VERSION, description: options.description, license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
      components: {
        // Every scheme a route may name; the final pass keeps those this app's routes use.
        securitySchemes: { ...SECURITY_SCHEMES },
        schemas: { Problem: jsonSchemaOf(ProblemSchema, 'output') },
        responses: {
          Problem: { description: 'An error, as RFC 9457 problem details with a stable `code`', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
        },
      },
    },
    transform,
    transformObject,
  } as const;
}

const API_DESCRIPTION = [
  'Airlock: an approval gate between AI agents (and people) and real machines. An operation is requested, decided, minted into a single-use capability token, and executed by a gateway; every step is written to a hash-chained audit log.',
  'Authenticate with `Authorization: Bearer <API key (alk_…) or access token>`, or the session cookie of a login. Each operation names the scope it needs (also in `x-airlock-scope`).',
  'Errors are `application/problem+json` (RFC 9457) with a stable `code`. The reference Wingman paths (tag `reference-compatible`) are served alongside `/v1`.',
].join('\n\n');

const GATEWAY_DESCRIPTION = [
  'An Airlock gateway: verifies a capability token (EdDSA, single use, bound to the operation, target and environment), runs the operation, and answers with a signed receipt.',
  'Errors are `application/problem+json` (RFC 9457) with a stable `code`; a replayed token answers the reference body.',
].join('\n\n');

/**
 * The API document at /openapi.json and, on the API role, Swagger UI at /docs. Registered before the
 * routes so that @fastify/swagger sees every one of them.
 */
export function registerOpenApi(app: FastifyInstance, options: { role: 'api' | 'gateway' }): void {
  const gateway = options.role === 'gateway';
  app.register(swagger, documentOptions({ title: gateway ? 'Airlock gateway' : 'Airlock API', description: gateway ? GATEWAY_DESCRIPTION : API_DESCRIPTION }) as never);

  app.register(async (scope) => {
    // Public: it describes the routes, it reveals no data; built once, on the first request.
    scope.get(
      DOCUMENT_PATH,
      {
        schema: { summary: 'This document (OpenAPI 3.1)' },
        config: { openapi: { responses: { '200': { description: 'The OpenAPI document', contentType: 'application/json' } } } },
      },
      async (_request, reply) => reply.header('cache-control', 'no-cache').send(app.swagger()),
    );
  });

  // A gateway holds executor credentials: it serves what executing needs and its document, not a web UI.
  if (gateway) return;
  app.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    // No top bar: it holds a box that loads any URL's document into the page.
    uiConfig: { layout: 'BaseLayout', deepLinking: true, docExpansion: 'list', defaultModelsExpandDepth: 0, tryItOutEnabled: false },
    validatorUrl: false,
    theme: { title: 'Airlock API reference' },
    // The page loads only scripts and styles from /docs/static: no inline script, so script-src stays
    // 'self'. The one relaxation, for /docs only (this hook is confined to the plugin's routes): Swagger
    // UI draws some icons as data: SVG images, which need `img-src 'self' data:`. An image cannot run
    // script. Every other route keeps the policy of security.ts.
    transformStaticCSP: (header) => `${header};img-src 'self' data:`,
  });
}
