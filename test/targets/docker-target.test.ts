import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerEngine, type ContainerEngine } from '../helpers/container-engine.js';
import { execute, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { tmpDir } from '../helpers/tmp.js';

let engine: ContainerEngine;
let box: { id: string; name: string };

beforeAll(async () => {
  engine = await startContainerEngine();
  box = await engine.container(['/bin/busybox', 'sh', '-c', 'echo started; exec sleep 3600']);
}, 120_000);

afterAll(async () => {
  await engine?.stop();
}, 120_000);

/** targets.yaml with one docker target on the test's engine. */
function targetsFile(capabilities: string): string {
  const file = join(tmpDir(), 'targets.yaml');
  writeFileSync(
    file,
    `targets:
  engine:
    executor: docker
    connection: { socket_path: "${engine.socketPath}" }
    environments: [dev]
    capabilities: [${capabilities}]
`,
  );
  return file;
}

describe('typed container operations through the gate (a real engine)', () => {
  it('lists, inspects, reads logs of, stops, starts and restarts a container, each approved as asked', async () => {
    const gate = await startGate('sqlite', { targets: { file: targetsFile('container:read, container:control') } });
    const run = async (op: { name: string; args?: Record<string, unknown> }) => {
      const created = await gate.request({ op, deployment_env: 'dev', target: 'engine' });
      expect(created.status, created.text).toBe(201);
      const id = created.body.request.request_id as string;
      if (created.body.request.status === 'PENDING') expect((await gate.decide(id, 'approve')).status).toBe(200);
      const minted = await http('POST', `${gate.url}/gateway/token`, { headers: bearer(gate.approver), json: { approval_id: id, op, environment: 'dev' } });
      const ran = await execute(gate.url, minted.body.token, { op, approval_id: id, environment: 'dev' });
      expect(ran.body.success, ran.text).toBe(true);
      return { request: created.body.request, result: ran.body.result };
    };

    const listed = await run({ name: 'container.list' });
    expect(listed.request).toMatchObject({ risk_level: 'LOW', auto_approved: true, command: 'container.list: list running containers' });
    expect(listed.result.containers.map((c: { id: string }) => c.id)).toContain(box.id);
    expect((await run({ name: 'container.inspect', args: { container: box.name } })).result).toMatchObject({ id: box.id, state: { running: true } });
    expect((await run({ name: 'container.logs', args: { container: box.name, tail: 10 } })).result.text).toContain('started');

    const stopped = await run({ name: 'container.stop', args: { container: box.name, timeout_seconds: 1 } });
    expect(stopped.request).toMatchObject({ risk_level: 'HIGH', step_up_required: true });
    expect(stopped.result.state.running).toBe(false);
    expect((await run({ name: 'container.start', args: { container: box.name } })).result.state.running).toBe(true);
    const restarted = await run({ name: 'container.restart', args: { container: box.name, timeout_seconds: 1 } });
    expect(restarted.request.risk_level).toBe('MEDIUM');
    expect(restarted.result.state.running).toBe(true);
    const finished = await gate.server.runtime.store.db.selectFrom('audit_events').select('data').where('action', '=', 'execution.finished').orderBy('seq').execute();
    expect(JSON.parse(finished.at(-1)?.data ?? '{}').effects).toMatchObject({ id: box.id, state: { running: true } });
  });

  it('refuses control where the target grants only reading, and a missing container fails with its code', async () => {
    const gate = await startGate('sqlite', { targets: { file: targetsFile('container:read') } });
    const refused = await gate.request({ op: { name: 'container.restart', args: { container: box.name } }, deployment_env: 'dev', target: 'engine' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('capability_missing');
    const file = await gate.request({ op: { name: 'file.read', args: { path: '/etc/hostname' } }, deployment_env: 'dev', target: 'engine' });
    expect(file.status).toBe(403);
    expect(file.body.denials.map((d: { code: string }) => d.code)).toContain('operation_not_supported');

    const op = { name: 'container.inspect', args: { container: 'no-such-container' } };
    const created = await gate.request({ op, deployment_env: 'dev', target: 'engine' });
    const id = created.body.request.request_id as string;
    const minted = await http('POST', `${gate.url}/gateway/token`, { headers: bearer(gate.approver), json: { approval_id: id, op, environment: 'dev' } });
    const ran = await execute(gate.url, minted.body.token, { op, approval_id: id, environment: 'dev' });
    expect(ran.body).toMatchObject({ success: false, error_code: 'container_not_found' });
  });
});
