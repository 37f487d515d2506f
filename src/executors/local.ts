import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { CommandOp } from '../approvals/index.js';
import { messageOf } from '../errors.js';
import type { Spawner } from './spawner.js';
import { NO_OUTPUT, StreamCollector, type OutputStream } from './output.js';

export interface ExecLimits {
  readonly timeoutSeconds: number;
  /** The most bytes kept of stdout, of stderr, and of both combined (each). */
  readonly outputCapBytes: number;
  readonly cwd: string;
  /** Told the identity of the process group as soon as it exists. */
  readonly onStart?: (process: string) => void;
  /**
   * Told each chunk of output as it arrives, up to the cap of its stream (what `stdout` and `stderr`
   * keep); never after the result resolved. Called synchronously; an exception it throws is ignored.
   */
  readonly onOutput?: (stream: OutputStream, chunk: Buffer) => void;
  /**
   * Aborting it stops the command as a timeout would, and the result is `failed` with an error
   * "cancelled[: reason]" (honoured by the local and SSH executors; the container executor ignores it).
   */
  readonly signal?: AbortSignal;
  /**
   * The user and group a local command runs as (Airlock's own when absent; supplementary groups are
   * dropped when either is given). Any other than Airlock's own needs Airlock to run as root. The
   * SSH and container executors ignore them (their user is the login's or the container's).
   */
  readonly uid?: number;
  readonly gid?: number;
  /**
   * Variables the command sees besides the scrubbed environment (local) or the container's own
   * (container); they win over both. The SSH executor ignores them.
   */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ExecResult {
  readonly status: 'succeeded' | 'failed' | 'timed_out';
  /** The exit code; 128 + signal number when killed by a signal; null when it never ran or timed out. */
  readonly exitCode: number | null;
  /** stdout and stderr in the order they arrived, at most outputCapBytes. */
  readonly output: Buffer;
  /** Each stream on its own, at most outputCapBytes each. */
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** Whether output, stdout or stderr dropped bytes. */
  readonly truncated: boolean;
  readonly durationMs: number;
  readonly error?: string;
}

/** What a command sees of the environment: nothing of Airlock's own (no keys, no database URL). */
export const SCRUBBED_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
};

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/**
 * Runs an operation on this machine: argv straight to exec (no shell), or a shell script through
 * /bin/sh -c (the caller has checked the target allows it). The process gets its own group, so a
 * timeout or an abort kills everything it started.
 */
export function runLocal(op: CommandOp, limits: ExecLimits, spawner?: Spawner): Promise<ExecResult> {
  if (limits.signal?.aborted) return Promise.resolve({ status: 'failed', exitCode: null, ...NO_OUTPUT, durationMs: 0, error: 'cancelled before it started' });
  mkdirSync(limits.cwd, { recursive: true, mode: 0o700 });
  // A command run as another user works, and keeps its HOME, in a directory of its own.
  if (limits.uid !== undefined && process.getuid?.() === 0) chownSync(limits.cwd, limits.uid, limits.gid ?? -1);
  const [file, ...args] = op.kind === 'exec' ? op.argv : ['/bin/sh', '-c', op.script];
  const env = { ...SCRUBBED_ENV, HOME: limits.cwd, ...limits.env };
  const ids = { ...(limits.uid !== undefined ? { uid: limits.uid } : {}), ...(limits.gid !== undefined ? { gid: limits.gid } : {}) };
  const started = performance.now();
  return new Promise((resolve) => {
    const collected = new StreamCollector(limits.outputCapBytes, limits.onOutput);
    let stopping: 'timeout' | 'abort' | undefined;
    let spawnError: NodeJS.ErrnoException | undefined;
    let child: { readonly pid?: number | undefined; on(event: string, listener: (...args: any[]) => void): unknown };
    if (spawner) {
      const remote = spawner.start({ file: file as string, args, cwd: limits.cwd, env, cap: limits.outputCapBytes, ...ids });
      remote.on('start', (identity: string | undefined) => {
        if (identity) limits.onStart?.(identity);
        // A timeout or an abort that came before the helper reported the pid kills the group now.
        if (stopping) killGroup(remote.pid);
      });
      remote.on('data', (stream: OutputStream, chunk: Buffer) => collected.add(stream, chunk));
      child = remote;
    } else {
      let local: ChildProcessByStdio<null, Readable, Readable>;
      try {
        local = spawn(file as string, args, { cwd: limits.cwd, env, shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
      } catch (error) {
        // Node throws at once what it does not report as an 'error' event: EPERM from setuid/setgid, among others.
        resolve({ status: 'failed', ...cannotRun(error as NodeJS.ErrnoException, file as string, limits), ...NO_OUTPUT, durationMs: Math.round(performance.now() - started) });
        return;
      }
      if (local.pid !== undefined) {
        const identity = processIdentity(local.pid);
        if (identity) limits.onStart?.(identity);
      }
      local.stdout.on('data', (chunk: Buffer) => collected.add('stdout', chunk));
      local.stderr.on('data', (chunk: Buffer) => collected.add('stderr', chunk));
      child = local;
    }
    const stop = (why: 'timeout' | 'abort'): void => {
      if (stopping) return;
      stopping = why;
      killGroup(child.pid);
    };
    const timer = setTimeout(() => stop('timeout'), limits.timeoutSeconds * 1000);
    const onAbort = (): void => stop('abort');
    limits.signal?.addEventListener('abort', onAbort, { once: true });
    // Aborted by onStart, before the listener above was there.
    if (limits.signal?.aborted) stop('abort');
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = error;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      limits.signal?.removeEventListener('abort', onAbort);
      const durationMs = Math.round(performance.now() - started);
      const output = collected.finish();
      if (spawnError?.code === 'ESPAWNER') {
        resolve({ status: 'failed', exitCode: null, ...output, durationMs, error: `the spawner process stopped while ${file} ran (ESPAWNER); its process group was killed` });
        return;
      }
      if (spawnError) {
        resolve({ status: 'failed', ...cannotRun(spawnError, file as string, limits), ...output, durationMs });
        return;
      }
      if (stopping === 'timeout') {
        resolve({ status: 'timed_out', exitCode: null, ...output, durationMs, error: `killed after the ${limits.timeoutSeconds} s timeout` });
        return;
      }
      if (stopping === 'abort') {
        resolve({ status: 'failed', exitCode: null, ...output, durationMs, error: `cancelled${abortReason(limits.signal)}` });
        return;
      }
      const exitCode = code ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : null);
      resolve({ status: exitCode === 0 ? 'succeeded' : 'failed', exitCode, ...output, durationMs });
    });
  });
}

/** Why a command could not be started: 127 when it does not exist, 126 otherwise. */
function cannotRun(error: NodeJS.ErrnoException, file: string, limits: ExecLimits): { exitCode: number; error: string } {
  if (error.code === 'ENOENT') return { exitCode: 127, error: `command not found: ${file}` };
  if (error.code === 'EPERM' && (limits.uid !== undefined || limits.gid !== undefined)) {
    const as = limits.uid !== undefined && (limits.uid !== process.getuid?.() || limits.gid === undefined) ? `uid ${limits.uid}` : `gid ${limits.gid}`;
    const why = process.getuid?.() === 0 ? 'EPERM' : 'Airlock is not running as root';
    return { exitCode: 126, error: `cannot run as ${as}: ${why}` };
  }
  return { exitCode: 126, error: `cannot run ${file}: ${error.code ?? error.message}` };
}

/** ": <reason>" for an abort that gave one (a plain `abort()` gives an AbortError, which says nothing). */
export function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  if (reason === undefined) return '';
  if (reason instanceof Error && reason.name === 'AbortError') return '';
  return `: ${messageOf(reason)}`;
}

/** "pid:starttime" from /proc (Linux): the start time tells a live process from a later one with the same pid. */
export function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name in field 2 may hold spaces, so count from its closing parenthesis.
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return startTime ? `${pid}:${startTime}` : undefined;
  } catch {
    return undefined;
  }
}

/** Kills the process group named by `identity` if that very process still runs; true if it did. */
export function killLeftover(identity: string): boolean {
  const pid = Number(identity.split(':')[0]);
  if (!Number.isSafeInteger(pid) || pid <= 1 || processIdentity(pid) !== identity) return false;
  killGroup(pid);
  return true;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
