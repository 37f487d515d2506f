import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storeKinds } from '../helpers/databases.js';
import { connectMcp, textOf } from '../helpers/mcp.js';
import { tmpDir } from '../helpers/tmp.js';
import { call, connectWorkspace, filesOf, startWorkspaceServer } from '../helpers/workspaces.js';

function targetsYaml(file: string, workspaceId?: string): void {
  writeFileSync(
    file,
    `targets:
  local:
    executor: local
    capabilities: [exec]
${
  workspaceId
    ? `  alice-ws:
    executor: workspace
    connection: { workspace: ${workspaceId} }
    environments: [dev]
    capabilities: [exec]
`
    : ''
}`,
  );
}

describe.each(storeKinds())('a workspace as a target on %s', (kind) => {
  it('runs approved commands in the workspace: read-only git and file reads are LOW, the rest waits, nothing leaves it', async () => {
    const file = join(tmpDir(), 'targets.yaml');
    targetsYaml(file);
    const gate = await startWorkspaceServer(kind, { targets: { file } });
    const workspace = await gate.create(gate.alice, { name: 'target' });
    const tools = await connectWorkspace(gate.url, gate.alice, workspace.id);
    await call(tools, 'git_init', {});
    await call(tools, 'write_file', { path: 'notes.txt', content: 'inside the workspace\n' });
    await call(tools, 'git_add', { all: true });
    await call(tools, 'git_commit', { message: 'Notes' });
    targetsYaml(file, workspace.id);
    expect((await gate.api('POST', '/v1/admin/reload', gate.admin)).body.targets).toEqual(['local', 'alice-ws']);

    const agent = await connectMcp('streamable-http', gate.url, gate.alice);
    const run = async (command: string, key = 'alice') => {
      const result = await agent.callTool({ name: 'run', arguments: { task_name: 'workspace work', command, deployment_env: 'dev', target: 'alice-ws', worker_id: key } });
      return { error: Boolean(result.isError), text: textOf(result), structured: result.structuredContent as { request: { status: string; risk_level: string; risk_reasons: { rule: string }[] }; execution: { success: boolean; stdout: string; error?: string } | null } };
    };

    const log = await run('git log --oneline');
    expect(log.structured.request).toMatchObject({ status: 'EXECUTED', risk_level: 'LOW' });
    expect(log.structured.request.risk_reasons.map((reason) => reason.rule)).toContain('workspace-read-only-git');
    expect(log.structured.execution).toMatchObject({ success: true });
    expect(log.structured.execution?.stdout).toMatch(/^[0-9a-f]+ Notes\n$/);
    const cat = await run('cat notes.txt');
    expect(cat.structured.execution).toMatchObject({ success: true, stdout: 'inside the workspace\n' });

    // Outside paths, link-following options and writes wait for a person.
    for (const command of ['cat /etc/passwd', 'cat ../../secret', 'grep -r root .', 'git diff --no-index /etc/passwd notes.txt', 'git add .', 'git -c core.pager=sh log']) {
      const waiting = await run(command);
      expect(waiting.structured.request.status, command).toBe('PENDING');
      expect(waiting.structured.execution, command).toBeNull();
    }

    // A link planted in the folder is not followed out by an approved read.
    const files = filesOf(gate.server, workspace.id);
    symlinkSync('/etc/passwd', join(files, 'passwd-link'));
    const escaped = await run('cat passwd-link');
    expect(escaped.structured.execution).toMatchObject({ success: false });
    expect(escaped.text).toContain('path_escapes');
    expect(escaped.text).not.toMatch(/root:x?:0:0/);

    // Nor does a repository config planted to run programs.
    const marker = join(tmpDir(), 'fsmonitor-ran');
    execFileSync('git', ['config', '--file', join(files, '.git', 'config'), 'core.fsmonitor', `touch ${marker}`]);
    const status = await run('git status');
    expect(status.structured.request.status).toBe('EXECUTED');
    expect(status.structured.execution).toMatchObject({ success: false });
    expect(status.text).toContain('core.fsmonitor');
    expect(existsSync(marker)).toBe(false);

    // Bob may not even ask.
    const bob = await connectMcp('streamable-http', gate.url, gate.bob);
    const refused = await bob.callTool({ name: 'run', arguments: { task_name: 'peek', command: 'cat notes.txt', deployment_env: 'dev', target: 'alice-ws' } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/^workspace_forbidden: /);
    const refusals = (await gate.audit('approval.refused')).filter((event) => event.data.reason === 'workspace_forbidden');
    expect(refusals).toHaveLength(1);

    // A deleted workspace takes no more commands.
    await gate.api('DELETE', `/v1/workspaces/${workspace.id}`, gate.alice);
    const gone = await run('cat notes.txt');
    expect(gone.error).toBe(true);
    expect(gone.text).toMatch(/^workspace_unavailable: /);
  });
});
