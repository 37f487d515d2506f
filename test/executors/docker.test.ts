import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { AirlockError } from '../../src/errors.js';
import * as ops from '../../src/executors/container-ops.js';
import { DockerExecutor, engineClient } from '../../src/executors/docker.js';
import type { ExecLimits } from '../../src/executors/executor.js';
import { startContainerEngine, type ContainerEngine } from '../helpers/container-engine.js';
import { tmpDir } from '../helpers/tmp.js';

const limits = (over: Partial<ExecLimits> = {}): ExecLimits => ({ timeoutSeconds: 30, outputCapBytes: 1024 * 1024, cwd: '/unused-by-containers', ...over });

let engine: ContainerEngine;
let docker: Docker;
let box: { id: string; name: string };
let executor: DockerExecutor;

beforeAll(async () => {
  engine = await startContainerEngine();
  docker = engineClient({ socketPath: engine.socketPath });
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

  it('returns stdout and stderr each on its own and streams both to onOutput', async () => {
    const seen: Record<string, Buffer[]> = { stdout: [], stderr: [] };
    const result = await executor.run({ kind: 'exec', argv: ['sh', '-c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 6'] }, limits({ onOutput: (stream, chunk) => seen[stream]?.push(Buffer.from(chunk)) }));
    expect(result).toMatchObject({ status: 'failed', exitCode: 6, truncated: false });
    expect(result.stdout?.toString()).toBe('out1\nout2\n');
    expect(result.stderr?.toString()).toBe('err1\nerr2\n');
    expect(result.output.toString().split('\n').filter(Boolean).sort()).toEqual(['err1', 'err2', 'out1', 'out2']);
    expect(Buffer.concat(seen.stdout ?? [])).toEqual(result.stdout);
    expect(Buffer.concat(seen.stderr ?? [])).toEqual(result.stderr);
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

describe('container ops', () => {
  let logger: { id: string; name: string };
  beforeAll(async () => {
    logger = await engine.container(['sh', '-c', 'for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; exec sleep 3600'], { namePrefix: 'airlock-ops', labels: { 'airlock.test': 'yes' } });
  });

  it('list sees the test containers', async () => {
    const rows = await ops.list(docker);
    const row = rows.find((r) => r.id === logger.id);
    expect(row).toMatchObject({ names: [logger.name], state: 'running' });
    expect(row?.image).toContain('airlock-test/busybox');
    expect(JSON.parse(JSON.stringify(rows))).toEqual(rows);
  });

  it('inspect gives a reduced view', async () => {
    const view = await ops.inspect(docker, logger.name);
    expect(view).toMatchObject({ id: logger.id, name: logger.name, state: { status: 'running', running: true }, labels: { 'airlock.test': 'yes' } });
    expect(view.state.pid).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(view.state.startedAt))).toBe(false);
    expect(Object.keys(view).sort()).toEqual(['id', 'image', 'labels', 'name', 'restartCount', 'state']);
  });

  it('logs returns the text, with tail and since, capped', async () => {
    // The container prints asynchronously from its start: wait until the last line is there.
    let all = await ops.logs(docker, logger.name);
    for (let i = 0; i < 100 && !all.text.includes('oops'); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      all = await ops.logs(docker, logger.name);
    }
    expect(all.text).toBe('line 1\nline 2\nline 3\nline 4\nline 5\noops\n');
    expect(all.truncated).toBe(false);
    expect((await ops.logs(docker, logger.name, { tail: 2 })).text).toBe('line 5\noops\n');
    expect((await ops.logs(docker, logger.name, { since: 3600 })).text).toContain('line 1');
    expect((await ops.logs(docker, logger.name, { since: new Date(Date.now() + 3_600_000).toISOString() })).text).toBe('');
    expect(await ops.logs(docker, logger.name, { maxBytes: 10 })).toMatchObject({ text: 'line 1\nlin', truncated: true });
  });

  it('validates its input', async () => {
    await expect(ops.inspect(docker, 'bad name; rm -rf /')).rejects.toThrow();
    await expect(ops.inspect(docker, 'x')).rejects.toThrow();
    await expect(ops.logs(docker, logger.name, { tail: 0 })).rejects.toThrow();
    await expect(ops.logs(docker, logger.name, { tail: 10_001 })).rejects.toThrow();
    await expect(ops.logs(docker, logger.name, { since: 'yesterday' as never })).rejects.toThrow();
    expect(ops.ContainerName.parse('/web_1.a-b')).toBe('web_1.a-b');
    expect(ops.Since.safeParse('2026-01-02T03:04:05Z').success).toBe(true);
    expect(ops.Since.safeParse(-5).success).toBe(false);
  });

  it('a missing container is container_not_found; an unreachable engine is engine_unavailable', async () => {
    expect(await rejection(ops.inspect(docker, 'airlock-no-such-container'))).toMatchObject({ code: 'container_not_found', status: 404 });
    expect(await rejection(ops.restart(docker, 'airlock-no-such-container', { timeoutSeconds: 0 }))).toMatchObject({ code: 'container_not_found' });
    const nowhere = engineClient({ socketPath: join(tmpDir(), 'nothing-listens.sock') });
    expect(await rejection(ops.list(nowhere))).toMatchObject({ code: 'engine_unavailable', status: 503 });
  });

  it('restart, stop and start change the state', async () => {
    const before = await ops.inspect(docker, logger.name);
    const restarted = await ops.restart(docker, logger.name, { timeoutSeconds: 0 });
    expect(restarted.state.running).toBe(true);
    expect(restarted.state.startedAt !== before.state.startedAt || restarted.restartCount > before.restartCount).toBe(true);

    const stopped = await ops.stop(docker, logger.name, { timeoutSeconds: 0 });
    expect(stopped.state).toMatchObject({ status: 'exited', running: false });
    expect((await ops.list(docker)).some((r) => r.id === logger.id)).toBe(false);
    expect((await ops.list(docker, { all: true })).find((r) => r.id === logger.id)?.state).toBe('exited');
    // Stopping a stopped container is not an error.
    expect((await ops.stop(docker, logger.name, { timeoutSeconds: 0 })).state.running).toBe(false);

    const startedAgain = await ops.start(docker, logger.name);
    expect(startedAgain.state).toMatchObject({ status: 'running', running: true });
    expect((await ops.start(docker, logger.name)).state.running).toBe(true);
  });
});
