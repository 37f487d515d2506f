import { afterAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../src/executors/local.js';
import { Spawner } from '../../src/executors/spawner.js';
import { alive } from '../helpers/process.js';
import { tmpDir } from '../helpers/tmp.js';

describe('the spawner process', () => {
  const spawner = new Spawner();
  afterAll(() => spawner.close());

  it('runs commands as the server itself would: same output, exit codes, truncation and errors', async () => {
    const limits = { timeoutSeconds: 10, outputCapBytes: 8, cwd: tmpDir() };
    for (const op of [
      { kind: 'exec' as const, argv: ['/bin/echo', 'hello'] },
      { kind: 'exec' as const, argv: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'] },
      { kind: 'exec' as const, argv: ['/bin/sh', '-c', 'echo 0123456789abcdef'] },
      { kind: 'exec' as const, argv: ['/no/such/command'] },
      { kind: 'shell' as const, script: 'kill -TERM $$' },
    ]) {
      const [local, remote] = await Promise.all([runLocal(op, limits), runLocal(op, limits, spawner)]);
      const { durationMs: _l, ...expected } = local;
      const { durationMs: _r, ...actual } = remote;
      expect(actual).toEqual(expected);
    }
  });

  it('reports the process identity, and fails a command whose spawner died, killing its process group', async () => {
    const identities: string[] = [];
    const running = runLocal({ kind: 'exec', argv: ['/bin/sleep', '30'] }, { timeoutSeconds: 60, outputCapBytes: 1024, cwd: tmpDir(), onStart: (identity) => identities.push(identity) }, spawner);
    while (identities.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const pid = Number(identities[0]?.split(':')[0]);
    expect(alive(pid)).toBe(true);
    (spawner as unknown as { helper: { kill(signal: string): void } }).helper.kill('SIGKILL');
    const result = await running;
    expect(result).toMatchObject({ status: 'failed', error: expect.stringContaining('ESPAWNER') });
    while (alive(pid)) await new Promise((resolve) => setTimeout(resolve, 10));
    // The next command starts a new spawner.
    expect(await runLocal({ kind: 'exec', argv: ['/bin/echo', 'again'] }, { timeoutSeconds: 10, outputCapBytes: 1024, cwd: tmpDir() }, spawner)).toMatchObject({ status: 'succeeded', exitCode: 0 });
  });
});
