import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

describe('airlock keys', () => {
  it('creates a key printed once, lists it without its secret, and revokes it', async () => {
    const cwd = tmpDir();
    const created = await runCli(['keys', 'create', '--name', 'ci-agent', '--scope', 'approvals:request,approvals:read', '--json'], { cwd });
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { key: string; prefix: string; scopes: string[] };
    expect(key.scopes).toEqual(['approvals:read', 'approvals:request']);
    const list = await runCli(['keys', 'list'], { cwd });
    expect(list.stdout).toMatch(new RegExp(`^${key.prefix}\\s+ci-agent\\s+svc-ci-agent\\s+approvals:read,approvals:request\\s+active`, 'm'));
    expect(list.stdout).not.toContain(key.key.slice(13));
    const revoked = await runCli(['keys', 'revoke', key.prefix], { cwd });
    expect(revoked.stdout).toContain(`revoked API key "ci-agent" (${key.prefix})`);
    const [listed, again] = await Promise.all([runCli(['keys', 'list'], { cwd }), runCli(['keys', 'revoke', key.prefix], { cwd })]);
    expect(listed.stdout).toMatch(/ci-agent .* revoked \d{4}-/);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/was revoked at .* \[key_already_revoked\]/);
  });

  it('refuses unknown scopes and a missing name with exit 2', async () => {
    const cwd = tmpDir();
    const [bad, unnamed] = await Promise.all([runCli(['keys', 'create', '--name', 'x', '--scope', 'approvals:read,root'], { cwd }), runCli(['keys', 'create', '--scope', 'admin'], { cwd })]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown scope root');
    expect(unnamed.code).toBe(2);
    expect((await runCli(['keys', 'list'], { cwd })).stdout.trim()).toBe('no API keys');
  });
});
