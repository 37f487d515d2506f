import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

describe('airlock init', () => {
  it('init is idempotent and prints the first admin key once', async () => {
    const cwd = tmpDir();
    const first = await runCli(['init'], { cwd });
    expect(first.stdout).toContain('(created, key id');
    expect(first.stdout).toMatch(/^admin API key \(shown only now, store it\): alk_\w{8}_[\w-]{43}$/m);
    // The first admin user gets a generated password, printed once.
    expect(first.stdout).toMatch(/^admin user: +admin \(password, shown only now: [\w-]{24}\)$/m);
    expect(first.stdout).toMatch(/initialized$/m);
    const key = readFileSync(join(cwd, '.airlock', 'keys', 'audit-ed25519.pem'), 'utf8');
    const second = await runCli(['init'], { cwd });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('already initialized: nothing changed');
    expect(second.stdout).not.toContain('alk_');
    expect(second.stdout).not.toContain('admin user');
    expect(readFileSync(join(cwd, '.airlock', 'keys', 'audit-ed25519.pem'), 'utf8')).toBe(key);
    const tail = await runCli(['audit', 'tail', '--json'], { cwd });
    const actions = tail.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { action: string }).action);
    expect(actions).toEqual(['system.initialized', 'user.created', 'key.created']);
  });
});
