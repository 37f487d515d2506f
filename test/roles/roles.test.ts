import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, freePort } from '../helpers/cluster.js';
import { runCli } from '../helpers/cli.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { bearer, http } from '../helpers/http.js';
import { connectMcp } from '../helpers/mcp.js';
import type { ServerProcess } from '../helpers/process.js';

// The split deployment of DESIGN.md section 3, as processes: an API instance that mints and a gateway
// per network segment that verifies against the API's published keys. PostgreSQL when available (the
// production store), SQLite otherwise.
const kind = storeKinds().at(-1) ?? 'sqlite';

describe(`api and gateway roles (${kind})`, () => {
  let cluster: Cluster;
  let api: ServerProcess;
  let gatewayA: ServerProcess;
  let apiKeys: string;
  let gatewayKeys: string;
  let agent: string;
  let admin: string;
  let apiEnv: Record<string, string>;
  let gatewayEnv: Record<string, string>;

  beforeAll(async () => {
    const database = await createDatabase(kind);
    cluster = new Cluster(database.url);
    const targets = join(cluster.dir, 'targets.yaml');
    writeFileSync(
      targets,
      'targets:\n  box-a:\n    executor: local\n    segment: a\n    environments: [dev]\n    capabilities: [exec]\n  box-b:\n    executor: local\n    segment: b\n    environments: [dev]\n    capabilities: [exec]\n',
    );
    // The audit key is the one secret both roles hold (both append to the chain); token keys stay with the API.
    const auditKey = join(cluster.dir, 'audit-ed25519.pem');
    writeFileSync(auditKey, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    apiKeys = join(cluster.dir, 'api-keys');
    gatewayKeys = join(cluster.dir, 'gateway-keys');
    const gatewayPort = await freePort();
    const common = { AIRLOCK_TARGETS_FILE: targets, AIRLOCK_AUDIT_KEY_FILE: auditKey };
    apiEnv = { ...common, AIRLOCK_KEYS_DIR: apiKeys, AIRLOCK_GATEWAY_URL: `http://127.0.0.1:${gatewayPort}` };
    api = await cluster.start('api', 'api-1', apiEnv);
    gatewayEnv = { ...common, AIRLOCK_KEYS_DIR: gatewayKeys, AIRLOCK_JWKS_URL: `${api.url}/.well-known/jwks.json` };
    gatewayA = await cluster.start('gateway', 'gw-a', { ...gatewayEnv, AIRLOCK_SEGMENT: 'a' }, gatewayPort);
    agent = await cluster.key('agent', 'approvals:request,approvals:read,gateway:execute', apiEnv);
    admin = await cluster.key('admin', 'admin', apiEnv);
  });

  afterAll(() => cluster?.stop());

  /** Requests a LOW command (approved by policy at once) on the API and mints its token there. */
  async function minted(command: string, target: string) {
    const created = await http('POST', `${api.url}/v1/approvals`, { headers: bearer(agent), json: { command, target, deployment_env: 'dev', worker_id: 'roles', task_name: 'role split' } });
    expect(created.status, created.text).toBe(201);
    const request = created.body.request;
    expect(request.status).toBe('APPROVED');
    const token = await http('POST', `${api.url}/v1/tokens`, { headers: bearer(agent), json: { approval_id: request.request_id, command, environment: 'dev' } });
    expect(token.status, token.text).toBe(200);
    return { id: request.request_id as string, token: token.body.token as string, body: { approval_id: request.request_id as string, command, environment: 'dev' } };
  }

  const execute = (gateway: ServerProcess, token: string, body: Record<string, unknown>) => http('POST', `${gateway.url}/v1/execute`, { headers: { 'x-capability-token': token }, json: body });

  it('mints on the API instance and executes on the gateway instance, each holding only its own keys', async () => {
    const { token, body } = await minted('echo split roles', 'box-a');
    const ran = await execute(gatewayA, token, body);
    expect(ran.status, ran.text).toBe(200);
    expect(ran.body.stdout).toBe('split roles\n');

    // The API signs tokens and sessions and never holds the receipt key; the gateway holds the receipt key and nothing that mints.
    for (const file of ['token-ed25519.pem', 'access-ed25519.pem']) expect(existsSync(join(apiKeys, file)), file).toBe(true);
    expect(existsSync(join(apiKeys, 'receipt-ed25519.pem'))).toBe(false);
    expect(existsSync(join(gatewayKeys, 'receipt-ed25519.pem'))).toBe(true);
    for (const file of ['token-ed25519.pem', 'access-ed25519.pem', 'secret.key']) expect(existsSync(join(gatewayKeys, file)), file).toBe(false);

    // The receipt checks out against the gateway's published key.
    const verified = await runCli(['receipt', 'verify', '-', '--jwks', `${gatewayA.url}/.well-known/jwks.json`], { cwd: cluster.dir, input: JSON.stringify(ran.body) });
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('serves each role its own endpoints only', async () => {
    const { token, body } = await minted('echo not here', 'box-a');
    // The API runs nothing: its execute endpoints do not exist, and the token stays unused.
    const onApi = await execute(api, token, body);
    expect(onApi.status).toBe(404);
    const health = await http('GET', `${gatewayA.url}/health`);
    expect(health.body).toMatchObject({ status: 'healthy', role: 'gateway', segment: 'a', instance: 'gw-a' });
    expect((await http('GET', `${api.url}/health`)).body).toMatchObject({ role: 'api', instance: 'api-1' });
    // The gateway has no identity, approvals or console.
    for (const path of ['/v1/approvals', '/v1/auth/session', '/v1/audit/events', '/app/']) {
      expect((await http('GET', `${gatewayA.url}${path}`, { headers: bearer(admin) })).status, path).toBe(404);
    }
    expect((await execute(gatewayA, token, body)).status).toBe(200);
  });

  it('refuses, on a segment\'s gateway, a token for a target of another segment, and runs nothing', async () => {
    const { id, token, body } = await minted('echo outside', 'box-b');
    const refused = await execute(gatewayA, token, body);
    expect(refused.status, refused.text).toBe(403);
    expect(refused.body.code).toBe('target_outside_segment');
    const approval = await http('GET', `${api.url}/v1/approvals/${id}`, { headers: bearer(agent) });
    expect(approval.body.request.status).toBe('APPROVED');
    const events = await http('GET', `${api.url}/v1/audit/events?action=execution.refused&limit=50`, { headers: bearer(admin) });
    expect(events.body.events.some((event: { target: string; data: { reason: string } }) => event.target === 'box-b' && event.data.reason === 'target_outside_segment')).toBe(true);

    // The gateway of segment b runs the same token.
    const gatewayB = await cluster.start('gateway', 'gw-b', { ...gatewayEnv, AIRLOCK_SEGMENT: 'b' });
    const ran = await execute(gatewayB, token, body);
    expect(ran.status, ran.text).toBe(200);
    expect(ran.body.stdout).toBe('outside\n');
  });

  it('runs what MCP tools execute on the API instance through the gateway', async () => {
    const client = await connectMcp('streamable-http', api.url, agent);
    const result = await client.callTool({ name: 'run', arguments: { task_name: 'via mcp', command: 'echo through the gateway', deployment_env: 'dev', target: 'box-a' } });
    expect(result.isError, JSON.stringify(result)).toBeFalsy();
    const structured = result.structuredContent as { execution: { stdout: string; execution_id: string } };
    expect(structured.execution.stdout).toBe('through the gateway\n');
    const execution = await http('GET', `${api.url}/v1/executions/${structured.execution.execution_id}`, { headers: bearer(agent) });
    expect(execution.body.execution.instance_id).toBe('gw-a');
  });

  it('rotates the token signing key without a restart: old tokens still run, new ones carry the new kid', async () => {
    const before = await minted('echo before rotation', 'box-a');
    const oldKid = decodeProtectedHeader(before.token).kid;

    const rotated = await runCli(['keys', 'rotate-signing', '--json'], { cwd: cluster.dir, env: cluster.env(apiEnv) });
    expect(rotated.code, rotated.stderr).toBe(0);
    const rotation = JSON.parse(rotated.stdout) as { previous_kid: string; kid: string; previous_published_until: string };
    expect(rotation.previous_kid).toBe(oldKid);
    expect(rotation.kid).not.toBe(oldKid);

    // The API instance picks the new key up from the shared folder (within a second) and publishes both.
    let kids: string[] = [];
    for (let i = 0; i < 100 && !kids.includes(rotation.kid); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      kids = ((await http('GET', `${api.url}/.well-known/jwks.json`)).body.keys as Array<{ kid: string }>).map((key) => key.kid);
    }
    expect(kids).toEqual(expect.arrayContaining([oldKid, rotation.kid]));

    const after = await minted('echo after rotation', 'box-a');
    expect(decodeProtectedHeader(after.token).kid).toBe(rotation.kid);
    // The gateway fetches the key set again for the new kid; the old token verifies with the retired key.
    expect((await execute(gatewayA, after.token, after.body)).body.stdout).toBe('after rotation\n');
    expect((await execute(gatewayA, before.token, before.body)).body.stdout).toBe('before rotation\n');

    const events = await http('GET', `${api.url}/v1/audit/events?action=keys.signing_rotated`, { headers: bearer(admin) });
    expect(events.body.events[0].data).toMatchObject({ previous_kid: oldKid, kid: rotation.kid });
  });

  it('refuses to start a gateway that has no keys to trust', async () => {
    const started = cluster.start('gateway', 'gw-keyless', { AIRLOCK_KEYS_DIR: join(cluster.dir, 'empty-keys'), AIRLOCK_AUDIT_KEY_FILE: gatewayEnv.AIRLOCK_AUDIT_KEY_FILE as string });
    await expect(started).rejects.toThrow(/no token public key.*AIRLOCK_JWKS_URL/);
  });

  it('keeps one audit chain that verifies across both roles', async () => {
    const verified = await runCli(['audit', 'verify'], { cwd: cluster.dir, env: cluster.env(apiEnv) });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});
