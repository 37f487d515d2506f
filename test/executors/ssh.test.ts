import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandOp } from '../../src/approvals/index.js';
import { AirlockError } from '../../src/errors.js';
import type { ExecLimits } from '../../src/executors/executor.js';
import { SshExecutor, shellQuote, type SshConnection, type SshEvent } from '../../src/executors/ssh.js';
import { freePort, sshdMissing, startSshd, type Sshd } from '../helpers/sshd.js';
import { tmpDir } from '../helpers/tmp.js';

// A real OpenSSH server on loopback. In CI a missing sshd fails the run (.ci/run installs it); elsewhere
// the tests are skipped with a warning, as the PostgreSQL tests are without a database.
const missing = sshdMissing();
if (missing && process.env.CI) throw new Error(`the SSH executor tests need a real OpenSSH server: ${missing}`);
if (missing) console.warn(`skipping the SSH executor tests: ${missing}`);

// Unique per run, so parallel runs of this file (other worktrees, CI jobs) never see each other's sleeps.
const RUN = String(Date.now() % 1e6).padStart(6, '0') + String(process.pid % 1000).padStart(3, '0');
const sleepArg = (seconds: number): string => `${seconds}.${RUN}`;

const exec = (...argv: string[]): CommandOp => ({ kind: 'exec', argv });
const limits = (overrides: Partial<ExecLimits> = {}): ExecLimits => ({ timeoutSeconds: 30, outputCapBytes: 1 << 20, cwd: '/nonexistent-on-purpose', ...overrides });

/** Processes on this machine (sshd is local) whose command line contains `text`, this test's own pgrep aside. */
function processesMatching(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', '-a', text], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line && !line.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never became true: ${what}`);
}

describe.skipIf(missing !== undefined)('SSH executor against a real OpenSSH server', () => {
  let sshd: Sshd;
  const executors: SshExecutor[] = [];
  const connection = (overrides: Partial<SshConnection> = {}): SshConnection => ({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKeyFile: sshd.privateKeyFile,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    ...overrides,
  });
  const executor = (overrides: Partial<SshConnection> = {}, onEvent?: (event: SshEvent) => void): SshExecutor => {
    const made = new SshExecutor(connection(overrides), onEvent);
    executors.push(made);
    return made;
  };

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    for (const made of executors) await made.close();
    await sshd?.stop();
  });

  it('runs a command and returns its output and exit code', async () => {
    const result = await executor().run(exec('echo', 'hello from ssh'), limits());
    expect(result).toMatchObject({ status: 'succeeded', exitCode: 0, truncated: false });
    expect(result.output.toString()).toBe('hello from ssh\n');
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('reports exit codes and includes stderr in arrival order', async () => {
    const ssh = executor();
    expect(await ssh.run(exec('true'), limits())).toMatchObject({ status: 'succeeded', exitCode: 0 });
    const three = await ssh.run({ kind: 'shell', script: 'echo out; sleep 0.2; echo err >&2; sleep 0.2; echo out2; exit 3' }, limits());
    expect(three).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(three.output.toString()).toBe('out\nerr\nout2\n');
    const notFound = await ssh.run(exec('airlock-no-such-program'), limits());
    expect(notFound).toMatchObject({ status: 'failed', exitCode: 127 });
    expect(notFound.output.toString()).toContain('airlock-no-such-program');
  });

  it('keeps stdout and stderr apart (without its own marker line) and streams both to onOutput', async () => {
    const seen: Record<string, Buffer[]> = { stdout: [], stderr: [] };
    const result = await executor().run({ kind: 'shell', script: 'echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 5' }, limits({ onOutput: (stream, chunk) => seen[stream]?.push(Buffer.from(chunk)) }));
    expect(result).toMatchObject({ status: 'failed', exitCode: 5, truncated: false });
    expect(result.stdout?.toString()).toBe('out1\nout2\n');
    expect(result.stderr?.toString()).toBe('err1\nerr2\n');
    expect(result.output.toString().split('\n').filter(Boolean).sort()).toEqual(['err1', 'err2', 'out1', 'out2']);
    expect(Buffer.concat(seen.stdout ?? [])).toEqual(result.stdout);
    expect(Buffer.concat(seen.stderr ?? [])).toEqual(result.stderr);
  });

  it('passes hostile arguments literally, each as one argument', async () => {
    const hostile = ['two words', "it's", '"double"', '$(touch /tmp/airlock-pwned)', '`id`', 'a; rm -rf /tmp/x', 'line one\nline two', '$HOME', '*', '\\', "'", '', ' ', '--', '&& echo injected', '| cat'];
    const result = await executor().run(exec('printf', '[%s]\n', ...hostile), limits());
    expect(result).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(result.output.toString()).toBe(hostile.map((arg) => `[${arg}]\n`).join(''));
    expect(existsSync('/tmp/airlock-pwned')).toBe(false);
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });

  it('refuses commands that cannot travel intact', async () => {
    const ssh = executor();
    await expect(ssh.run(exec('echo', 'a\0b'), limits())).rejects.toMatchObject({ code: 'ssh_invalid_command' });
    await expect(ssh.run(exec('-x'), limits())).rejects.toMatchObject({ code: 'ssh_invalid_command' });
    await expect(ssh.run({ kind: 'exec', argv: [] }, limits())).rejects.toMatchObject({ code: 'ssh_invalid_command' });
  });

  it('forwards no environment', async () => {
    process.env.AIRLOCK_SSH_TEST_SECRET = 'must-not-travel';
    try {
      const result = await executor().run(exec('env'), limits());
      expect(result.output.toString()).not.toContain('must-not-travel');
    } finally {
      delete process.env.AIRLOCK_SSH_TEST_SECRET;
    }
  });

  it('caps the output and says it truncated', async () => {
    const result = await executor().run({ kind: 'shell', script: 'head -c 100000 /dev/zero; echo done >&2' }, limits({ outputCapBytes: 1000 }));
    expect(result).toMatchObject({ status: 'succeeded', exitCode: 0, truncated: true });
    expect(result.output.length).toBe(1000);
  });

  it('kills the remote command and its children on timeout', async () => {
    const started: string[] = [];
    const result = await executor().run(exec('sleep', sleepArg(301)), limits({ timeoutSeconds: 1, onStart: (process) => started.push(process) }));
    expect(result).toMatchObject({ status: 'timed_out', exitCode: null });
    expect(started).toHaveLength(1);
    expect(started[0]).toMatch(/^ssh:.+:\d+$/);
    await eventually(() => processesMatching(`sleep ${sleepArg(301)}`).length === 0, `sleep ${sleepArg(301)} is gone`);

    // A shell script with a background child: the whole process group goes.
    const script = await executor().run({ kind: 'shell', script: `sleep ${sleepArg(304)} & sleep ${sleepArg(307)}; wait` }, limits({ timeoutSeconds: 1 }));
    expect(script.status).toBe('timed_out');
    await eventually(() => processesMatching(`sleep ${sleepArg(304)}`).length === 0 && processesMatching(`sleep ${sleepArg(307)}`).length === 0, 'both sleeps are gone');
  });

  it('ends the run and reports it when the command escapes its process group', async () => {
    const events: SshEvent[] = [];
    // setsid puts the sleep in a session of its own, out of reach of the group kill; it keeps the output open.
    const result = await executor({}, (event) => events.push(event)).run({ kind: 'shell', script: `setsid sleep ${sleepArg(309)}; true` }, limits({ timeoutSeconds: 1 }));
    try {
      expect(result).toMatchObject({ status: 'timed_out', exitCode: null });
      expect(result.error).toContain('may still be running');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'remote_kill_failed', target: `${sshd.username}@127.0.0.1:${sshd.port}` });
    } finally {
      for (const line of processesMatching(`sleep ${sleepArg(309)}`)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    }
  });

  it('stops the remote command when the abort signal fires', async () => {
    const controller = new AbortController();
    const running = executor().run(exec('sleep', sleepArg(302)), limits({ signal: controller.signal }));
    await eventually(() => processesMatching(`sleep ${sleepArg(302)}`).length >= 1, `sleep ${sleepArg(302)} runs`);
    controller.abort(new Error('the operator cancelled it'));
    const result = await running;
    expect(result).toMatchObject({ status: 'failed', exitCode: null, error: 'cancelled: the operator cancelled it' });
    await eventually(() => processesMatching(`sleep ${sleepArg(302)}`).length === 0, `sleep ${sleepArg(302)} is gone`);
  });

  it('stops a command aborted while its connection was still being made', async () => {
    const controller = new AbortController();
    const running = executor().run(exec('sleep', sleepArg(303)), limits({ signal: controller.signal }));
    controller.abort(); // the run is still connecting
    expect(await running).toMatchObject({ status: 'failed', exitCode: null, error: 'cancelled' });
    await eventually(() => processesMatching(`sleep ${sleepArg(303)}`).length === 0, `sleep ${sleepArg(303)} is gone`);
  });

  it('reports a command killed by a signal as 128 + signal', async () => {
    const result = await executor().run({ kind: 'shell', script: 'kill -TERM $$' }, limits());
    expect(result).toMatchObject({ status: 'failed', exitCode: 143 });
  });

  it('refuses to connect to a host whose key does not match the pin, and runs nothing', async () => {
    const dir = tmpDir();
    const marker = join(dir, 'ran');
    const events: SshEvent[] = [];
    const wrong = `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`;
    const ssh = executor({ hostKeyFingerprint: wrong }, (event) => events.push(event));
    const logins = sshd.acceptedLogins();
    const error = await ssh.run(exec('touch', marker), limits()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AirlockError);
    expect(error).toMatchObject({ code: 'host_key_mismatch', status: 502, details: { expected: wrong, presented: sshd.hostKeyFingerprint } });
    expect((error as Error).message).toContain(wrong);
    expect((error as Error).message).toContain(sshd.hostKeyFingerprint);
    expect(existsSync(marker)).toBe(false);
    expect(events).toEqual([{ type: 'host_key_mismatch', target: `${sshd.username}@127.0.0.1:${sshd.port}`, expected: wrong, presented: sshd.hostKeyFingerprint }]);
    // It never authenticated: the handshake ended at the host key.
    expect(sshd.acceptedLogins()).toBe(logins);
  });

  it('refuses a run beyond maxConcurrency at once, without queueing it', async () => {
    const ssh = executor({ maxConcurrency: 2 });
    const results = await Promise.allSettled([1, 2, 3].map(() => ssh.run(exec('sleep', '1'), limits())));
    const busy = results.filter((result) => result.status === 'rejected');
    expect(busy).toHaveLength(1);
    expect((busy[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'target_busy', status: 429 });
    expect(results.filter((result) => result.status === 'fulfilled' && result.value.status === 'succeeded')).toHaveLength(2);
    // The slots come back.
    expect(await ssh.run(exec('true'), limits())).toMatchObject({ status: 'succeeded' });
  });

  it('reuses one connection for many runs and reconnects when it dropped', async () => {
    const ssh = executor();
    const before = sshd.acceptedLogins();
    for (let i = 0; i < 5; i++) expect(await ssh.run(exec('echo', String(i)), limits())).toMatchObject({ status: 'succeeded' });
    await Promise.all([1, 2, 3].map(() => ssh.run(exec('true'), limits())));
    await eventually(() => sshd.acceptedLogins() === before + 1, 'one login');
    expect(sshd.acceptedLogins()).toBe(before + 1);

    await ssh.close();
    sshd.dropConnections(); // other executors' connections drop too; they reconnect on their next run
    expect(await ssh.run(exec('echo', 'again'), limits())).toMatchObject({ status: 'succeeded' });
    await eventually(() => sshd.acceptedLogins() === before + 2, 'a second login after close()');

    sshd.dropConnections();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the client sees the socket close
    const after = await ssh.run(exec('echo', 'after a drop'), limits());
    expect(after).toMatchObject({ status: 'succeeded' });
    expect(after.output.toString()).toBe('after a drop\n');
    await eventually(() => sshd.acceptedLogins() === before + 3, 'a third login after the drop');
  });

  it('check() reports a good host, a wrong host key and a closed port without throwing', async () => {
    const good = await executor().check();
    expect(good).toMatchObject({ reachable: true, hostKey: 'match' });
    expect(good.detail).toMatch(new RegExp(`^OpenSSH_\\S+ on 127\\.0\\.0\\.1:${sshd.port}$`));
    expect(typeof good.latencyMs).toBe('number');

    const wrong = `SHA256:${Buffer.alloc(32, 9).toString('base64').replace(/=+$/, '')}`;
    const mismatch = await executor({ hostKeyFingerprint: wrong }).check();
    expect(mismatch).toMatchObject({ reachable: false, hostKey: 'mismatch' });
    expect(mismatch.detail).toContain(sshd.hostKeyFingerprint);

    const closed = await executor({ port: await freePort() }).check();
    expect(closed).toMatchObject({ reachable: false });
    expect(closed.detail).toContain('connection refused');
    expect(closed.hostKey).toBeUndefined();
  });

  it('says clearly when the key file cannot be read, and refuses a malformed pin', async () => {
    const missingKey = join(tmpDir(), 'no-such-key');
    await expect(executor({ privateKeyFile: missingKey }).run(exec('true'), limits())).rejects.toMatchObject({ code: 'ssh_key_unreadable' });
    expect((await executor({ privateKeyFile: missingKey }).check()).detail).toContain(missingKey);
    expect(() => new SshExecutor(connection({ hostKeyFingerprint: 'MD5:aa:bb' }))).toThrow(/hostKeyFingerprint/);
  });
});
