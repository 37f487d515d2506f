import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Operation } from '../../src/approvals/index.js';
import { runLocal, type ExecLimits } from '../../src/executors/local.js';
import { Spawner } from '../../src/executors/spawner.js';
import { alive } from '../helpers/process.js';
import { tmpDir } from '../helpers/tmp.js';

const spawner = new Spawner();
afterAll(() => spawner.close());

const shell = (script: string): Operation => ({ kind: 'shell', script });
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
  const run = (op: Operation, over: Partial<ExecLimits> = {}) => runLocal(op, limits(over), via);

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
