import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandOp } from '../../src/approvals/index.js';
import { runLocal, type ExecLimits } from '../../src/executors/local.js';
import { Spawner } from '../../src/executors/spawner.js';
import { loadTargetsFile, type Target } from '../../src/targets/index.js';
import { TargetSchema } from '../../src/targets/schema.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { alive } from '../helpers/process.js';
import { testConfig } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

const root = process.getuid?.() === 0;
const NOBODY = 65534;

const spawner = new Spawner();
afterAll(() => spawner.close());

const shell = (script: string): CommandOp => ({ kind: 'shell', script });
const limits = (over: Partial<ExecLimits> = {}): ExecLimits => ({ timeoutSeconds: 30, outputCapBytes: 1 << 20, cwd: tmpDir(), ...over });
const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
};

/** Live (not zombie) processes of a process group, from /proc. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && alive(Number(entry))) members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

const lines = (buffer: Buffer | undefined): string[] => (buffer?.toString() ?? '').split('\n').filter(Boolean).sort();

describe.each([
  ['forked by the server', undefined],
  ['forked by the spawner process', spawner],
] as const)('runLocal, %s', (_how, via) => {
  const run = (op: CommandOp, over: Partial<ExecLimits> = {}) => runLocal(op, limits(over), via);

  it('keeps stdout and stderr apart, and both combined in output', async () => {
    const result = await run(shell('echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 4'));
    expect(result).toMatchObject({ status: 'failed', exitCode: 4, truncated: false });
    expect(result.stdout?.toString()).toBe('out1\nout2\n');
    expect(result.stderr?.toString()).toBe('err1\nerr2\n');
    // Two pipes: the order between them is whatever the reads saw, each stream's own order is kept.
    expect(lines(result.output)).toEqual(['err1', 'err2', 'out1', 'out2']);
    expect(result.output.toString().replace(/err\d\n/g, '')).toBe('out1\nout2\n');
  });

  it('caps each stream and the combined output, and says it truncated', async () => {
    const big = await run(shell("head -c 5000 /dev/zero | tr '\\0' a; echo small >&2"), { outputCapBytes: 1000 });
    expect(big).toMatchObject({ status: 'succeeded', truncated: true });
    expect(big.stdout?.toString()).toBe('a'.repeat(1000));
    expect(big.stderr?.toString()).toBe('small\n');
    expect(big.output.length).toBe(1000);

    // Each stream fits, both together do not.
    const both = await run(shell('printf aaaaaaaa; printf bbbbbbbb >&2'), { outputCapBytes: 10 });
    expect(both).toMatchObject({ status: 'succeeded', truncated: true });
    expect(both.stdout?.toString()).toBe('aaaaaaaa');
    expect(both.stderr?.toString()).toBe('bbbbbbbb');
    expect(both.output.length).toBe(10);

    const err = await run(shell("head -c 3000 /dev/zero | tr '\\0' e >&2"), { outputCapBytes: 1000 });
    expect(err).toMatchObject({ truncated: true });
    expect(err.stderr?.toString()).toBe('e'.repeat(1000));
    expect(err.stdout?.length).toBe(0);

    const exact = await run({ kind: 'exec', argv: ['printf', 'abcd'] }, { outputCapBytes: 4 });
    expect(exact).toMatchObject({ truncated: false });
    expect(exact.stdout?.toString()).toBe('abcd');
  });

  it('tells onOutput each chunk of both streams as it arrives, up to the cap', async () => {
    const cwd = tmpDir();
    const seen: { stream: string; chunk: Buffer }[] = [];
    // The command waits until onOutput has seen its first line: that can only happen while it runs.
    const script = "echo first; echo oops >&2; while [ ! -e go ]; do sleep 0.01; done; head -c 5000 /dev/zero | tr '\\0' z; echo last >&2";
    let resolved = false;
    const late: string[] = [];
    const result = await run(shell(script), {
      cwd,
      outputCapBytes: 2000,
      onOutput: (stream, chunk) => {
        if (resolved) late.push(stream);
        seen.push({ stream, chunk: Buffer.from(chunk) });
        if (stream === 'stdout' && chunk.toString().includes('first')) writeFileSync(join(cwd, 'go'), '');
      },
    });
    resolved = true;
    expect(result).toMatchObject({ status: 'succeeded', truncated: true });
    const of = (stream: string): Buffer => Buffer.concat(seen.filter((entry) => entry.stream === stream).map((entry) => entry.chunk));
    expect(of('stdout').toString()).toBe(`first\n${'z'.repeat(1994)}`);
    expect(of('stdout')).toEqual(result.stdout);
    expect(of('stderr').toString()).toBe('oops\nlast\n');
    expect(of('stderr')).toEqual(result.stderr);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(late).toEqual([]);
  });

  it('does not start a command whose signal was aborted already', async () => {
    const cwd = tmpDir();
    const controller = new AbortController();
    controller.abort();
    const started: string[] = [];
    const result = await run({ kind: 'exec', argv: ['touch', 'ran'] }, { cwd, signal: controller.signal, onStart: (process) => started.push(process) });
    expect(result).toMatchObject({ status: 'failed', exitCode: null, error: 'cancelled before it started', truncated: false });
    expect(result.stdout?.length).toBe(0);
    expect(started).toEqual([]);
    expect(existsSync(join(cwd, 'ran'))).toBe(false);
  });

  it('kills the whole process group when the signal aborts while it runs', async () => {
    const controller = new AbortController();
    const started: string[] = [];
    const running = run(shell('echo going; sleep 30 & sleep 30; wait'), { signal: controller.signal, onStart: (process) => started.push(process) });
    await until(() => started.length > 0);
    const pgid = Number(started[0]?.split(':')[0]);
    // The shell and both sleeps.
    await until(() => groupMembers(pgid).length >= 3);
    controller.abort(new Error('the operator cancelled it'));
    const result = await running;
    expect(result).toMatchObject({ status: 'failed', exitCode: null, error: 'cancelled: the operator cancelled it' });
    expect(result.stdout?.toString()).toBe('going\n');
    await until(() => groupMembers(pgid).length === 0);
    expect(alive(pgid)).toBe(false);
  });

  it('says only "cancelled" for an abort without a reason, also when onStart aborts at once', async () => {
    const controller = new AbortController();
    const result = await run({ kind: 'exec', argv: ['sleep', '30'] }, { signal: controller.signal, onStart: () => controller.abort() });
    expect(result).toMatchObject({ status: 'failed', exitCode: null, error: 'cancelled' });
  });

  it.skipIf(!root)('runs the command as the given uid and gid', async () => {
    const both = await run(shell('id -u; id -g; id -G'), { uid: NOBODY, gid: NOBODY });
    expect(both).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(both.stdout?.toString()).toBe(`${NOBODY}\n${NOBODY}\n${NOBODY}\n`);
    const uid = await run({ kind: 'exec', argv: ['id', '-u'] }, { uid: NOBODY });
    expect(uid.stdout?.toString()).toBe(`${NOBODY}\n`);
  });

  it.skipIf(root)('says clearly that another uid needs root', async () => {
    const result = await run({ kind: 'exec', argv: ['id', '-u'] }, { uid: 0 });
    expect(result).toMatchObject({ status: 'failed', exitCode: 126, error: 'cannot run as uid 0: Airlock is not running as root' });
  });

  it('runs on when onOutput throws', async () => {
    const result = await run(shell('echo a; echo b >&2'), {
      onOutput: () => {
        throw new Error('a broken listener');
      },
    });
    expect(result).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(result.stdout?.toString()).toBe('a\n');
    expect(result.stderr?.toString()).toBe('b\n');
  });
});

describe.skipIf(!root)('runLocal in a server that is not root', () => {
  it('fails a command for another uid or gid with 126 and says why, with and without the spawner', async () => {
    // A real server process without root: this runner, started as nobody.
    const dir = tmpDir();
    chmodSync(dir, 0o777);
    const module = (name: string): string => fileURLToPath(new URL(`../../src/executors/${name}.ts`, import.meta.url));
    const script = join(dir, 'probe.mjs');
    writeFileSync(
      script,
      `import { runLocal } from ${JSON.stringify(module('local'))};
import { Spawner } from ${JSON.stringify(module('spawner'))};
const spawner = new Spawner();
const results = [];
for (const ids of [{ uid: 0 }, { gid: 0 }, { uid: ${NOBODY}, gid: ${NOBODY} }]) {
  for (const via of [undefined, spawner]) {
    const result = await runLocal({ kind: 'exec', argv: ['id', '-u'] }, { timeoutSeconds: 10, outputCapBytes: 1024, cwd: ${JSON.stringify(join(dir, 'work'))}, ...ids }, via);
    results.push({ status: result.status, exitCode: result.exitCode, error: result.error ?? null, stdout: result.stdout?.toString() });
  }
}
spawner.close();
process.stdout.write(JSON.stringify(results));
`,
    );
    chmodSync(script, 0o644);
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, uid: NOBODY, gid: NOBODY, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    const uid = { status: 'failed', exitCode: 126, error: 'cannot run as uid 0: Airlock is not running as root', stdout: '' };
    const gid = { status: 'failed', exitCode: 126, error: 'cannot run as gid 0: Airlock is not running as root', stdout: '' };
    const own = { status: 'succeeded', exitCode: 0, error: null, stdout: `${NOBODY}\n` };
    expect(JSON.parse(stdout)).toEqual([uid, uid, gid, gid, own, own]);
  });
});

describe('uid and gid of a local target', () => {
  const local = (connection: Record<string, unknown>) => TargetSchema.safeParse({ executor: 'local', capabilities: ['exec'], connection });

  it('are optional whole numbers from 0, a uid always with its gid', () => {
    expect(local({}).success).toBe(true);
    expect(local({ uid: 0, gid: 0 }).success).toBe(true);
    expect(local({ gid: NOBODY }).success).toBe(true);
    const alone = local({ uid: NOBODY });
    expect(alone.success).toBe(false);
    expect(alone.error?.issues[0]).toMatchObject({ path: ['connection', 'gid'], message: 'give gid together with uid' });
    expect(local({ uid: -1 }).success).toBe(false);
    expect(local({ gid: -5 }).success).toBe(false);
    expect(local({ uid: 1.5 }).success).toBe(false);
    expect(local({ gid: '1000' }).success).toBe(false);
    expect(local({ uid: 2 ** 32 - 1 }).success).toBe(false);
  });

  it('reach the Target', () => {
    const file = join(tmpDir(), 'targets.yaml');
    writeFileSync(file, `targets:\n  jail:\n    executor: local\n    connection: { uid: ${NOBODY}, gid: ${NOBODY} }\n    capabilities: [exec]\n  plain:\n    executor: local\n    capabilities: [exec]\n`);
    const [jail, plain] = loadTargetsFile(file, testConfig(), {}).targets as [Target, Target];
    expect(jail).toMatchObject({ id: 'jail', uid: NOBODY, gid: NOBODY });
    expect(plain.uid).toBeUndefined();
    expect(plain.gid).toBeUndefined();
  });
});
