import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, cleanEnv, runCli } from '../helpers/cli.js';
import { spawnServer } from '../helpers/process.js';
import { tmpDir } from '../helpers/tmp.js';

describe('starting Airlock as a user does', () => {
  it('`npm start` with zero configuration answers /health with 200', async () => {
    const dataDir = join(tmpDir(), 'data');
    const server = await spawnServer('npm', ['start', '--silent', '--', '--port', '0'], { cwd: REPO_ROOT, env: cleanEnv({ AIRLOCK_DATA_DIR: dataDir }) });
    const response = await request(`${server.url}/health`);
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toMatchObject({ status: 'healthy', service: 'execution-gateway' });
    server.signal('SIGTERM');
    // npm may exit before the server it started: wait for the server's own last line.
    await server.waitFor('"msg":"airlock stopped"');
  });

  it('on SIGTERM finishes, records the stop, signs the head and exits 0', async () => {
    const cwd = tmpDir();
    const server = await spawnServer(process.execPath, [CLI, 'serve', '--port', '0'], { cwd, env: cleanEnv() });
    const health = await request(`${server.url}/health`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"airlock stopped"');

    const [tail, verify] = await Promise.all([runCli(['audit', 'tail', '--json'], { cwd }), runCli(['audit', 'verify'], { cwd })]);
    const actions = tail.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { action: string }).action);
    expect(actions).toEqual(['user.created', 'server.started', 'server.stopped']);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('1 signed checkpoint(s) verified');
  });

  it('keeps two instances on one data directory apart: own database, keys and chain', async () => {
    const cwd = tmpDir();
    for (const instance of ['bot-a', 'ops-a']) {
      const init = await runCli(['init', '--instance-id', instance], { cwd });
      expect(init.code).toBe(0);
      expect(init.stdout).toContain(join(cwd, '.airlock', 'instances', instance, 'keys', 'audit-ed25519.pem'));
    }
    const [a, b] = await Promise.all([runCli(['config', 'validate', '--json', '--instance-id', 'bot-a'], { cwd }), runCli(['config', 'validate', '--json', '--instance-id', 'ops-a'], { cwd })]);
    const pathsA = Object.values((JSON.parse(a.stdout) as { paths: Record<string, string> }).paths);
    const pathsB = new Set(Object.values((JSON.parse(b.stdout) as { paths: Record<string, string> }).paths));
    expect(pathsA.length).toBeGreaterThan(5);
    for (const path of pathsA) expect(pathsB.has(path), path).toBe(false);

    const server = await spawnServer(process.execPath, [CLI, 'serve', '--port', '0', '--instance-id', 'bot-a'], { cwd, env: cleanEnv() });
    const body = (await (await request(`${server.url}/health`)).body.json()) as { instance: string; checks: { audit: { head_seq: number } } };
    expect(body.instance).toBe('bot-a');
    server.signal('SIGTERM');
    await server.exited;
    // ops-a's chain holds only its own init events; bot-a's has its init, start and stop.
    const actions = async (instance: string) =>
      (await runCli(['audit', 'tail', '--json', '--instance-id', instance], { cwd })).stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { action: string }).action);
    const [botA, opsA] = await Promise.all([actions('bot-a'), actions('ops-a')]);
    expect(botA).toEqual(['system.initialized', 'user.created', 'key.created', 'server.started', 'server.stopped']);
    expect(opsA).toEqual(['system.initialized', 'user.created', 'key.created']);
  });
});
