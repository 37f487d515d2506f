import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, cleanEnv, runCli } from '../helpers/cli.js';
import { spawnServer } from '../helpers/process.js';
import { tmpDir } from '../helpers/tmp.js';

describe('the reference clients, unchanged', () => {
  it('run the deployment guide\'s curl sequence (Test C and D) against a fresh server with keys from airlock init', async () => {
    const cwd = tmpDir();
    const init = await runCli(['init'], { cwd });
    const admin = /alk_\S+/.exec(init.stdout)?.[0] as string;
    const requester = JSON.parse((await runCli(['keys', 'create', '--name', 'worker', '--scope', 'approvals:request,approvals:read', '--json'], { cwd })).stdout) as { key: string };
    const server = await spawnServer(process.execPath, [CLI, 'serve', '--port', '0'], { cwd, env: cleanEnv() });
    const script = readFileSync(join(REPO_ROOT, 'test/fixtures/reference-test-cd.sh'), 'utf8')
      .replaceAll('<your-key>', requester.key)
      .replaceAll('<your-decide-key>', admin)
      .replaceAll('http://127.0.0.1:5002', server.url);
    const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: cleanEnv() });
    server.signal('SIGTERM');
    await server.exited;
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Request ID: [0-9a-f-]{36}$/m);
    expect(result.stdout).toMatch(/^Token: eyJ[\w-]+\.[\w-]+\.[\w-]+$/m);
    const answers = result.stdout.slice(result.stdout.indexOf('{')).split(/\n(?=\{)/).map((json) => JSON.parse(json) as Record<string, unknown>);
    expect(answers[0]).toMatchObject({ success: true, output: 'test\n', exit_code: 0 });
    expect(answers[1]).toEqual({ success: false, error: 'Token has already been used' });
  });
});
