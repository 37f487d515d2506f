import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/executors/container-ops.js';
import { DockerExecutor, engineClient } from '../../src/executors/docker.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { knownVariable } from './variables.js';

/**
 * deploy/compose.yaml against the Compose Specification's JSON schema, vendored in
 * test/fixtures/compose-spec.json (compose-spec/compose-spec, schema/compose-spec.json as of commit
 * a08f8d51631b7127ddac3d2c65537db429d0f1d0; see compose-spec.json.source), and the privilege split it
 * must keep. There is no container engine here: `docker compose up` itself is a manual step.
 */
const composeText = readFileSync(join(REPO_ROOT, 'deploy/compose.yaml'), 'utf8');
/** The file as compose reads it: YAML merge keys (<<) applied, variables not yet interpolated. */
const compose = parse(composeText, { merge: true, maxAliasCount: -1 }) as ComposeFile;
const envExample = readFileSync(join(REPO_ROOT, 'deploy/.env.example'), 'utf8');

interface Service {
  image?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  networks?: string[];
  ports?: string[];
  tmpfs?: string[];
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  restart?: string;
  user?: string;
  network_mode?: string;
  deploy?: { replicas?: number };
}
interface ComposeFile {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean }>;
  volumes: Record<string, unknown>;
}

const services = Object.entries(compose.services);
const service = (name: string): Service => {
  const found = compose.services[name];
  if (!found) throw new Error(`no service ${name} in deploy/compose.yaml`);
  return found;
};
const env = (name: string): Record<string, string> => service(name).environment ?? {};
/** `${NAME…}` references of a piece of text: name and operator (":?", ":-", "" …). */
const references = (text: string): { name: string; operator: string }[] =>
  [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[?-])?/g)].map((match) => ({ name: match[1] as string, operator: match[2] ?? '' }));
const isOneShot = (definition: Service): boolean => definition.restart === 'no';
const ENGINE_SOCKET = /docker\.sock|podman\.sock/;

describe('deploy/compose.yaml: the Compose Specification', () => {
  const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
  addFormats.default(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/compose-spec.json'), 'utf8')) as object);

  it('is valid', () => {
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the validator refuses a broken file (an unknown key, a wrong type, a malformed depends_on)', () => {
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    (broken.services.api as Record<string, unknown>).readonly = true;
    (broken.services.gateway as Record<string, unknown>).cap_drop = 'ALL';
    (broken.services.migrate as Record<string, unknown>).depends_on = { postgres: { condition: 'service_ready' } };
    expect(validate(broken)).toBe(false);
    const messages = (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
    expect(messages).toContain('/services/api must NOT have additional properties');
    expect(messages.some((message) => message.startsWith('/services/gateway/cap_drop '))).toBe(true);
    expect(messages.some((message) => message.startsWith('/services/migrate/depends_on'))).toBe(true);
  });
});

describe('deploy/compose.yaml: services and roles', () => {
  it('has the database, Redis, the migration, both roles, the gateway keys step, the socket proxy and the Telegram worker', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'gateway', 'gateway-keys', 'migrate', 'postgres', 'redis', 'socket-proxy', 'telegram']);
    expect(service('migrate').command).toEqual(['migrate']);
    expect(service('api').command).toEqual(['serve', '--role', 'api']);
    expect(service('gateway').command).toEqual(['serve', '--role', 'gateway']);
    expect(service('telegram').command).toEqual(['serve', '--role', 'api']);
  });

  it('runs the migration to completion before any instance starts', () => {
    expect(service('migrate').depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(service('api').depends_on?.migrate).toEqual({ condition: 'service_completed_successfully' });
    expect(service('api').depends_on?.redis).toEqual({ condition: 'service_healthy' });
    // The gateway starts after the API is healthy (its keys exist, its JWKS answers) and the proxy is up.
    expect(service('gateway').depends_on).toEqual({
      'gateway-keys': { condition: 'service_completed_successfully' },
      api: { condition: 'service_healthy' },
      'socket-proxy': { condition: 'service_healthy' },
    });
    expect(service('gateway-keys').depends_on).toEqual({ api: { condition: 'service_healthy' } });
  });

  it('every service: read-only root, tmpfs /tmp, no capabilities, no-new-privileges', () => {
    for (const [name, definition] of services) {
      expect(definition.read_only, name).toBe(true);
      expect(definition.tmpfs, name).toContain('/tmp');
      expect(definition.cap_drop, name).toEqual(['ALL']);
      expect(definition.security_opt, name).toContain('no-new-privileges:true');
      expect(JSON.stringify(definition), name).not.toMatch(/privileged|cap_add|"host"|pid:|ipc:/);
    }
  });

  it('every long-running service has a health check and restarts; the one-shots do not restart', () => {
    for (const [name, definition] of services) {
      if (isOneShot(definition)) continue;
      expect(definition.restart, name).toBe('unless-stopped');
      expect(definition.healthcheck?.test?.length, name).toBeGreaterThan(0);
    }
    expect(services.filter(([, definition]) => isOneShot(definition)).map(([name]) => name).sort()).toEqual(['gateway-keys', 'migrate']);
    // Airlock's own check asks /health.
    for (const name of ['api', 'gateway', 'telegram']) expect(service(name).healthcheck?.test.join(' ')).toContain("path:'/health'");
  });

  it('keeps state in one named volume per stateful service; Redis holds nothing that must outlive it', () => {
    const named = (definition: Service): string[] => (definition.volumes ?? []).map((volume) => volume.split(':')[0] as string).filter((source) => !source.startsWith('.') && !source.startsWith('/') && !source.startsWith('$'));
    expect(named(service('postgres'))).toEqual(['postgres-data']);
    expect(named(service('api'))).toEqual(['api-data', 'keys']);
    expect(named(service('gateway'))).toEqual(['gateway-data']);
    expect(named(service('telegram'))).toEqual(['telegram-data', 'keys']);
    expect(service('redis').volumes).toBeUndefined();
    expect(service('redis').command?.join(' ')).toContain("--save '' --appendonly no");
    expect(Object.keys(compose.volumes).sort()).toEqual(['api-data', 'gateway-data', 'keys', 'postgres-data', 'telegram-data']);
    // The migration writes nothing that lasts.
    expect(service('migrate').volumes).toBeUndefined();
  });

  it('publishes ports on loopback only (a TLS proxy goes in front)', () => {
    for (const [name, definition] of services) {
      for (const port of definition.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
    expect(services.filter(([, definition]) => definition.ports).map(([name]) => name).sort()).toEqual(['api', 'gateway']);
  });
});

describe('deploy/compose.yaml: the privilege split', () => {
  it('only the socket proxy mounts the engine socket, read-only', () => {
    const mounting = services.filter(([, definition]) => (definition.volumes ?? []).some((volume) => ENGINE_SOCKET.test(volume)));
    expect(mounting.map(([name]) => name)).toEqual(['socket-proxy']);
    expect(service('socket-proxy').volumes).toEqual(['${DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock:ro']);
    // And nobody else names it anywhere (environment, command, …).
    for (const [name, definition] of services) {
      if (name !== 'socket-proxy') expect(JSON.stringify(definition), name).not.toMatch(ENGINE_SOCKET);
    }
  });

  it('only the gateway shares a network with the socket proxy, an internal one, and the proxy answers only the gateway', () => {
    const proxyNetworks = service('socket-proxy').networks ?? [];
    expect(proxyNetworks).toEqual(['engine']);
    expect(compose.networks.engine?.internal).toBe(true);
    const onEngine = services.filter(([, definition]) => (definition.networks ?? []).includes('engine')).map(([name]) => name);
    expect(onEngine.sort()).toEqual(['gateway', 'socket-proxy']);
    expect(service('socket-proxy').command).toContain('-allowfrom=gateway');
    // PostgreSQL and Redis are on the internal backend network only.
    expect(compose.networks.backend?.internal).toBe(true);
    expect(service('postgres').networks).toEqual(['backend']);
    expect(service('redis').networks).toEqual(['backend']);
  });

  it('the API role has no executor credentials: no engine, no SSH keys, no DOCKER_HOST; it holds the signing keys', () => {
    for (const name of ['api', 'telegram']) {
      const definition = service(name);
      expect(definition.networks, name).not.toContain('engine');
      expect(Object.keys(definition.environment ?? {}).filter((key) => /DOCKER|ENGINE|SSH|JWKS/.test(key)), name).toEqual([]);
      expect((definition.volumes ?? []).filter((volume) => /ssh|\.sock/.test(volume)), name).toEqual([]);
    }
    expect(env('api').AIRLOCK_KEYS_DIR).toBe('/var/lib/airlock/keys');
    expect(service('api').volumes).toContain('keys:/var/lib/airlock/keys');
    expect(env('api').AIRLOCK_GATEWAY_URL).toBe('http://gateway:5002');
    // Nobody but the gateway is told about an engine.
    for (const [name, definition] of services) {
      if (name !== 'gateway') expect(Object.keys(definition.environment ?? {}), name).not.toContain('DOCKER_HOST');
    }
  });

  it('the gateway never sees the token or access signing keys: it verifies with the JWKS, and gets only the audit key', () => {
    expect(env('gateway').AIRLOCK_JWKS_URL).toBe('http://api:5002/.well-known/jwks.json');
    expect((service('gateway').volumes ?? []).some((volume) => volume.startsWith('keys:'))).toBe(false);
    // Writers of the keys volume: the api alone. Everyone else mounts it read-only.
    for (const [name, definition] of services) {
      for (const volume of (definition.volumes ?? []).filter((v) => v.startsWith('keys:'))) {
        if (name === 'api') expect(volume).toBe('keys:/var/lib/airlock/keys');
        else expect(volume, name).toMatch(/:ro$/);
      }
    }
    const copy = service('gateway-keys').command?.join(' ') ?? '';
    expect(copy.match(/\/api-keys\/[\w.-]+/g)?.sort()).toEqual(['/api-keys/audit-ed25519.pem', '/api-keys/audit-ed25519.pub.pem']);
    expect(copy).not.toMatch(/token-|access-|secret\.key|\*/);
    expect(copy).toContain('umask 077');
    expect(service('gateway-keys').network_mode).toBe('none');
    expect(env('gateway').AIRLOCK_KEYS_DIR).toBe('/var/lib/airlock/keys');
  });

  it('the Telegram worker is optional (a profile), single, and the only holder of the bot token', () => {
    expect(service('telegram').profiles).toEqual(['telegram']);
    expect(service('telegram').deploy?.replicas).toBe(1);
    const holders = services.filter(([, definition]) => JSON.stringify(definition).includes('TELEGRAM_BOT_TOKEN')).map(([name]) => name);
    expect(holders).toEqual(['telegram']);
    // It is unhealthy unless the bot runs (checks.telegram in /health).
    expect(service('telegram').healthcheck?.test.join(' ')).toContain('checks.telegram');
  });
});

describe('deploy/compose.yaml: variables and deploy/.env.example', () => {
  const all = references(composeText);
  const REQUIRED = ['AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD', 'AIRLOCK_SECRET_KEY', 'DOCKER_GID', 'POSTGRES_PASSWORD', 'REDIS_PASSWORD'];
  const exampleValue = (name: string): string | undefined => new RegExp(`^${name}=(.*)$`, 'm').exec(envExample)?.[1];

  it('requires every secret with ${VAR:?message}, at every use', () => {
    const required = [...new Set(all.filter((ref) => ref.operator === ':?').map((ref) => ref.name))].sort();
    expect(required).toEqual(REQUIRED);
    for (const name of REQUIRED) {
      for (const ref of all.filter((r) => r.name === name)) expect(ref.operator, name).toBe(':?');
    }
    // Each with a message that says what to do.
    for (const match of composeText.matchAll(/\$\{(\w+):\?([^}]*)\}/g)) expect(match[2]?.trim().length, match[1]).toBeGreaterThan(10);
  });

  it('uses no required variable in a profile-gated service (compose reads it even when the profile is off)', () => {
    const telegramText = JSON.stringify(service('telegram'));
    const own = references(telegramText).filter((ref) => !/POSTGRES_PASSWORD|REDIS_PASSWORD|AIRLOCK_SECRET_KEY/.test(ref.name));
    for (const ref of own) expect(ref.operator, ref.name).toBe(':-');
  });

  it('.env.example names every variable compose reads, and gives a value to each required one', () => {
    for (const { name } of all) expect(envExample, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
    for (const name of REQUIRED) expect(exampleValue(name), name).toMatch(/^REPLACE/);
  });

  it('every AIRLOCK_* variable given to a service is one Airlock reads', () => {
    for (const [name, definition] of services) {
      for (const key of Object.keys(definition.environment ?? {}).filter((k) => k.startsWith('AIRLOCK_'))) expect(knownVariable(key), `${name}: ${key}`).toBe(true);
    }
  });

  it('Airlock refuses the placeholders of .env.example: the secret key (too short) and the admin password (weak)', async () => {
    const cwd = tmpDir();
    const secret = await runCli(['config', 'validate', '--data-dir', join(cwd, 'data')], { cwd, env: { AIRLOCK_SECRET_KEY: exampleValue('AIRLOCK_SECRET_KEY') as string } });
    expect(secret.code).toBe(2);
    expect(secret.stdout + secret.stderr).toContain('auth.secretKey: must be at least 32 characters');
    const serve = await runCli(['serve', '--port', '0', '--data-dir', join(cwd, 'data')], {
      cwd,
      env: { AIRLOCK_SECRET_KEY: 'a'.repeat(64), AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: exampleValue('AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD') as string },
    });
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toContain('weak_bootstrap_password');
  });
});

describe('deploy/config/targets.yaml', () => {
  const targets = parse(readFileSync(join(REPO_ROOT, 'deploy/config/targets.yaml'), 'utf8')) as { targets: Record<string, { executor: string; connection: { url?: string } }> };

  it('is valid for Airlock', async () => {
    const cwd = tmpDir();
    const result = await runCli(['config', 'validate', '--json', '--data-dir', join(cwd, 'data')], { cwd, env: { AIRLOCK_TARGETS_FILE: join(REPO_ROOT, 'deploy/config/targets.yaml') } });
    expect(JSON.parse(result.stdout)).toMatchObject({ valid: true, problems: [] });
    expect(result.code).toBe(0);
  });

  it('reaches the engine only through the socket proxy, on the port it listens on', () => {
    const docker = Object.values(targets.targets).filter((target) => target.executor === 'docker');
    expect(docker.length).toBeGreaterThan(0);
    expect(service('socket-proxy').command).toContain('-proxyport=2375');
    for (const target of docker) expect(target.connection.url).toBe('tcp://socket-proxy:2375');
    // The api classifies against it, the gateway executes with it; both read the same file, read-only.
    for (const name of ['api', 'gateway', 'telegram']) expect(service(name).volumes).toContain('./config/targets.yaml:/etc/airlock/targets.yaml:ro');
  });
});

/**
 * The socket proxy's allowlist against the Engine API calls Airlock really makes: the container executor
 * and the typed container operations run against a stand-in engine that records every request, and each
 * recorded call must pass the proxy's rules (Go regexps, anchored by the proxy at both ends, matched
 * against the path only); calls that would hand over the host must not.
 */
describe('deploy/compose.yaml: the socket proxy allowlist', () => {
  const command = service('socket-proxy').command ?? [];
  const rules = new Map<string, RegExp[]>();
  for (const arg of command) {
    const match = /^-allow([A-Z]+)=(.*)$/.exec(arg);
    if (match) rules.set(match[1] as string, [...(rules.get(match[1] as string) ?? []), new RegExp(`^(?:${match[2]})$`)]);
  }
  const allowed = (method: string, path: string): boolean => (rules.get(method) ?? []).some((rule) => rule.test(path));

  const calls: string[] = [];
  let url = '';
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://engine').pathname;
    calls.push(`${request.method} ${path}`);
    request.resume();
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    // A multiplexed stdout frame, as the engine sends output without a TTY.
    const frame = (text: string): Buffer => {
      const payload = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = 1;
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };
    const inspect = { Id: 'c0ffee', Name: '/app', RestartCount: 0, Config: { Image: 'app:1', Tty: false, Labels: {} }, State: { Status: 'running', Running: true, Pid: 42, StartedAt: '', FinishedAt: '', ExitCode: 0 } };
    const route = `${request.method} ${path.replace(/^\/v1\.\d+/, '')}`;
    if (route === 'GET /_ping') return void response.end('OK');
    if (route === 'GET /version') return json(200, { Version: '28.0.0', ApiVersion: '1.48', Components: [{ Name: 'Engine', Version: '28.0.0' }] });
    if (route === 'GET /containers/json') return json(200, [{ Id: 'c0ffee', Names: ['/app'], Image: 'app:1', State: 'running', Status: 'Up' }]);
    if (route === 'GET /containers/app/json') return json(200, inspect);
    if (route === 'GET /containers/app/logs') {
      response.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
      return void response.end(frame('a log line\n'));
    }
    if (/^POST \/containers\/app\/(start|stop|restart)$/.test(route)) return void response.writeHead(204).end();
    if (route === 'POST /containers/app/exec') return json(201, { Id: 'e1e1' });
    if (route === 'POST /exec/e1e1/start') {
      response.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
      return void response.end(frame('hi\n'));
    }
    if (route === 'GET /exec/e1e1/json') return json(200, { Running: false, ExitCode: 0 });
    json(404, { message: `no stand-in for ${route}` });
  });

  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('lets through every call of the container executor and the typed container operations', async () => {
    const executor = new DockerExecutor({ url, container: 'app' });
    expect(await executor.check()).toMatchObject({ reachable: true });
    const result = await executor.run({ kind: 'exec', argv: ['echo', 'hi'] }, { timeoutSeconds: 30, outputCapBytes: 1024, cwd: '/' });
    expect(result).toMatchObject({ status: 'succeeded', exitCode: 0 });
    const docker = engineClient({ url });
    expect(await ops.list(docker)).toHaveLength(1);
    expect(await ops.inspect(docker, 'app')).toMatchObject({ name: 'app' });
    expect(await ops.logs(docker, 'app')).toMatchObject({ text: 'a log line\n' });
    for (const op of [ops.restart, ops.stop, ops.start]) expect(await op(docker, 'app')).toMatchObject({ name: 'app' });

    const made = [...new Set(calls)].sort();
    expect(made).toEqual([
      'GET /_ping',
      'GET /containers/app/json',
      'GET /containers/app/logs',
      'GET /containers/json',
      'GET /exec/e1e1/json',
      'GET /version',
      'POST /containers/app/exec',
      'POST /containers/app/restart',
      'POST /containers/app/start',
      'POST /containers/app/stop',
      'POST /exec/e1e1/start',
    ]);
    for (const call of made) {
      const [method, path] = call.split(' ') as [string, string];
      expect(allowed(method, path), call).toBe(true);
      expect(allowed(method, `/v1.47${path}`), `versioned ${call}`).toBe(true);
    }
  });

  it('refuses every call that would hand over the host or reach past the target containers', () => {
    const refused = [
      'POST /containers/create',
      'POST /v1.47/containers/create',
      'DELETE /containers/app',
      'POST /containers/app/kill',
      'POST /containers/app/update',
      'POST /containers/app/attach',
      'PUT /containers/app/archive',
      'GET /containers/app/archive',
      'GET /containers/app/export',
      'POST /exec/e1e1/resize',
      'GET /images/json',
      'POST /images/create',
      'POST /build',
      'GET /info',
      'GET /events',
      'POST /volumes/create',
      'POST /networks/create',
      'GET /secrets',
      'POST /swarm/init',
      'POST /plugins/pull',
      'POST /session',
      'GET /containers/../images/json',
    ];
    for (const call of refused) {
      const [method, path] = call.split(' ') as [string, string];
      expect(allowed(method, path), call).toBe(false);
    }
    // Only GET and POST are open at all.
    expect([...rules.keys()].sort()).toEqual(['GET', 'POST']);
  });
});
