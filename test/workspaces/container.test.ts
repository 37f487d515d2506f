import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { engineClient } from '../../src/executors/docker.js';
import { Workspaces } from '../../src/workspaces/index.js';
import { TEST_IMAGE, startContainerEngine, type ContainerEngine } from '../helpers/container-engine.js';
import { storeKinds } from '../helpers/databases.js';
import { http } from '../helpers/http.js';
import { connectMcp, textOf } from '../helpers/mcp.js';
import { tmpDir } from '../helpers/tmp.js';
import { call, connectWorkspace, startWorkspaceServer } from '../helpers/workspaces.js';

let engine: ContainerEngine;
let docker: Docker;
/** Containers the tests' workspaces made: removed by id at the end whatever happened. */
const made: string[] = [];

beforeAll(async () => {
  engine = await startContainerEngine();
  docker = engineClient({ socketPath: engine.socketPath });
}, 120_000);

afterAll(async () => {
  if (made.length > 0) await engine?.podman('rm', '--force', '--time', '0', ...made).catch(() => undefined);
  await engine?.stop();
}, 120_000);

describe.each(storeKinds())('the container provider on a real engine (%s)', (kind) => {
  it('makes one limited container per workspace, shares its files with the MCP tools, stops it on delete and removes it on purge', async () => {
    const targets = join(tmpDir(), 'targets.yaml');
    writeFileSync(targets, 'targets:\n  local:\n    executor: local\n    capabilities: [exec]\n');
    const gate = await startWorkspaceServer(kind, {
      targets: { file: targets },
      workspaces: {
        provider: 'container',
        retentionSeconds: 60,
        container: { socketPath: engine.socketPath, image: TEST_IMAGE, command: ['/bin/sleep', 'infinity'], network: 'none', cpus: 0.5, memoryBytes: 64 * 1024 * 1024, pidsLimit: 64 },
      },
    });
    const health = await http('GET', `${gate.url}/health`);
    expect(health.body.checks.workspaces).toMatchObject({ status: 'healthy', default_provider: 'container', providers: { container: { status: 'healthy' }, directory: { status: 'healthy' } } });

    const workspace = await gate.create(gate.alice, { name: 'boxed' });
    expect(workspace.container_id).toMatch(/^[0-9a-f]{64}$/);
    made.push(workspace.container_id as string);
    const info = await docker.getContainer(workspace.container_id as string).inspect();
    expect(info.State.Running).toBe(true);
    expect(info.Config.Labels).toMatchObject({ 'airlock.workspace': workspace.id, 'airlock.owner': 'alice', 'airlock.name': 'boxed' });
    expect(info.HostConfig).toMatchObject({ Memory: 64 * 1024 * 1024, NanoCpus: 500_000_000, PidsLimit: 64, NetworkMode: 'none' });
    expect(info.Mounts.map((mount) => mount.Destination)).toContain('/workspace');
    const shown = await gate.api('GET', `/v1/workspaces/${workspace.id}`, gate.alice);
    expect(shown.body.workspace.provider_state).toMatchObject({ container: { running: true, state: 'running' } });

    // The same files, from the MCP tools and from inside the container.
    const client = await connectWorkspace(gate.url, gate.alice, workspace.id);
    expect((await call(client, 'write_file', { path: 'hello.txt', content: 'from the tools\n' })).error).toBe(false);
    expect(await engine.podman('exec', workspace.container_id as string, 'cat', '/workspace/hello.txt')).toBe('from the tools');
    await engine.podman('exec', workspace.container_id as string, 'sh', '-c', 'echo from the container > /workspace/made-inside.txt');
    expect((await call(client, 'read_file', { path: 'made-inside.txt' })).structured.content).toBe('from the container\n');
    // A link made inside the container to its own /etc is refused by the tools like any link out.
    await engine.podman('exec', workspace.container_id as string, 'ln', '-s', '/etc/passwd', '/workspace/passwd');
    expect((await call(client, 'read_file', { path: 'passwd' })).code).toBe('path_escapes');

    // As a target, approved commands run in the container.
    writeFileSync(targets, `targets:\n  boxed:\n    executor: workspace\n    connection: { workspace: ${workspace.id} }\n    environments: [dev]\n    capabilities: [exec]\n`);
    await gate.api('POST', '/v1/admin/reload', gate.admin);
    const agent = await connectMcp('streamable-http', gate.url, gate.alice);
    const ran = await agent.callTool({ name: 'run', arguments: { task_name: 'look', command: 'cat hello.txt', deployment_env: 'dev', target: 'boxed' } });
    expect(ran.isError, textOf(ran)).toBeFalsy();
    expect(ran.structuredContent).toMatchObject({ request: { risk_level: 'LOW', status: 'EXECUTED' }, execution: { success: true, stdout: 'from the tools\n' } });

    // Soft delete stops the container; restore starts it; delete again and purge remove it with the files.
    expect((await gate.api('DELETE', `/v1/workspaces/${workspace.id}`, gate.alice)).body.workspace.status).toBe('deleted');
    expect((await docker.getContainer(workspace.container_id as string).inspect()).State.Running).toBe(false);
    expect((await gate.api('POST', `/v1/workspaces/${workspace.id}/restore`, gate.alice)).body.workspace.status).toBe('active');
    expect((await docker.getContainer(workspace.container_id as string).inspect()).State.Running).toBe(true);
    const again = await connectWorkspace(gate.url, gate.alice, workspace.id);
    expect((await call(again, 'read_file', { path: 'hello.txt' })).structured.content).toBe('from the tools\n');
    const deleted = await gate.api('DELETE', `/v1/workspaces/${workspace.id}`, gate.alice);
    const { store, audit, config } = gate.server.runtime;
    const later = new Workspaces({ store, audit, settings: { ...config.workspaces, dir: config.paths.workspacesDir }, now: () => new Date(Date.parse(deleted.body.workspace.purge_after) + 1000) });
    expect(await later.purge('test:purge')).toEqual([workspace.id]);
    await expect(docker.getContainer(workspace.container_id as string).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const steps = (await gate.audit()).filter((event) => event.subject_id === workspace.id && event.action.startsWith('workspace.')).map((event) => event.action);
    expect(steps).toEqual(['workspace.created', 'workspace.deleted', 'workspace.restored', 'workspace.deleted', 'workspace.purged']);
  });

  it('reports an unreachable engine in /health and refuses container workspaces with a clear error', async () => {
    const gate = await startWorkspaceServer(kind, { workspaces: { container: { socketPath: join(tmpDir(), 'no-engine.sock'), image: TEST_IMAGE } } });
    const health = await http('GET', `${gate.url}/health`);
    // The default provider (directory) is fine; the container provider says why it is not.
    expect(health.body.checks.workspaces).toMatchObject({ status: 'healthy', providers: { container: { status: 'unhealthy' } } });
    expect(health.body.checks.workspaces.providers.container.detail).toMatch(/unreachable/);
    const refused = await gate.api('POST', '/v1/workspaces', gate.alice, { name: 'nope', provider: 'container' });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('engine_unavailable');
    expect((await gate.api('GET', '/v1/workspaces', gate.alice)).body.workspaces).toEqual([]);
    expect((await gate.audit('workspace.create_failed')).map((event) => event.data.name)).toEqual(['nope']);
  });
});
