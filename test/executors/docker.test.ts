import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/errors.js';
import { DockerExecutor, engineClient } from '../../src/executors/docker.js';
import type { ExecLimits } from '../../src/executors/executor.js';
import { startContainerEngine, type ContainerEngine } from '../helpers/container-engine.js';
import { tmpDir } from '../helpers/tmp.js';

const limits = (over: Partial<ExecLimits> = {}): ExecLimits => ({ timeoutSeconds: 30, outputCapBytes: 1024 * 1024, cwd: '/unused-by-containers', ...over });

let engine: ContainerEngine;
let box: { id: string; name: string };
let executor: DockerExecutor;

beforeAll(async () => {
  engine = await startContainerEngine();
  box = await engine.container(['/bin/busybox', 'sleep', '3600']);
  executor = new DockerExecutor({ socketPath: engine.socketPath, container: box.name });
}, 120_000);

afterAll(async () => {
  await executor?.close();
  await engine?.stop();
}, 120_000);

async function rejection(promise: Promise<unknown>): Promise<AirlockError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AirlockError);
    return error as AirlockError;
  }
  throw new Error('expected a rejection');
}

describe('DockerExecutor.run', () => {
  it('passes argv as a list: hostile arguments arrive literally', async () => {
    const result = await executor.run({ kind: 'exec', argv: ['printf', '%s\\n', 'a b', '$(x)', ';', '`id`', "'", '*'] }, limits());
    expect(result.output.toString()).toBe("a b\n$(x)\n;\n`id`\n'\n*\n");
    expect(result).toMatchObject({ status: 'succeeded', exitCode: 0, truncated: false });
  });

  it('runs a shell script through /bin/sh -c when asked to', async () => {
    const result = await executor.run({ kind: 'shell', script: 'echo one; echo two | tr a-z A-Z; exit 3' }, limits());
    expect(result.output.toString()).toBe('one\nTWO\n');
    expect(result).toMatchObject({ status: 'failed', exitCode: 3 });
  });

  it('reports exit codes', async () => {
    expect(await executor.run({ kind: 'exec', argv: ['true'] }, limits())).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(await executor.run({ kind: 'exec', argv: ['sh', '-c', 'exit 42'] }, limits())).toMatchObject({ status: 'failed', exitCode: 42 });
    expect(await executor.run({ kind: 'exec', argv: ['sh', '-c', 'kill -TERM $$'] }, limits())).toMatchObject({ status: 'failed', exitCode: 143 });
  });

  it('a command that does not exist fails with 126/127, not an engine error', async () => {
    const result = await executor.run({ kind: 'exec', argv: ['/no/such/binary', 'x'] }, limits());
    expect(result.status).toBe('failed');
    expect([126, 127]).toContain(result.exitCode);
  });

  it('keeps stdout and stderr apart in the stream and combines them in arrival order', async () => {
    const script = 'echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; sleep 0.2; echo err2 >&2';
    const combined = await executor.run({ kind: 'exec', argv: ['sh', '-c', script] }, limits());
    expect(combined.output.toString()).toBe('out1\nerr1\nout2\nerr2\n');
    const onlyStderr = await executor.run({ kind: 'exec', argv: ['sh', '-c', `(${script}) 1>/dev/null`] }, limits());
    expect(onlyStderr.output.toString()).toBe('err1\nerr2\n');
    const onlyStdout = await executor.run({ kind: 'exec', argv: ['sh', '-c', `(${script}) 2>/dev/null`] }, limits());
    expect(onlyStdout.output.toString()).toBe('out1\nout2\n');
  });

  it('caps the output and says it was truncated', async () => {
    const result = await executor.run({ kind: 'exec', argv: ['sh', '-c', 'yes 0123456789 | head -c 100000; echo tail >&2'] }, limits({ outputCapBytes: 1000 }));
    expect(result.output.length).toBe(1000);
    expect(result.output.toString()).toBe('0123456789\n'.repeat(91).slice(0, 1000));
    expect(result).toMatchObject({ status: 'succeeded', exitCode: 0, truncated: true });
    const exact = await executor.run({ kind: 'exec', argv: ['printf', 'abcd'] }, limits({ outputCapBytes: 4 }));
    expect(exact).toMatchObject({ truncated: false });
    expect(exact.output.toString()).toBe('abcd');
  });

  it('kills the whole process tree on timeout and reports timed_out', async () => {
    const tag = `airlock-timeout-${Date.now()}`;
    // The script, its background child and its foreground child all have to go.
    const result = await executor.run({ kind: 'exec', argv: ['sh', '-c', `echo started; sleep 3001 & sleep 3002; echo never ${tag}`] }, limits({ timeoutSeconds: 1 }));
    expect(result.status).toBe('timed_out');
    expect(result.exitCode).toBeNull();
    expect(result.error).toMatch(/timeout/);
    expect(result.error).not.toMatch(/could not kill|sweep exited/);
    expect(result.output.toString()).toBe('started\n');
    const ps = await executor.run({ kind: 'exec', argv: ['ps', '-o', 'pid,args'] }, limits());
    expect(ps.output.toString()).toContain('sleep 3600');
    expect(ps.output.toString()).not.toMatch(/sleep 300[12]/);
    expect(ps.output.toString()).not.toContain(tag);
  });

  it('runs as the configured user in the configured directory', async () => {
    const other = new DockerExecutor({ socketPath: engine.socketPath, container: box.id, user: '1234:1234', workingDir: '/tmp' });
    const result = await other.run({ kind: 'exec', argv: ['sh', '-c', 'id -u; id -g; pwd'] }, limits());
    expect(result.output.toString()).toBe('1234\n1234\n/tmp\n');
  });

  it('a missing container is container_not_found (404)', async () => {
    const missing = new DockerExecutor({ socketPath: engine.socketPath, container: 'airlock-no-such-container' });
    const error = await rejection(missing.run({ kind: 'exec', argv: ['true'] }, limits()));
    expect(error).toMatchObject({ code: 'container_not_found', status: 404 });
    const check = await missing.check();
    expect(check.reachable).toBe(false);
    expect(check.engineVersion).toBeTruthy();
    expect(check.detail).toMatch(/airlock-no-such-container/);
  });

  it('an engine that does not answer is engine_unavailable (503); check() says unreachable without throwing', async () => {
    const nowhere = new DockerExecutor({ socketPath: join(tmpDir(), 'nothing-listens.sock'), container: box.name });
    const error = await rejection(nowhere.run({ kind: 'exec', argv: ['true'] }, limits()));
    expect(error).toMatchObject({ code: 'engine_unavailable', status: 503 });
    const check = await nowhere.check();
    expect(check.reachable).toBe(false);
    expect(check.engineVersion).toBeUndefined();
    expect(check.detail).toMatch(/unreachable/);
    const tcp = await rejection(new DockerExecutor({ url: 'tcp://127.0.0.1:1', container: box.name }).run({ kind: 'exec', argv: ['true'] }, limits()));
    expect(tcp).toMatchObject({ code: 'engine_unavailable', status: 503 });
  });

  it('check() reports the engine version and the container', async () => {
    const check = await executor.check();
    expect(check).toMatchObject({ reachable: true, engineVersion: expect.stringMatching(/^\d+\.\d+/) });
    expect(check.detail).toContain(box.name);
    expect(check.latencyMs).toBeGreaterThanOrEqual(0);
  });
});

describe('engineClient', () => {
  it('wants exactly one of socketPath and tcp://host:port', () => {
    expect(() => engineClient({})).toThrow(AirlockError);
    expect(() => engineClient({ socketPath: '/x', url: 'tcp://h:1' })).toThrow(/either/);
    expect(() => engineClient({ url: 'ftp://h:1' })).toThrow(/tcp:\/\/host:port/);
    expect(() => engineClient({ url: 'tcp://h' })).toThrow(/tcp:\/\/host:port/);
    expect(engineClient({ url: 'tcp://127.0.0.1:2375' })).toBeTruthy();
  });
});
