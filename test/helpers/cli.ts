import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built command-line program: tests run what users run. */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `airlock ARGS` to completion in `cwd` with only the given environment (plus PATH), so the
 * developer's own AIRLOCK_* variables never leak into a test.
 */
export function runCli(args: readonly string[], options: { cwd: string; env?: Record<string, string>; input?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: cleanEnv(options.env) });
    child.stdin.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extra };
}

/**
 * Starts `airlock ARGS` that will wait for a decision (`run`, `op`), and returns once it says so: the
 * id of the request it waits on, its output so far, and its exit.
 */
export async function startWaitingCli(args: readonly string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env) });
  const output = { stdout: '', stderr: '' };
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  for (let i = 0; i < 200 && !/waiting for a decision/.test(output.stderr); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const waiting = /request (\S+) is (LOW|MEDIUM|HIGH|CRITICAL)/.exec(output.stderr);
  if (!waiting) throw new Error(`airlock ${args.join(' ')} is not waiting for a decision: ${output.stderr}`);
  return { id: waiting[1] as string, level: waiting[2] as string, output, exited };
}
