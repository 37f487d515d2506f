import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { startWorkspaceServer } from '../helpers/workspaces.js';

describe('airlock workspaces', () => {
  it('creates, lists, shows, deletes, restores and purges, each as the one it belongs to', async () => {
    const gate = await startWorkspaceServer('sqlite');
    const cwd = tmpDir();
    const as = (key: string) => ({ AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: key });
    const created = await runCli(['workspaces', 'create', 'demo', '--quota', '2M', '--label', 'ticket=OPS-42', '--json'], { cwd, env: as(gate.alice) });
    expect(created.code, created.stderr).toBe(0);
    const workspace = JSON.parse(created.stdout) as { id: string; quota_bytes: number; labels: Record<string, string>; mcp_path: string };
    expect(workspace).toMatchObject({ quota_bytes: 2 * 1024 * 1024, labels: { ticket: 'OPS-42' } });

    // Independent reads, side by side.
    const [listed, listedByBob, shown, hidden] = await Promise.all([
      runCli(['workspaces', 'list'], { cwd, env: as(gate.alice) }),
      runCli(['workspaces', 'list'], { cwd, env: as(gate.bob) }),
      runCli(['workspaces', 'show', workspace.id], { cwd, env: as(gate.alice) }),
      runCli(['workspaces', 'show', workspace.id], { cwd, env: as(gate.bob) }),
    ]);
    // A header, then one aligned row.
    expect(listed.stdout).toMatch(new RegExp(`^ID\\s+NAME\\s+OWNER\\s+PROVIDER\\s+QUOTA  STATE\\n${workspace.id}  demo\\s+alice\\s+directory\\s+2M  active\\n$`));
    expect(listedByBob.stdout).toBe('no workspaces\n');
    expect(shown.stdout).toContain(`MCP       ${gate.url}/v1/workspaces/${workspace.id}/mcp`);
    expect(shown.stdout).toContain('quota     2M, 0B used');
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toContain('[workspace_not_found]');

    expect((await runCli(['workspaces', 'delete', workspace.id], { cwd, env: as(gate.alice) })).stdout).toMatch(/restorable until .* \(airlock workspaces restore /);
    expect((await runCli(['workspaces', 'restore', workspace.id], { cwd, env: as(gate.alice) })).stdout).toBe(`restored workspace demo (${workspace.id})\n`);
    expect((await runCli(['workspaces', 'delete', workspace.id], { cwd, env: as(gate.alice) })).code).toBe(0);

    // purge acts on this machine's store: within the retention nothing goes, unless named.
    const local = ['--data-dir', gate.server.runtime.config.dataDir, '--database-url', gate.database.url];
    expect((await runCli(['workspaces', 'purge', ...local], { cwd })).stdout).toBe('nothing to purge\n');
    const purged = await runCli(['workspaces', 'purge', workspace.id, ...local], { cwd });
    expect(purged.stdout, purged.stderr).toBe(`purged 1 workspace: ${workspace.id}\n`);
    expect(existsSync(join(gate.server.runtime.config.paths.workspacesDir, workspace.id))).toBe(false);
    const events = (await gate.audit()).filter((event) => event.subject_id === workspace.id).map((event) => [event.action, event.actor.split(':')[0]]);
    expect(events).toEqual([
      ['workspace.created', 'key'],
      ['workspace.deleted', 'key'],
      ['workspace.restored', 'key'],
      ['workspace.deleted', 'key'],
      ['workspace.purged', 'cli'],
    ]);
    const [badName, badQuota] = await Promise.all([
      runCli(['workspaces', 'create', 'bad/name'], { cwd, env: as(gate.alice) }),
      runCli(['workspaces', 'create', 'x', '--quota', 'lots'], { cwd, env: as(gate.alice) }),
    ]);
    expect(badName.code).toBe(1);
    expect(badQuota.code).toBe(2);
  });
});
