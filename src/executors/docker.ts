import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import type { CommandOp } from '../approvals/index.js';
import { AirlockError, messageOf } from '../errors.js';
import type { ExecLimits, ExecResult, Executor, TargetCheck } from './executor.js';
import { StreamCollector, type OutputStream } from './output.js';

/** Where the engine listens: a unix socket (Docker, Podman's `system service`) or tcp://host:port. */
export type EngineAddress = { readonly socketPath: string; readonly url?: undefined } | { readonly url: string; readonly socketPath?: undefined };

export interface DockerExecutorOptions {
  readonly socketPath?: string;
  /** tcp://host:port (plain HTTP; put TLS in front with a socket proxy). */
  readonly url?: string;
  /** Name or id of the running container commands are exec'd in; without it `check()` checks the engine alone and `run()` refuses. */
  readonly container?: string;
  /** User (name, uid or uid:gid) the command runs as; the container's own user when absent. */
  readonly user?: string;
  /** Working directory inside the container; the container's own when absent. */
  readonly workingDir?: string;
}

/** The one way Airlock makes an engine client, shared by the executor and the typed container ops. */
export function engineClient(address: { socketPath?: string; url?: string }): Docker {
  if (address.socketPath !== undefined && address.url !== undefined) throw new AirlockError('invalid_engine_address', 'give either socketPath or url, not both', { status: 400 });
  if (address.socketPath !== undefined) return new Docker({ socketPath: address.socketPath });
  if (address.url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(address.url);
    } catch {
      throw new AirlockError('invalid_engine_address', `not a URL: ${address.url}`, { status: 400 });
    }
    if (!['tcp:', 'http:'].includes(parsed.protocol) || !parsed.hostname || !parsed.port) {
      throw new AirlockError('invalid_engine_address', `the engine URL must be tcp://host:port, got ${address.url}`, { status: 400 });
    }
    return new Docker({ host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port), protocol: 'http' });
  }
  throw new AirlockError('invalid_engine_address', 'an engine needs a socketPath or a url', { status: 400 });
}

/** How an engine address is shown in messages. */
export function describeAddress(address: { socketPath?: string; url?: string }): string {
  return address.socketPath !== undefined ? `unix://${address.socketPath}` : (address.url ?? 'unknown engine');
}

const CONNECTION_ERRORS = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EACCES', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ENOTSOCK']);

/**
 * Maps what dockerode throws to Airlock's errors:
 * - the engine answered 404 for the container → `container_not_found`, HTTP 404 (the target names a
 *   container that does not exist: the caller's configuration, not the engine, is wrong);
 * - the engine could not be reached (no socket, refused, reset, timed out) → `engine_unavailable`, 503;
 * - 409 (e.g. the container is not running) → `container_conflict`, 409;
 * - anything else the engine said → `engine_error`, 502.
 */
export function engineError(error: unknown, context: { container?: string; engine: string }): AirlockError {
  if (error instanceof AirlockError) return error;
  const err = error as { statusCode?: number; code?: string; json?: { message?: string } | null; reason?: string };
  const said = err.json?.message ?? messageOf(error);
  if (err.statusCode === 404 && context.container !== undefined) {
    return new AirlockError('container_not_found', `no container named ${context.container} on ${context.engine}`, { status: 404, details: { container: context.container }, cause: error });
  }
  if (err.statusCode === 409) {
    return new AirlockError('container_conflict', `container ${context.container ?? ''}: ${said}`.trim(), { status: 409, details: { container: context.container }, cause: error });
  }
  if (err.statusCode === undefined && (CONNECTION_ERRORS.has(err.code ?? '') || /socket hang up|connect/i.test(messageOf(error)))) {
    return new AirlockError('engine_unavailable', `the container engine at ${context.engine} is unreachable: ${err.code ?? messageOf(error)}`, { status: 503, cause: error });
  }
  return new AirlockError('engine_error', `the container engine at ${context.engine} failed: ${said}`, { status: 502, cause: error });
}

/** The environment variable that marks every process of one exec (see `kill` below). */
const MARKER = 'AIRLOCK_EXEC';
/** How long to wait for the stream to end after the kill before giving up on it. */
const KILL_GRACE_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs operations inside one running container through the Docker Engine API (Docker, or Podman's
 * compatible service). argv goes to the engine as the exec's `Cmd` array, so nothing in it is ever
 * interpreted by a shell; a shell script (only passed when the target allows it) runs as
 * `/bin/sh -c script`.
 *
 * Timeouts. The Engine API has no "kill exec" call, and closing the attach stream does not stop the
 * process. The exec inspect `Pid` is the process id in the *engine host's* pid namespace, useless
 * when the engine is remote and racy even when it is local. So every exec is started with a unique
 * environment variable `AIRLOCK_EXEC=<uuid>`: children inherit it, so it names the whole process tree
 * of this one exec, in the container's own pid namespace, without any wrapper around the argv. On
 * expiry a second exec (as root, `/bin/sh` + `grep` needed in the image, as in any busybox, alpine or
 * debian image) finds every process whose environment holds exactly that entry
 * (`grep -lzxF` over /proc/<pid>/environ) and SIGKILLs it, a few rounds to catch forks in flight.
 * The result is then `timed_out`. A process that scrubs its own environment escapes the sweep; if the
 * killer cannot run at all the result says so in `error`.
 */
export class DockerExecutor implements Executor {
  readonly kind = 'docker' as const;
  readonly docker: Docker;
  readonly engine: string;

  constructor(readonly options: DockerExecutorOptions) {
    this.docker = engineClient(options);
    this.engine = describeAddress(options);
  }

  async run(op: CommandOp, limits: ExecLimits): Promise<ExecResult> {
    const cmd = op.kind === 'exec' ? [...op.argv] : ['/bin/sh', '-c', op.script];
    const marker = `${MARKER}=${randomUUID()}`;
    const container = this.docker.getContainer(this.containerName());
    const started = performance.now();
    let exec: Docker.Exec;
    let stream: Duplex;
    try {
      exec = await container.exec({
        Cmd: cmd,
        // The marker last, so nothing given in limits.env can hide an exec from the kill sweep.
        Env: [...Object.entries(limits.env ?? {}).map(([name, value]) => `${name}=${value}`), marker],
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        ...(this.options.user !== undefined ? { User: this.options.user } : {}),
        ...(this.options.workingDir !== undefined ? { WorkingDir: this.options.workingDir } : {}),
      });
      stream = (await exec.start({ Detach: false, Tty: false })) as Duplex;
    } catch (error) {
      throw engineError(error, { container: this.containerName(), engine: this.engine });
    }
    limits.onStart?.(`docker:${this.containerName()}:${marker}`);

    const collected = new StreamCollector(limits.outputCapBytes, limits.onOutput);
    // Both sinks write into one collector synchronously, frame by frame, so the order of arrival survives.
    const sink = (name: OutputStream): Writable =>
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          collected.add(name, chunk);
          done();
        },
      });
    this.docker.modem.demuxStream(stream, sink('stdout'), sink('stderr'));

    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    let timedOut = false;
    let killError: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), limits.timeoutSeconds * 1000);
    });
    const first = await Promise.race([ended.then(() => 'ended' as const), expired]);
    clearTimeout(timer);
    if (first === 'expired') {
      timedOut = true;
      killError = await this.kill(marker);
      const gaveUp = await Promise.race([ended.then(() => false), sleep(KILL_GRACE_MS).then(() => true)]);
      if (gaveUp) stream.destroy();
    }
    const durationMs = Math.round(performance.now() - started);
    const output = collected.finish();
    if (timedOut) {
      return { status: 'timed_out', exitCode: null, ...output, durationMs, error: `killed after the ${limits.timeoutSeconds} s timeout${killError ? ` (${killError})` : ''}` };
    }
    const exitCode = await this.exitCode(exec);
    if (exitCode === null) return { status: 'failed', exitCode, ...output, durationMs, error: 'the engine did not report an exit code' };
    return { status: exitCode === 0 ? 'succeeded' : 'failed', exitCode, ...output, durationMs, ...(exitCode === 126 || exitCode === 127 ? { error: `cannot run ${cmd[0]} in ${this.containerName()}` } : {}) };
  }

  /** The exec's exit code; the engine may still report it running for a moment after the stream ended. */
  private async exitCode(exec: Docker.Exec): Promise<number | null> {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      try {
        const info = await exec.inspect();
        if (!info.Running) return typeof info.ExitCode === 'number' ? info.ExitCode : null;
      } catch (error) {
        throw engineError(error, { container: this.containerName(), engine: this.engine });
      }
      await sleep(20);
    }
    return null;
  }

  /** SIGKILLs every process of the container whose environment holds `marker`; a message when it could not. */
  private async kill(marker: string): Promise<string | undefined> {
    const script = 'for round in 1 2 3; do for f in $(grep -lszxF "$1" /proc/[0-9]*/environ); do p=${f#/proc/}; kill -9 "${p%/environ}" 2>/dev/null; done; done; true';
    try {
      const killer = await this.docker.getContainer(this.containerName()).exec({ Cmd: ['/bin/sh', '-c', script, 'airlock-kill', marker], User: '0', AttachStdout: true, AttachStderr: true, Tty: false });
      const stream = (await killer.start({ Detach: false, Tty: false })) as Duplex;
      await new Promise<void>((resolve) => {
        stream.on('data', () => undefined);
        stream.once('end', resolve);
        stream.once('close', resolve);
        stream.once('error', () => resolve());
      });
      const code = await this.exitCode(killer);
      return code === 0 ? undefined : `the kill sweep exited with ${code ?? 'no code'}`;
    } catch (error) {
      return `could not kill: ${messageOf(error)}`;
    }
  }

  /** The container to exec in; a target that names none cannot run commands. */
  private containerName(): string {
    if (this.options.container === undefined) {
      throw new AirlockError('container_not_configured', `the target names no container to run commands in (connection.container) on ${this.engine}`, { status: 400 });
    }
    return this.options.container;
  }

  async check(): Promise<TargetCheck> {
    const started = performance.now();
    try {
      const answer = await withTimeout(
        (async () => {
          await this.docker.ping();
          const version = await this.docker.version();
          return version;
        })(),
        10_000,
      );
      const latencyMs = Math.round(performance.now() - started);
      const engineVersion = String(version(answer));
      const engineName = answer.Components?.find((component) => /engine/i.test(component.Name))?.Name ?? 'Docker Engine';
      const engineDetail = `${engineName} ${engineVersion} (API ${answer.ApiVersion ?? '?'}) at ${this.engine}`;
      if (this.options.container === undefined) return { reachable: true, detail: engineDetail, engineVersion, latencyMs };
      let state: string;
      try {
        const info = await withTimeout(this.docker.getContainer(this.options.container).inspect(), 10_000);
        state = info.State.Running ? 'running' : info.State.Status;
      } catch (error) {
        const mapped = engineError(error, { container: this.options.container, engine: this.engine });
        return { reachable: false, detail: `${engineName} ${engineVersion} at ${this.engine}; ${mapped.message}`, engineVersion, latencyMs };
      }
      const detail = `${engineDetail}; container ${this.options.container} is ${state}`;
      return { reachable: state === 'running', detail, engineVersion, latencyMs };
    } catch (error) {
      const mapped = engineError(error, { engine: this.engine });
      return { reachable: false, detail: mapped.message, latencyMs: Math.round(performance.now() - started) };
    }
  }

  async close(): Promise<void> {
    // dockerode holds no pooled connections of its own: every request opens and closes its socket.
  }
}

function version(answer: Docker.DockerVersion): string {
  return answer.Version ?? 'unknown';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms / 1000} s`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
