import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll } from 'vitest';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) signalGroup(child, 'SIGKILL');
});

/** Signals the whole process group, so a server started through `npm start` (npm → sh → node) is reached too. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything the process printed so far. */
  output(): string;
  /** Resolves with the exit code once the process ends. */
  exited: Promise<number | null>;
  /** Sends `signal` to the server and everything it started. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves once the output contains `text` (rejects if every process of the server ends first). */
  waitFor(text: string): Promise<void>;
}

/**
 * Starts a long-running command that logs pino JSON lines, and waits for its "airlock listening" line
 * to learn the URL (the server listens on port 0 in tests).
 */
export function spawnServer(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<ServerProcess> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let output = '';
  const listeners = new Set<() => void>();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // 'close' comes once every process holding the output pipes is gone (npm's children included).
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const listener of listeners) listener();
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"airlock listening"/.exec(output);
      if (!match?.[1]) return;
      const waitFor = (text: string): Promise<void> =>
        new Promise((found, missing) => {
          const check = (): void => {
            if (!output.includes(text)) return;
            listeners.delete(check);
            found();
          };
          listeners.add(check);
          check();
          void closed.then(() => (output.includes(text) ? found() : missing(new Error(`exited without printing ${text}:\n${output}`))));
        });
      resolve({ child, url: match[1], output: () => output, exited, signal: (signal) => signalGroup(child, signal), waitFor });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('error', reject);
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
  });
}

/** Whether a process runs (a zombie waiting for its reaper does not count). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
