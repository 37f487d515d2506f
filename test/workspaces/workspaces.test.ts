import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/identity/index.js';
import { Workspaces } from '../../src/workspaces/index.js';
import { storeKinds } from '../helpers/databases.js';
import { bearer, http } from '../helpers/http.js';
import { tmpDir } from '../helpers/tmp.js';
import { call, connectWorkspace, filesOf, startWorkspaceServer } from '../helpers/workspaces.js';

const MCP_ACCEPT = { accept: 'application/json, text/event-stream' };
const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'intruder', version: '1' } } };

describe.each(storeKinds())('workspaces on %s', (kind) => {
  it('creates, lists and shows a workspace for its owner only; another user can neither see nor use it', async () => {
    const gate = await startWorkspaceServer(kind);
    const mine = await gate.create(gate.alice, { name: 'project', labels: { team: 'core' }, quota_bytes: 10 * 1024 * 1024 });
    expect(mine).toMatchObject({ name: 'project', status: 'active', mcp_path: `/v1/workspaces/${mine.id}/mcp` });
    expect(existsSync(filesOf(gate.server, mine.id))).toBe(true);

    const listed = await gate.api('GET', '/v1/workspaces', gate.alice);
    expect(listed.body.workspaces.map((w: { id: string }) => w.id)).toEqual([mine.id]);
    const shown = await gate.api('GET', `/v1/workspaces/${mine.id}`, gate.alice);
    expect(shown.body.workspace).toMatchObject({ owner: 'alice', provider: 'directory', quota_bytes: 10 * 1024 * 1024, labels: { team: 'core' }, usage_bytes: 0 });
    expect((await gate.api('POST', '/v1/workspaces', gate.alice, { name: 'project' })).body.code).toBe('workspace_exists');

    // Bob: the API.
    expect((await gate.api('GET', '/v1/workspaces', gate.bob)).body.workspaces).toEqual([]);
    for (const [method, path] of [
      ['GET', `/v1/workspaces/${mine.id}`],
      ['DELETE', `/v1/workspaces/${mine.id}`],
      ['POST', `/v1/workspaces/${mine.id}/restore`],
    ] as const) {
      const refused = await gate.api(method, path, gate.bob);
      expect(refused.status, `${method} ${path}`).toBe(404);
      expect(refused.body.code).toBe('workspace_not_found');
    }
    expect((await gate.api('GET', '/v1/workspaces?all=true', gate.bob)).status).toBe(403);

    // Bob: the MCP endpoint, opening a session…
    const opened = await http('POST', `${gate.url}/v1/workspaces/${mine.id}/mcp`, { headers: { ...bearer(gate.bob), ...MCP_ACCEPT }, json: initialize });
    expect(opened.status).toBe(404);
    expect(opened.body.code).toBe('workspace_not_found');
    await expect(connectWorkspace(gate.url, gate.bob, mine.id)).rejects.toThrow();
    // …or taking over Alice's session.
    const alice = await connectWorkspace(gate.url, gate.alice, mine.id);
    expect((await call(alice, 'write_file', { path: 'secret.txt', content: 'alice only' })).error).toBe(false);
    const sessionId = (alice.transport as { sessionId?: string }).sessionId as string;
    const stolen = await http('POST', `${gate.url}/v1/workspaces/${mine.id}/mcp`, {
      headers: { ...bearer(gate.bob), ...MCP_ACCEPT, 'mcp-session-id': sessionId },
      json: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'read_file', arguments: { path: 'secret.txt' } } },
    });
    expect(stolen.status).toBe(404);
    expect(stolen.text).not.toContain('alice only');
    // A session of one workspace does not open another's.
    const bobs = await gate.create(gate.bob, { name: 'project' });
    const crossed = await http('POST', `${gate.url}/v1/workspaces/${bobs.id}/mcp`, {
      headers: { ...bearer(gate.alice), ...MCP_ACCEPT, 'mcp-session-id': sessionId },
      json: { jsonrpc: '2.0', id: 3, method: 'tools/list', params: {} },
    });
    expect(crossed.status).toBe(404);
    // Bob cannot clone Alice's workspace into his own either.
    const bob = await connectWorkspace(gate.url, gate.bob, bobs.id);
    const cloned = await call(bob, 'git_clone', { source_workspace: mine.id, dest: 'stolen' });
    expect(cloned.code).toBe('workspace_not_found');

    // An admin sees everyone's and may use them.
    const all = await gate.api('GET', '/v1/workspaces?all=true', gate.admin);
    expect(all.body.workspaces.map((w: { owner: string }) => w.owner).sort()).toEqual(['alice', 'bob']);
    const admin = await connectWorkspace(gate.url, gate.admin, mine.id);
    expect((await call(admin, 'read_file', { path: 'secret.txt' })).structured.content).toBe('alice only');

    // A principal without workspaces:use gets nothing.
    const reader = await gate.server.runtime.keys.create({ name: 'reader', scopes: ['approvals:read'], owner: 'alice', actor: 'test' });
    expect((await gate.api('GET', '/v1/workspaces', reader.key)).status).toBe(403);
    expect((await http('POST', `${gate.url}/v1/workspaces/${mine.id}/mcp`, { headers: { ...bearer(reader.key), ...MCP_ACCEPT }, json: initialize })).status).toBe(403);
    const anonymous = await http('POST', `${gate.url}/v1/workspaces/${mine.id}/mcp`, { headers: MCP_ACCEPT, json: initialize });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe(`Bearer realm="airlock", resource_metadata="${gate.url}/.well-known/oauth-protected-resource/v1/workspaces/${mine.id}/mcp"`);
    const metadata = await http('GET', `${gate.url}/.well-known/oauth-protected-resource/v1/workspaces/${mine.id}/mcp`);
    expect(metadata.body).toMatchObject({ resource: `${gate.url}/v1/workspaces/${mine.id}/mcp`, scopes_supported: ['workspaces:use'] });

    // Every call is audited with the workspace.
    const calls = (await gate.audit('mcp.tool_called')).filter((event) => event.data.workspace === mine.id);
    expect(calls.map((event) => [event.actor.startsWith('key:'), event.data.tool, event.data.ok])).toEqual([
      [true, 'write_file', true],
      [true, 'read_file', true],
    ]);
  });

  it('goes round git through the MCP tools: init, write, add, commit, log, diff, branch, checkout, clone', async () => {
    const gate = await startWorkspaceServer(kind);
    const workspace = await gate.create(gate.alice, { name: 'repo' });
    const client = await connectWorkspace(gate.url, gate.alice, workspace.id);
    const tools = (await client.listTools()).tools.map((tool) => tool.name).sort();
    expect(tools).toEqual(
      ['delete', 'edit_file', 'git_add', 'git_branch', 'git_checkout', 'git_clone', 'git_commit', 'git_diff', 'git_init', 'git_log', 'git_status', 'list_dir', 'move', 'read_file', 'search', 'stat', 'write_file'].sort(),
    );

    expect((await call(client, 'git_log', {})).code).toBe('not_a_repository');
    expect((await call(client, 'git_init', {})).structured).toMatchObject({ path: '.', branch: 'main' });
    expect((await call(client, 'git_log', {})).structured.commits).toEqual([]);
    await call(client, 'write_file', { path: 'README.md', content: '# Hello\n' });
    await call(client, 'write_file', { path: 'src/main.ts', content: 'export const answer = 41;\n' });
    const status = await call(client, 'git_status', {});
    expect(status.structured).toMatchObject({ branch: 'main', clean: false });
    expect(status.structured.entries.map((entry: { path: string; index: string }) => `${entry.index}${entry.path}`).sort()).toEqual(['?README.md', '?src/main.ts']);

    const added = await call(client, 'git_add', { paths: ['README.md', 'src'] });
    expect(added.structured.staged.map((entry: { path: string }) => entry.path).sort()).toEqual(['README.md', 'src/main.ts']);
    const committed = await call(client, 'git_commit', { message: 'First commit\n\nWith a body.' });
    expect(committed.error, committed.text).toBe(false);
    expect(committed.structured).toMatchObject({ branch: 'main', summary: 'First commit' });
    expect(committed.structured.commit).toMatch(/^[0-9a-f]{40}$/);

    const log = await call(client, 'git_log', {});
    expect(log.structured.commits).toEqual([expect.objectContaining({ commit: committed.structured.commit, author: 'alice', email: 'alice@airlock.invalid', subject: 'First commit' })]);

    expect((await call(client, 'edit_file', { path: 'src/main.ts', old_string: '41', new_string: '42' })).structured.replacements).toBe(1);
    const diff = await call(client, 'git_diff', {});
    expect(diff.structured.diff).toContain('-export const answer = 41;');
    expect(diff.structured.diff).toContain('+export const answer = 42;');
    expect((await call(client, 'git_diff', { staged: true })).structured.diff).toBe('');
    await call(client, 'git_add', { all: true });
    expect((await call(client, 'git_diff', { staged: true, stat: true })).structured.diff).toContain('src/main.ts');
    await call(client, 'git_commit', { message: 'The answer', author_name: 'Deep Thought', author_email: 'dt@example.com' });
    expect((await call(client, 'git_log', { max_count: 1 })).structured.commits[0]).toMatchObject({ author: 'Deep Thought', subject: 'The answer' });
    expect((await call(client, 'git_diff', { ref: 'HEAD~1', paths: ['src/main.ts'] })).structured.diff).toContain('+export const answer = 42;');

    expect((await call(client, 'git_branch', { create: 'feature' })).structured).toMatchObject({ current: 'main', branches: ['feature', 'main'] });
    expect((await call(client, 'git_checkout', { ref: 'feature' })).structured).toMatchObject({ branch: 'feature' });
    expect((await call(client, 'git_checkout', { ref: 'topic', create: true, start: 'main' })).structured).toMatchObject({ branch: 'topic' });
    expect((await call(client, 'git_branch', { delete: 'feature' })).structured.branches).toEqual(['main', 'topic']);

    // Option look-alikes never become options; pathspecs outside the workspace are refused.
    for (const [tool, args, code] of [
      ['git_checkout', { ref: '--upload-pack=touch /tmp/pwned' }, 'invalid_ref'],
      ['git_branch', { create: '-D' }, 'invalid_ref'],
      ['git_log', { ref: '--output=/tmp/pwned' }, 'invalid_ref'],
      ['git_diff', { paths: ['../../etc/passwd'] }, 'path_traversal'],
      ['git_add', { paths: ['/etc/passwd'] }, 'path_absolute'],
      ['git_init', { initial_branch: '--bare' }, 'invalid_ref'],
      ['git_status', { repo: '.git' }, 'path_git_internal'],
    ] as const) {
      const result = await call(client, tool, args);
      expect(result.code, `${tool} ${JSON.stringify(args)}: ${result.text}`).toBe(code);
    }
    expect(existsSync('/tmp/pwned')).toBe(false);

    // Clone: from another workspace of hers, and from an allowed folder; never from elsewhere.
    const other = await gate.create(gate.alice, { name: 'other' });
    const second = await connectWorkspace(gate.url, gate.alice, other.id);
    const fromWorkspace = await call(second, 'git_clone', { source_workspace: workspace.id, dest: 'copy' });
    expect(fromWorkspace.error, fromWorkspace.text).toBe(false);
    expect(fromWorkspace.structured.branch).toBe('topic');
    expect((await call(second, 'git_log', { repo: 'copy' })).structured.commits.map((c: { subject: string }) => c.subject)).toEqual(['The answer', 'First commit']);
    expect((await call(second, 'read_file', { path: 'copy/src/main.ts' })).structured.content).toBe('export const answer = 42;\n');
    expect((await call(second, 'git_clone', { source_path: '/etc', dest: 'etc' })).code).toBe('clone_source_refused');
    expect((await call(second, 'git_clone', { source_path: filesOf(gate.server, workspace.id), dest: 'sneaky' })).code).toBe('clone_source_refused');
  });

  it('clones from an allowed folder on the server, with hooks and dangerous config never taking effect', async () => {
    const roots = tmpDir('airlock-clone-roots-');
    const source = join(roots, 'upstream');
    const git = (...args: string[]) => execFileSync('git', args, { cwd: source, env: { PATH: process.env.PATH, HOME: roots, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } as NodeJS.ProcessEnv });
    mkdirSync(source);
    git('init', '--quiet', '--initial-branch=trunk');
    writeFileSync(join(source, 'hello.txt'), 'hello\n');
    git('add', 'hello.txt');
    git('-c', 'user.name=up', '-c', 'user.email=up@example.com', 'commit', '--quiet', '-m', 'upstream');
    const marker = join(roots, 'hook-ran');
    writeFileSync(join(source, '.git', 'hooks', 'post-checkout'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });

    const gate = await startWorkspaceServer(kind, { workspaces: { cloneRoots: [roots] } });
    const workspace = await gate.create(gate.alice, { name: 'clones' });
    const client = await connectWorkspace(gate.url, gate.alice, workspace.id);
    const cloned = await call(client, 'git_clone', { source_path: source, dest: 'work/upstream' });
    expect(cloned.error, cloned.text).toBe(false);
    expect(cloned.structured).toMatchObject({ path: 'work/upstream', branch: 'trunk' });
    expect(existsSync(marker)).toBe(false);
    // Hooks planted in the clone (as a command in the workspace could) never run either.
    const files = filesOf(gate.server, workspace.id);
    mkdirSync(join(files, 'work/upstream/.git/hooks'), { recursive: true });
    for (const hook of ['pre-commit', 'commit-msg', 'post-commit', 'post-index-change']) writeFileSync(join(files, 'work/upstream/.git/hooks', hook), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    await call(client, 'write_file', { path: 'work/upstream/more.txt', content: 'more\n' });
    await call(client, 'git_add', { repo: 'work/upstream', paths: ['work/upstream/more.txt'] });
    expect((await call(client, 'git_commit', { repo: 'work/upstream', message: 'more' })).error).toBe(false);
    expect(existsSync(marker)).toBe(false);

    // A repository whose config could run programs is refused by every git tool.
    execFileSync('git', ['config', '--file', join(files, 'work/upstream/.git/config'), 'core.fsmonitor', `touch ${marker}`]);
    const refused = await call(client, 'git_status', { repo: 'work/upstream' });
    expect(refused.code).toBe('git_config_refused');
    expect(refused.text).toContain('core.fsmonitor');
    expect(existsSync(marker)).toBe(false);
    // …and a .git file pointing at a repository elsewhere.
    mkdirSync(join(files, 'pointer'));
    writeFileSync(join(files, 'pointer', '.git'), `gitdir: ${join(source, '.git')}\n`);
    expect((await call(client, 'git_log', { repo: 'pointer' })).code).toBe('path_escapes');
    // A folder that is not a repository never finds one above the workspace.
    mkdirSync(join(files, 'plain'));
    expect((await call(client, 'git_status', { repo: 'plain' })).code).toBe('not_a_repository');
  });

  it('refuses a write that exceeds the quota and leaves nothing of it', async () => {
    const gate = await startWorkspaceServer(kind);
    const workspace = await gate.create(gate.alice, { name: 'small', quota_bytes: 64 * 1024 });
    const client = await connectWorkspace(gate.url, gate.alice, workspace.id);
    const root = filesOf(gate.server, workspace.id);
    expect((await call(client, 'write_file', { path: 'a.bin', content: Buffer.alloc(40 * 1024, 1).toString('base64'), encoding: 'base64' })).error).toBe(false);
    const over = await call(client, 'write_file', { path: 'dir/b.bin', content: Buffer.alloc(30 * 1024, 2).toString('base64'), encoding: 'base64' });
    expect(over.code).toBe('quota_exceeded');
    expect(over.text).toMatch(/refused, nothing was written/);
    expect(readdirSync(root)).toEqual(['a.bin']);
    // Replacing a file counts only the difference; growing it past the quota is refused and keeps the old content.
    expect((await call(client, 'write_file', { path: 'a.bin', content: Buffer.alloc(60 * 1024, 3).toString('base64'), encoding: 'base64' })).error).toBe(false);
    const grown = await call(client, 'write_file', { path: 'a.bin', content: Buffer.alloc(70 * 1024, 4).toString('base64'), encoding: 'base64' });
    expect(grown.code).toBe('quota_exceeded');
    const kept = await call(client, 'read_file', { path: 'a.bin', encoding: 'base64', length: 4 });
    expect(Buffer.from(kept.structured.content, 'base64')).toEqual(Buffer.alloc(4, 3));
    expect((await call(client, 'edit_file', { path: 'a.bin', old_string: 'x', new_string: 'y' })).error).toBe(true);
    expect(readdirSync(root).filter((name) => name.startsWith('.airlock-tmp'))).toEqual([]);
    expect((await gate.api('GET', `/v1/workspaces/${workspace.id}`, gate.alice)).body.workspace.usage_bytes).toBe(60 * 1024);
    // A clone that would not fit is refused, and leaves nothing.
    const big = await gate.create(gate.alice, { name: 'big' });
    const bigClient = await connectWorkspace(gate.url, gate.alice, big.id);
    await call(bigClient, 'git_init', {});
    await call(bigClient, 'write_file', { path: 'noise.bin', content: randomBytes(100 * 1024).toString('base64'), encoding: 'base64' });
    await call(bigClient, 'git_add', { all: true });
    expect((await call(bigClient, 'git_commit', { message: 'noise' })).error).toBe(false);
    const tooBig = await call(client, 'git_clone', { source_workspace: big.id, dest: 'copy' });
    expect(tooBig.code, tooBig.text).toBe('quota_exceeded');
    expect(readdirSync(root)).toEqual(['a.bin']);
    // A non-admin may not ask for more than the largest quota.
    expect((await gate.api('POST', '/v1/workspaces', gate.alice, { name: 'huge', quota_bytes: 1024 ** 4 })).body.code).toBe('quota_too_large');
  });

  it('reads files in ranges, capped, and searches them', async () => {
    const gate = await startWorkspaceServer(kind, { workspaces: { maxReadBytes: 2048 } });
    const workspace = await gate.create(gate.alice, { name: 'reading' });
    const client = await connectWorkspace(gate.url, gate.alice, workspace.id);
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i + 1}`).join('\n');
    await call(client, 'write_file', { path: 'long.txt', content: `${lines}\n` });
    expect((await call(client, 'read_file', { path: 'long.txt', start_line: 3, end_line: 5 })).structured).toMatchObject({ content: 'line 3\nline 4\nline 5\n', start_line: 3, end_line: 5, truncated: false });
    expect((await call(client, 'read_file', { path: 'long.txt', offset: 5, length: 6 })).structured).toMatchObject({ content: '1\nline', bytes: 6 });
    const capped = await call(client, 'read_file', { path: 'long.txt' });
    expect(capped.structured).toMatchObject({ bytes: 2048, truncated: true });
    expect(capped.text).toContain('[truncated: 2048 of');
    await call(client, 'write_file', { path: 'bin.dat', content: Buffer.from([0, 255, 1, 2]).toString('base64'), encoding: 'base64' });
    expect((await call(client, 'read_file', { path: 'bin.dat' })).structured).toMatchObject({ encoding: 'base64', content: 'AP8BAg==' });
    await call(client, 'write_file', { path: 'src/a.ts', content: 'const needle = 1;\n' });
    await call(client, 'write_file', { path: 'src/deep/b.ts', content: 'nothing\nNeedle again\n' });
    expect((await call(client, 'search', { glob: '*.ts' })).structured.matches.map((m: { path: string }) => m.path)).toEqual(['src/a.ts', 'src/deep/b.ts']);
    expect((await call(client, 'search', { text: 'needle', case_sensitive: false, glob: 'src/**' })).structured.matches).toEqual([
      { path: 'src/a.ts', line: 1, text: 'const needle = 1;' },
      { path: 'src/deep/b.ts', line: 2, text: 'Needle again' },
    ]);
    expect((await call(client, 'move', { from: 'src/a.ts', to: 'lib/a.ts', create_parents: true })).structured).toEqual({ from: 'src/a.ts', to: 'lib/a.ts' });
    expect((await call(client, 'delete', { path: 'src' })).code).toBe('directory_not_empty');
    expect((await call(client, 'delete', { path: 'src', recursive: true })).error).toBe(false);
    expect((await call(client, 'stat', { path: 'lib/a.ts' })).structured).toMatchObject({ type: 'file', size: 18, nlink: 1 });
    expect((await call(client, 'list_dir', {})).structured.entries.map((e: { path: string }) => e.path)).toEqual(['bin.dat', 'lib', 'long.txt']);
  });

  it('deletes softly, restores, deletes again and purges after the retention, auditing each step', async () => {
    const gate = await startWorkspaceServer(kind, { workspaces: { retentionSeconds: 3600 } });
    const workspace = await gate.create(gate.alice, { name: 'temporary' });
    const client = await connectWorkspace(gate.url, gate.alice, workspace.id);
    await call(client, 'write_file', { path: 'keep.txt', content: 'kept\n' });
    const root = filesOf(gate.server, workspace.id);

    const deleted = await gate.api('DELETE', `/v1/workspaces/${workspace.id}`, gate.alice);
    expect(deleted.body.workspace).toMatchObject({ status: 'deleted' });
    const purgeAfter = deleted.body.workspace.purge_after as string;
    expect(Date.parse(purgeAfter) - Date.parse(deleted.body.workspace.deleted_at)).toBe(3600 * 1000);
    expect(existsSync(join(root, 'keep.txt'))).toBe(true);
    // Deleted: its tools stop at once, its open session included.
    await expect(call(client, 'read_file', { path: 'keep.txt' })).rejects.toThrow(/workspace_deleted/);
    expect((await gate.api('GET', '/v1/workspaces?status=deleted', gate.alice)).body.workspaces.map((w: { id: string }) => w.id)).toEqual([workspace.id]);

    const restored = await gate.api('POST', `/v1/workspaces/${workspace.id}/restore`, gate.alice);
    expect(restored.body.workspace).toMatchObject({ status: 'active', deleted_at: null, purge_after: null });
    const again = await connectWorkspace(gate.url, gate.alice, workspace.id);
    expect((await call(again, 'read_file', { path: 'keep.txt' })).structured.content).toBe('kept\n');
    expect((await gate.api('DELETE', `/v1/workspaces/${workspace.id}`, gate.alice)).status).toBe(200);

    // The purge runs on a clock of its own: before the retention nothing goes, after it everything does.
    const { store, audit, config } = gate.server.runtime;
    const at = (time: string) => new Workspaces({ store, audit, settings: { ...config.workspaces, dir: config.paths.workspacesDir }, now: () => new Date(time) });
    const secondDelete = (await gate.api('GET', `/v1/workspaces/${workspace.id}`, gate.alice)).body.workspace.purge_after as string;
    expect(await at(new Date(Date.parse(secondDelete) - 1000).toISOString()).purge('test:purge')).toEqual([]);
    expect(existsSync(root)).toBe(true);
    const late = at(new Date(Date.parse(secondDelete) + 1000).toISOString());
    const alice = (await gate.server.runtime.keys.authenticate(gate.alice)) as { principal: Principal };
    await expect(late.restore(alice.principal, workspace.id)).rejects.toMatchObject({ code: 'workspace_expired' });
    expect(await late.purge('test:purge')).toEqual([workspace.id]);
    expect(existsSync(join(config.paths.workspacesDir, workspace.id))).toBe(false);
    expect(await late.purge('test:purge')).toEqual([]);
    expect((await gate.api('GET', `/v1/workspaces/${workspace.id}`, gate.alice)).status).toBe(404);
    expect((await gate.api('GET', '/v1/workspaces?status=purged', gate.alice)).body.workspaces[0]).toMatchObject({ id: workspace.id, status: 'purged' });
    // The name is free again.
    expect((await gate.create(gate.alice, { name: 'temporary' })).id).not.toBe(workspace.id);

    const steps = (await gate.audit()).filter((event) => event.subject_id === workspace.id && event.action.startsWith('workspace.'));
    expect(steps.map((event) => event.action)).toEqual(['workspace.created', 'workspace.deleted', 'workspace.restored', 'workspace.deleted', 'workspace.purged']);
    expect(steps.map((event) => event.actor)).toEqual([expect.stringMatching(/^key:/), expect.stringMatching(/^key:/), expect.stringMatching(/^key:/), expect.stringMatching(/^key:/), 'test:purge']);
    expect(steps[4]?.data).toMatchObject({ name: 'temporary', owner: 'alice', provider: 'directory' });
    const verified = await http('GET', `${gate.url}/health`);
    expect(verified.body.checks.workspaces).toMatchObject({ status: 'healthy', default_provider: 'directory', providers: { directory: { status: 'healthy' } } });
  });
});
