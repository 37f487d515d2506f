import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AirlockClient } from '../../src/client/index.js';
import { REPO_ROOT, cleanEnv } from '../helpers/cli.js';
import { startGate } from '../helpers/gate.js';
import { tmpDir } from '../helpers/tmp.js';

/** A process of an example: its output so far, a way to wait for a line of it, and its exit code. */
function start(command: string, args: readonly string[], env: Record<string, string>) {
  const child = spawn(command, args, { cwd: REPO_ROOT, env: cleanEnv(env) });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    output,
    exited,
    /** The first match of `pattern` in standard error, once it is there (or the exit, which fails). */
    async stderrMatch(pattern: RegExp): Promise<RegExpExecArray> {
      let done = false;
      void exited.then(() => (done = true));
      for (;;) {
        const match = pattern.exec(output.stderr);
        if (match) return match;
        if (done) throw new Error(`exited without printing ${pattern}: ${output.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
  };
}

const tsx = (file: string) => [process.execPath, ['--import', 'tsx', join('examples', file)]] as const;

describe('the examples, against a real server', () => {
  let gate: Awaited<ReturnType<typeof startGate>>;
  let approver: AirlockClient;
  let env: Record<string, string>;
  let dir: string;
  beforeAll(async () => {
    gate = await startGate('sqlite', { rateLimit: { enabled: false } });
    approver = new AirlockClient({ url: gate.url, apiKey: gate.approver });
    env = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.agent };
    dir = tmpDir();
    writeFileSync(join(dir, 'data.txt'), 'x'.repeat(10_000));
  });

  it('typecheck against the built airlock/client (examples/tsconfig.json)', async () => {
    const check = start(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'examples/tsconfig.json'], {});
    expect(await check.exited, check.output.stdout).toBe(0);
  });

  it('agent-gate.ts: a LOW tool runs at once; a MEDIUM one waits for a person, and a rejection is reported', async () => {
    const [node, args] = tsx('agent-gate.ts');
    const low = start(node, [...args, dir], env);
    expect(await low.exited, low.output.stderr).toBe(0);
    expect(JSON.parse(low.output.stdout.trim())).toMatchObject({ path: dir, exitCode: 0, usage: expect.stringMatching(new RegExp(`^\\d+(\\.\\d+)?K\\s+${dir}$`)) });

    const medium = start(node, [...args, dir, '--signal', String(process.pid)], env);
    const [, id] = await medium.stderrMatch(/request (\S+) is MEDIUM: waiting for a decision \(approve it at http:\/\/127\.0\.0\.1:\d+\/app\)/);
    await approver.requests.approve(id as string, { reason: 'looks fine' });
    expect(await medium.exited, medium.output.stderr).toBe(0);
    expect(medium.output.stdout).toContain(`process ${process.pid} is alive`);

    const rejected = start(node, [...args, dir, '--signal', String(process.pid)], env);
    const [, other] = await rejected.stderrMatch(/request (\S+) is MEDIUM/);
    await approver.requests.reject(other as string, { reason: 'not now' });
    expect(await rejected.exited).toBe(3);
    expect(rejected.output.stdout).toContain('not allowed: not now');
  });

  it('vercel-ai-tool.ts: the tool\'s execute, as the AI SDK calls it', async () => {
    const [node, args] = tsx('vercel-ai-tool.ts');
    const run = start(node, [...args, dir], env);
    expect(await run.exited, run.output.stderr).toBe(0);
    expect(JSON.parse(run.output.stdout.trim())).toEqual({ ok: true, usage: expect.stringContaining(dir) });
  });

  it('tool-call-loop.ts: the loop runs the model\'s tool call through the gate and hands back the result', async () => {
    const [node, args] = tsx('tool-call-loop.ts');
    const run = start(node, [...args, `How much space does ${dir} take?`], env);
    expect(await run.exited, run.output.stderr).toBe(0);
    expect(run.output.stdout).toMatch(new RegExp(`^The tool says: \\d+(\\.\\d+)?K\\s+${dir}\\n$`));
  });

  it('python_http.py: request, wait, token, execute with urllib; exits with the command\'s code', async () => {
    const python = ['python3', [join('examples', 'python_http.py')]] as const;
    const low = start(python[0], [...python[1], 'echo', 'hello from', "python's urllib"], env);
    expect(await low.exited, low.output.stderr).toBe(0);
    expect(low.output.stdout).toBe("hello from python's urllib\n");
    expect(low.output.stderr).toMatch(/^execution \S+: succeeded, exit code 0$/m);

    const failing = start(python[0], [...python[1], 'ls', '/no/such/path'], env);
    expect(await failing.exited).toBe(2);

    const medium = start(python[0], [...python[1], 'kill', '-0', String(process.pid)], env);
    const [, id] = await medium.stderrMatch(/request (\S+) is MEDIUM: waiting for a decision/);
    await approver.requests.approve(id as string);
    expect(await medium.exited, medium.output.stderr).toBe(0);

    const refused = start(python[0], [...python[1], 'echo', 'x'], { ...env, AIRLOCK_ENV: 'nowhere' });
    expect(await refused.exited).toBe(1);
    expect(refused.output.stderr).toContain('airlock: 400 environment_not_allowed');
  });

  it('curl.sh: the reference sequence: request, wait, token, execute, and the replay refused', async () => {
    const run = start('bash', [join('examples', 'curl.sh'), 'echo', 'test'], env);
    expect(await run.exited, run.output.stderr).toBe(0);
    const out = run.output.stdout;
    expect(out).toMatch(/^server healthy, version \S+$/m);
    expect(out).toMatch(/^Request ID: [0-9a-f-]{36} \(LOW, APPROVED\)$/m);
    expect(out).toMatch(/^Token: eyJ[\w-]+\.[\w-]+\.[\w-]+$/m);
    const executed = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('\n{')));
    expect(executed).toMatchObject({ success: true, output: 'test\n', exit_code: 0 });
    expect(out.trim().split('\n').at(-1)).toBe('{"success":false,"error":"Token has already been used"}');

    const medium = start('bash', [join('examples', 'curl.sh'), 'kill', '-0', String(process.pid)], env);
    const [, id] = await medium.stderrMatch(/waiting for a decision on (\S+)/);
    await approver.requests.reject(id as string, { reason: 'no' });
    expect(await medium.exited).toBe(3);
    expect(medium.output.stderr).toContain(`request ${id} is REJECTED: nothing runs`);
  });
});
