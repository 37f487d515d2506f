import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createDatabase } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';
import { call, connectWorkspace } from '../helpers/workspaces.js';

describe('the README workspace flow', () => {
  it('gives an agent a workspace it can clone into and commit in, and nothing outside it', async () => {
    // A repository under the clone root, as a bare one served to others would be.
    const roots = tmpDir('airlock-srv-git-');
    const env = { PATH: process.env.PATH, HOME: roots, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } as NodeJS.ProcessEnv;
    const work = join(roots, 'seed');
    mkdirSync(work);
    execFileSync('git', ['init', '--quiet', '--initial-branch=main'], { cwd: work, env });
    mkdirSync(join(work, 'src'));
    writeFileSync(join(work, 'src', 'main.ts'), 'export const answer = 41;\n');
    execFileSync('git', ['add', '.'], { cwd: work, env });
    execFileSync('git', ['-c', 'user.name=seed', '-c', 'user.email=seed@example.com', 'commit', '--quiet', '-m', 'seed'], { cwd: work, env });
    execFileSync('git', ['clone', '--quiet', '--bare', work, join(roots, 'api.git')], { env });

    const database = await createDatabase('sqlite');
    const server = await startTestServer({ database: { url: database.url }, workspaces: { cloneRoots: [roots] } });
    const cwd = tmpDir();
    const local = ['--data-dir', server.runtime.config.dataDir, '--database-url', database.url];
    const key = await runCli(['keys', 'create', '--name', 'claude', '--scope', 'workspaces:use', ...local], { cwd });
    expect(key.code, key.stderr).toBe(0);
    const agentKey = /key \(shown only now, store it\): (\S+)/.exec(key.stdout)?.[1] as string;
    const created = await runCli(['workspaces', 'create', 'api-fix', '--quota', '2G', '--label', 'ticket=OPS-42'], { cwd, env: { AIRLOCK_URL: server.url, AIRLOCK_API_KEY: agentKey } });
    expect(created.code, created.stderr).toBe(0);
    const endpoint = /MCP {7}(\S+)/.exec(created.stdout)?.[1] as string;
    const id = /\/v1\/workspaces\/([^/]+)\/mcp$/.exec(endpoint)?.[1] as string;
    expect(endpoint).toBe(`${server.url}/v1/workspaces/${id}/mcp`);

    const agent = await connectWorkspace(server.url, agentKey, id);
    expect((await call(agent, 'git_clone', { source_path: join(roots, 'api.git'), dest: 'api' })).error).toBe(false);
    expect((await call(agent, 'edit_file', { path: 'api/src/main.ts', old_string: '41', new_string: '42' })).error).toBe(false);
    expect((await call(agent, 'git_add', { repo: 'api', all: true })).error).toBe(false);
    const committed = await call(agent, 'git_commit', { repo: 'api', message: 'Fix the answer' });
    expect(committed.structured).toMatchObject({ branch: 'main', summary: 'Fix the answer' });
    expect((await call(agent, 'git_log', { repo: 'api' })).structured.commits.map((commit: { subject: string; author: string }) => `${commit.author}: ${commit.subject}`)).toEqual([
      'svc-claude: Fix the answer',
      'seed: seed',
    ]);
    for (const path of ['/etc/passwd', '../../../../etc/passwd', 'api/../../secret']) {
      const refused = await call(agent, 'read_file', { path });
      expect(refused.error, path).toBe(true);
      expect(refused.text).not.toMatch(/root:x?:0:0/);
    }
    expect((await call(agent, 'git_clone', { source_path: '/etc', dest: 'etc' })).code).toBe('clone_source_refused');
  });
});
