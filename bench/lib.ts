/** What the benchmarks share: a scratch directory, `airlock serve` in a child process, HTTP helpers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'undici';

export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** `extraEnv` is added to the environment of every process the workspace starts. */
export function benchWorkspace(name: string, extraEnv: Record<string, string> = {}) {
  const work = mkdtempSync(join(tmpdir(), `airlock-bench-${name}-`));
  const children: ChildProcess[] = [];
  // The rate limiter stays on (its cost is part of the figure) with a limit the benchmark never reaches.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, AIRLOCK_API_RATE_LIMIT: '1000000', ...extraEnv };
  return {
    work,
    /** Starts a process that prints its URL (pino's "airlock listening" line or the baseline's JSON). */
    startProcess(args: string[]): Promise<string> {
      const child = spawn(process.execPath, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      return new Promise((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
          if (url) resolve(url);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
    },
    /** `airlock init`: the admin API key it prints. */
    async initKey(): Promise<string> {
      const child = spawn(process.execPath, [CLI, 'init'], { cwd: work, env });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await new Promise((resolve) => child.on('close', resolve));
      const key = /alk_\S+/.exec(out)?.[0];
      if (!key) throw new Error(`airlock init printed no key:\n${out}`);
      return key;
    },
    /** Runs `airlock ARGS` to completion; throws with its output if it fails. */
    async cli(args: string[]): Promise<string> {
      const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const code = await new Promise((resolve) => child.on('close', resolve));
      if (code !== 0) throw new Error(`airlock ${args.join(' ')} exited ${code}:\n${out}`);
      return out;
    },
    async close(): Promise<void> {
      for (const child of children) child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      rmSync(work, { recursive: true, force: true });
    },
  };
}

export async function json(pool: Pool, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: unknown): Promise<any> {
  const response = await pool.request({ method, path, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const parsed = (await response.body.json()) as any;
  if (response.statusCode >= 300) throw new Error(`${method} ${path} → ${response.statusCode} ${JSON.stringify(parsed)}`);
  return parsed;
}

/** An approved request for `command` (auto-approved: LOW in dev) and its token. */
export async function mint(pool: Pool, key: string, command: string): Promise<{ id: string; token: string }> {
  const auth = { authorization: `Bearer ${key}` };
  const { request } = await json(pool, 'POST', '/approvals/request', auth, { worker_id: 'bench', task_name: 'bench', command, deployment_env: 'dev' });
  const { token } = await json(pool, 'POST', '/gateway/token', auth, { approval_id: request.request_id, command, environment: 'dev' });
  return { id: request.request_id, token };
}

/** The value below which `p` percent of `values` lie (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** `count` flows over `concurrency` workers: flows per second. */
export async function flowsPerSecond(count: number, concurrency: number, flow: (worker: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next++ < count) await flow(worker);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}
