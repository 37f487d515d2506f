import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { startGatewayServer, type RunningServer } from '../../src/http/server.js';
import type { GatewayRuntime } from '../../src/runtime.js';
import { VERSION } from '../../src/version.js';
import { bearer, http } from '../helpers/http.js';
import { startTestServer, testConfig } from '../helpers/server.js';
import { TelegramStandIn } from '../helpers/telegram.js';
import { tmpDir } from '../helpers/tmp.js';

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Routes the document leaves out on purpose: the documentation page's own files (/docs: it shows the
 * document, it is not part of what it documents) and the console's files below /app, a wildcard that
 * spans slashes, which an OpenAPI path template cannot express (/app itself is documented).
 */
const UNDOCUMENTED = (url: string): boolean => url === '/docs' || url.startsWith('/docs/') || url === '/app/*';

/** "GET /v1/approvals/{id}" for every operation of a document. */
function operationsOf(document: Json): Map<string, Json> {
  const operations = new Map<string, Json>();
  for (const [path, item] of Object.entries<Json>(document.paths)) {
    for (const method of METHODS) if (item[method]) operations.set(`${method.toUpperCase()} ${path}`, item[method]);
  }
  return operations;
}

/** "GET /v1/approvals/:id" as the document writes it. */
const documented = (route: RouteEntry): string => `${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`;

async function validOpenApi31(document: Json): Promise<void> {
  const validator = new Validator();
  const result = await validator.validate(document);
  expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)?.slice(0, 2000)).toEqual([]);
  expect(result.valid).toBe(true);
  expect(validator.version).toBe('3.1');
}

/** Every route of the app is an operation of the document, with the scope it really requires, and nothing else is. */
function expectEveryRoute(catalog: readonly RouteEntry[], document: Json): void {
  const operations = operationsOf(document);
  const routes = catalog.filter((route) => route.method !== 'HEAD' && !UNDOCUMENTED(route.url));
  expect(routes.length).toBeGreaterThan(0);
  const missing = routes.filter((route) => !operations.has(documented(route))).map(documented);
  expect(missing, 'routes missing from the document').toEqual([]);
  const extra = [...operations.keys()].filter((operation) => !routes.some((route) => documented(route) === operation));
  expect(extra, 'operations without a route').toEqual([]);
  for (const route of routes) expect(operations.get(documented(route))?.['x-airlock-scope'], documented(route)).toBe(route.scope);
}

function validator(document: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // Component references resolve against the document itself.
  ajv.addSchema({ $id: 'doc', components: document.components }, 'doc');
  return (schema: Json) => ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')));
}

describe('the API document (OpenAPI 3.1) of the api role', () => {
  let server: RunningServer;
  let document: Json;
  let operations: Map<string, Json>;

  beforeAll(async () => {
    server = await startTestServer();
    const response = await http('GET', `${server.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    document = response.body;
    operations = operationsOf(document);
  });

  it('is public, and a valid OpenAPI 3.1 document with the title and version of this build', async () => {
    await validOpenApi31(document);
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toMatchObject({ title: 'Airlock API', version: VERSION });
  });

  it('has an operation for every route the app registered, and none for a route it does not have', () => {
    expectEveryRoute(server.app.routeCatalog, document);
  });

  it('carries the real constraints of the request schemas', () => {
    const request = operations.get('POST /v1/approvals')?.requestBody;
    expect(request.required).toBe(true);
    const body = request.content['application/json'].schema;
    expect(body.required).toEqual(expect.arrayContaining(['worker_id', 'task_name', 'deployment_env']));
    expect(body.additionalProperties).toBe(false);
    // The environments this instance serves (the default four).
    expect(body.properties.deployment_env.enum).toEqual(server.runtime.config.environments.allowed ?? server.runtime.config.environments.known);
    expect(body.properties.deployment_env.enum).toEqual(['dev', 'test', 'stg', 'prd']);
    expect(body.properties.worker_id).toMatchObject({ type: 'string', minLength: 1, maxLength: 200 });
    expect(body.properties.op.oneOf.map((variant: Json) => variant.properties.name.enum[0])).toContain('file.read');
    // The reference path takes the same body.
    expect(operations.get('POST /approvals/request')?.requestBody.content['application/json'].schema).toEqual(body);

    const list = operations.get('GET /v1/approvals')?.parameters as Json[];
    expect(list.find((parameter) => parameter.name === 'limit')).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500 } });
    const id = (operations.get('GET /v1/approvals/{id}')?.parameters as Json[]).find((parameter) => parameter.in === 'path');
    expect(id).toMatchObject({ name: 'id', required: true, schema: { type: 'string', maxLength: 100 } });
    // A decision may be sent without a body; a login may not.
    expect(operations.get('POST /v1/approvals/{id}/approve')?.requestBody.required).toBe(false);
    expect(operations.get('POST /v1/auth/login')?.requestBody.required).toBe(true);
    // Introspection takes a form (RFC 7662) as well as JSON.
    expect(Object.keys(operations.get('POST /v1/auth/introspect')?.requestBody.content)).toEqual(['application/x-www-form-urlencoded', 'application/json']);
  });

  it('names the scope of every operation, in its security requirements and its description', () => {
    const schemes = document.components.securitySchemes as Json;
    expect(schemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.bearer.bearerFormat).toContain('alk_');
    for (const [name, operation] of operations) {
      const scope = operation['x-airlock-scope'];
      for (const requirement of operation.security as Json[]) for (const scheme of Object.keys(requirement)) expect(schemes[scheme], `${name} names ${scheme}`).toBeDefined();
      if (scope === 'public') continue;
      expect(operation.security, name).toContainEqual({ bearer: scope === 'authenticated' ? [] : [scope] });
      expect(operation.description, name).toContain(scope === 'authenticated' ? 'Any authenticated principal' : `\`${scope}\``);
    }
    expect(operations.get('POST /v1/approvals/{id}/approve')?.security).toEqual([{ bearer: ['approvals:decide'] }, { session: ['approvals:decide'] }]);
    expect(operations.get('POST /approvals/{id}/approve')?.security).toContainEqual({ wingmanDecideKey: ['approvals:decide'] });
    // The gate takes a capability token, not a principal.
    expect(operations.get('POST /v1/execute')?.security).toEqual([{ capabilityToken: [] }, { capabilityBearer: [] }]);
    expect(operations.get('GET /health')?.security).toEqual([]);
  });

  it('tags every operation with its domain, and the reference paths as reference-compatible, not deprecated', () => {
    const declared = new Set((document.tags as Json[]).map((tag) => tag.name));
    for (const [name, operation] of operations) {
      expect(operation.tags?.length, name).toBeGreaterThan(0);
      for (const tag of operation.tags) expect(declared.has(tag), `${name}: ${tag}`).toBe(true);
    }
    const reference = ['POST /approvals/request', 'GET /approvals/{id}', 'POST /approvals/{id}/approve', 'POST /approvals/{id}/reject', 'POST /gateway/token', 'POST /gateway/execute', 'GET /health'];
    for (const name of reference) {
      expect(operations.get(name)?.tags, name).toContain('reference-compatible');
      expect(operations.get(name)?.deprecated, name).toBe(false);
    }
    const tagged = [...operations].filter(([, operation]) => operation.tags.includes('reference-compatible')).map(([name]) => name);
    expect(tagged.sort()).toEqual([...reference].sort());
    expect(operations.get('POST /v1/approvals')?.tags).toEqual(['approvals']);
  });

  it('describes errors with the shared problem+json component, which real error answers match', async () => {
    expect(document.components.responses.Problem.content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    for (const [name, operation] of operations) expect(operation.responses['4XX'], name).toEqual({ $ref: '#/components/responses/Problem' });
    const problem = validator(document)({ $ref: '#/components/schemas/Problem' });
    const { key } = await server.runtime.keys.create({ name: 'reader', scopes: ['approvals:read'], actor: 'test' });
    const answers = [
      await http('GET', `${server.url}/v1/approvals`),
      await http('GET', `${server.url}/v1/approvals?limit=0`, { headers: bearer(key) }),
      await http('POST', `${server.url}/v1/approvals`, { headers: bearer(key), json: {} }),
      await http('GET', `${server.url}/v1/nothing-here`),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([401, 400, 403, 404]);
    for (const answer of answers) {
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(problem(answer.body), JSON.stringify(problem.errors)).toBe(true);
    }
  });

  it('documents answers that match what the routes send', async () => {
    const check = validator(document);
    const health = await http('GET', `${server.url}/health`);
    expect(health.status).toBe(200);
    const healthSchema = operations.get('GET /health')?.responses['200'].content['application/json'].schema;
    const matches = check(healthSchema);
    expect(matches(health.body), JSON.stringify(matches.errors)).toBe(true);
    expect(healthSchema.properties.service.enum).toEqual(['execution-gateway']);

    const { key } = await server.runtime.keys.create({ name: 'agent', scopes: ['approvals:request'], actor: 'test' });
    const asked = { worker_id: 'agent-1', task_name: 'look around', deployment_env: 'dev', command: 'uptime' };
    const body = check(operations.get('POST /v1/approvals')?.requestBody.content['application/json'].schema);
    expect(body(asked), JSON.stringify(body.errors)).toBe(true);
    expect(body({ ...asked, deployment_env: 'moon' })).toBe(false);
    const created = await http('POST', `${server.url}/v1/approvals`, { headers: bearer(key), json: asked });
    expect(created.status).toBe(201);
    expect(Object.keys(operations.get('POST /v1/approvals')?.responses)).toEqual(['201', '4XX', '5XX']);
    // What the document lists, the server serves; another environment is refused.
    const elsewhere = await http('POST', `${server.url}/v1/approvals`, { headers: bearer(key), json: { ...asked, deployment_env: 'moon' } });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.code).toBe('environment_not_allowed');

    expect(operations.get('GET /v1/events')?.responses['200'].content).toHaveProperty(['text/event-stream']);
    expect(operations.get('POST /v1/execute')?.responses['409'].content['application/json'].schema.properties.error.enum).toEqual(['Token has already been used']);
  });

  it('answers other methods on /openapi.json as any unknown route: 404 problem, with the strict headers', async () => {
    for (const method of ['POST', 'DELETE']) {
      const response = await http(method, `${server.url}/openapi.json`, method === 'POST' ? { json: {} } : {});
      expect(response.status).toBe(404);
      expect(response.body.code).toBe('not_found');
    }
    const response = await http('GET', `${server.url}/openapi.json`);
    expect(response.headers['content-security-policy']).toBe("default-src 'self';base-uri 'self';form-action 'self';frame-ancestors 'none';object-src 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('the API document of a server with Telegram in webhook mode', () => {
  it('documents the webhook route too, with its own secret as the credential', async () => {
    const token = '123456789:stand-in-token-for-the-tests_abcdef';
    const standIn = await TelegramStandIn.start(token);
    try {
      const server = await startTestServer({
        telegram: { botToken: token, apiRoot: standIn.apiRoot, chats: {}, mode: 'webhook', webhookSecret: 'w3bh00k-secret-for-the-stand-in-tests_0123456789', webhookUrl: 'https://airlock.example.com/v1/telegram/webhook' },
      });
      const document = (await http('GET', `${server.url}/openapi.json`)).body;
      await validOpenApi31(document);
      expectEveryRoute(server.app.routeCatalog, document);
      const webhook = operationsOf(document).get('POST /v1/telegram/webhook');
      expect(webhook?.security).toEqual([{ telegramSecret: [] }]);
      expect(webhook?.tags).toEqual(['telegram']);
      expect(document.components.securitySchemes.telegramSecret).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-Telegram-Bot-Api-Secret-Token' });
      await server.close();
    } finally {
      await standIn.close();
    }
  });
});

describe('the API document of the gateway role', () => {
  let gateway: RunningServer<GatewayRuntime>;
  let document: Json;

  beforeAll(async () => {
    // The token keys it trusts: a JWKS file, as a gateway set up beside an API instance has.
    const jwks = join(tmpDir(), 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }), kid: 'test', alg: 'EdDSA', use: 'sig' }] }));
    gateway = await startGatewayServer(testConfig({ role: 'gateway', tokens: { jwksFile: jwks } }), createLogger('silent'));
    const response = await http('GET', `${gateway.url}/openapi.json`);
    expect(response.status).toBe(200);
    document = response.body;
    return () => gateway.close();
  });

  it('is a valid OpenAPI 3.1 document of exactly the routes the gateway serves', async () => {
    await validOpenApi31(document);
    expect(document.info).toMatchObject({ title: 'Airlock gateway', version: VERSION });
    expectEveryRoute(gateway.app.routeCatalog, document);
    const operations = operationsOf(document);
    expect(operations.get('POST /v1/execute')?.security).toEqual([{ capabilityToken: [] }, { capabilityBearer: [] }]);
    expect(operations.get('POST /gateway/execute')?.tags).toEqual(['gateway', 'reference-compatible']);
    expect(operations.has('POST /v1/approvals')).toBe(false);
    // Only the schemes its routes use.
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['capabilityBearer', 'capabilityToken']);
  });

  it('serves no documentation page: a gateway keeps to executing', async () => {
    expect((await http('GET', `${gateway.url}/docs`)).status).toBe(404);
  });
});
