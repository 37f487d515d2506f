import { createHash, randomBytes } from 'node:crypto';
import { sameSecret } from '../constant-time.js';
import { readFile } from 'node:fs/promises';
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import type { CommandOp } from '../approvals/index.js';
import { AirlockError, isAirlockError, messageOf } from '../errors.js';
import type { ExecLimits, ExecResult, Executor, TargetCheck } from './executor.js';
import { abortReason } from './local.js';
import { NO_OUTPUT, StreamCollector } from './output.js';

/** How to reach one SSH target (the `connection` of an `ssh` target in targets.yaml). */
export interface SshConnection {
  readonly host: string;
  /** Default 22. */
  readonly port?: number;
  readonly username: string;
  /** An unencrypted private key (ed25519, ECDSA or RSA, OpenSSH or PEM format), read at every connect. */
  readonly privateKeyFile: string;
  /** The server's host key, exactly as `ssh-keygen -lf <host key>.pub` prints it: "SHA256:<base64>". */
  readonly hostKeyFingerprint: string;
  /** Seconds between keep-alive probes on the pooled connection (default 15); 3 unanswered drop it. */
  readonly keepaliveSeconds?: number;
  /**
   * Commands at once on this target (default 4); one more is refused with `target_busy`. Keep it below
   * the server's MaxSessions (OpenSSH: 10), because stopping a command briefly needs a session of its own.
   */
  readonly maxConcurrency?: number;
  /** Limit for TCP connect + key exchange + authentication (default 10 000 ms). */
  readonly connectTimeoutMs?: number;
}

/**
 * Things an SSH executor saw that belong in the audit log. The executor does not write audit events
 * itself: its owner (the target registry) passes `onEvent` and records them. The callback is called
 * synchronously and must not throw (an exception is swallowed); it must not block.
 *
 * - `host_key_mismatch`: the server presented a host key other than the pinned one; nothing was sent
 *   to it (no authentication, no command). Someone may be intercepting the connection, or the host
 *   was reinstalled.
 * - `remote_kill_failed`: a command that timed out, was cancelled or lost its connection could not be
 *   killed on the host, so it may still be running there unsupervised.
 */
export type SshEvent =
  | { readonly type: 'host_key_mismatch'; readonly target: string; readonly expected: string; readonly presented: string }
  | { readonly type: 'remote_kill_failed'; readonly target: string; readonly processGroup: number | null; readonly reason: string };

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** Linux numbers of the signal names an SSH server reports in "exit-signal" (RFC 4254 6.10). */
const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15 };

/** How long a command may take to end after its process group was sent SIGKILL before its channel is closed. */
const KILL_GRACE_MS = 5000;

/** Quotes one argument for a POSIX shell: single quotes, each embedded quote as '\'' . Nothing inside is special. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** "SHA256:<unpadded base64>" of a raw SSH public key blob, as OpenSSH prints it. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}


/**
 * Runs operations on one SSH host over one pooled ssh2 connection.
 *
 * - The host key is pinned: ssh2's `hostVerifier` compares the presented key's SHA256 fingerprint with
 *   the configured one during key exchange, before authentication; a different key ends the handshake
 *   (`host_key_mismatch`), so nothing is ever sent to an impostor.
 * - Public-key authentication only, with the key file read at each connect (rotation needs no restart).
 * - One connection, reused by every run and kept alive; if it dropped, the next run connects again.
 *   A run is retried on a fresh connection only when the old one failed before its session channel
 *   opened, i.e. when the command cannot have started: a single-use token never runs twice.
 * - At most `maxConcurrency` commands at once; one more is refused at once (`target_busy`), never queued.
 * - No environment is forwarded; the command runs in the login user's home directory (`limits.cwd`
 *   is a directory of the gateway's machine and means nothing on the host). The user's login shell
 *   must be POSIX-like (sh, dash, bash, ksh, zsh), because sshd hands every exec request to it.
 */
export class SshExecutor implements Executor {
  readonly kind = 'ssh' as const;
  private readonly host: string;
  private readonly port: number;
  private readonly username: string;
  private readonly privateKeyFile: string;
  private readonly fingerprint: string;
  private readonly keepaliveMs: number;
  private readonly maxConcurrency: number;
  private readonly connectTimeoutMs: number;
  private readonly onEvent: ((event: SshEvent) => void) | undefined;
  private readonly target: string;
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private serverVersion = 'SSH server';
  private connectMs: number | undefined;
  private active = 0;

  constructor(connection: SshConnection, onEvent?: (event: SshEvent) => void) {
    const port = connection.port ?? 22;
    const maxConcurrency = connection.maxConcurrency ?? 4;
    const problems: string[] = [];
    if (!connection.host) problems.push('host is empty');
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`port ${port} is not a TCP port`);
    if (!connection.username) problems.push('username is empty');
    if (!connection.privateKeyFile) problems.push('privateKeyFile is empty');
    if (!FINGERPRINT.test(connection.hostKeyFingerprint)) problems.push(`hostKeyFingerprint "${connection.hostKeyFingerprint}" is not "SHA256:<43 base64 characters>" as ssh-keygen -lf prints it`);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) problems.push(`maxConcurrency ${maxConcurrency} is not a positive integer`);
    if (connection.keepaliveSeconds !== undefined && !(connection.keepaliveSeconds > 0)) problems.push('keepaliveSeconds must be positive');
    if (connection.connectTimeoutMs !== undefined && !(connection.connectTimeoutMs > 0)) problems.push('connectTimeoutMs must be positive');
    if (problems.length > 0) throw new AirlockError('ssh_config_invalid', `invalid SSH connection: ${problems.join('; ')}`, { status: 500, details: { problems } });
    this.host = connection.host;
    this.port = port;
    this.username = connection.username;
    this.privateKeyFile = connection.privateKeyFile;
    this.fingerprint = connection.hostKeyFingerprint;
    this.keepaliveMs = (connection.keepaliveSeconds ?? 15) * 1000;
    this.maxConcurrency = maxConcurrency;
    this.connectTimeoutMs = connection.connectTimeoutMs ?? 10_000;
    this.onEvent = onEvent;
    this.target = `${this.username}@${this.host}:${this.port}`;
  }

  async run(op: CommandOp, limits: ExecLimits): Promise<ExecResult> {
    const marker = `airlock-pgid-${randomBytes(8).toString('hex')}`;
    const command = remoteCommand(op, marker);
    // Counted synchronously, before any await: two runs can never both take the last slot.
    if (this.active >= this.maxConcurrency) {
      throw new AirlockError('target_busy', `${this.target} already runs ${this.active} command(s), its limit; try again later`, { status: 429, details: { maxConcurrency: this.maxConcurrency } });
    }
    this.active++;
    try {
      const started = performance.now();
      if (limits.signal?.aborted) return { status: 'failed', exitCode: null, ...NO_OUTPUT, durationMs: 0, error: 'cancelled before it started' };
      // The channel is supervised from inside ssh2's callback: the exit status of a quick command may be
      // parsed from the same TCP read as the exec reply, before any later tick could listen for it.
      return await this.startExec(command, (channel) => this.supervise(channel, marker, limits, started));
    } finally {
      this.active--;
    }
  }

  async check(): Promise<TargetCheck> {
    const started = performance.now();
    try {
      await this.connection();
      return { reachable: true, detail: `${this.serverVersion} on ${this.host}:${this.port}`, hostKey: 'match', latencyMs: this.connectMs ?? Math.round(performance.now() - started) };
    } catch (error) {
      const latencyMs = Math.round(performance.now() - started);
      if (isAirlockError(error) && error.code === 'host_key_mismatch') return { reachable: false, detail: error.message, hostKey: 'mismatch', latencyMs };
      // Authentication comes after the host key was verified.
      if (isAirlockError(error) && error.code === 'ssh_auth_failed') return { reachable: false, detail: error.message, hostKey: 'match', latencyMs };
      return { reachable: false, detail: messageOf(error), latencyMs };
    }
  }

  async close(): Promise<void> {
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.destroy();
        resolve();
      }, 2000);
      client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      client.end();
    });
  }

  /**
   * An SFTP session on the pooled connection for the duration of `work` (the typed file operations).
   * It is not counted against the command limit: it runs no process, and the execution it serves was
   * already counted by the gate.
   */
  async withSftp<T>(work: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    const client = await this.connection();
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      client.sftp((error, session) => (error ? reject(new AirlockError('ssh_sftp_failed', `cannot open SFTP on ${this.target}: ${messageOf(error)}`, { status: 502, cause: error })) : resolve(session)));
    });
    try {
      return await work(sftp);
    } finally {
      sftp.end();
    }
  }

  /** The pooled connection, connecting first if there is none (concurrent callers share one attempt). */
  private connection(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<Client> {
    let privateKey: Buffer;
    try {
      privateKey = await readFile(this.privateKeyFile);
    } catch (error) {
      throw new AirlockError('ssh_key_unreadable', `cannot read the SSH private key ${this.privateKeyFile} for ${this.target}: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`, { status: 500, cause: error });
    }
    const started = performance.now();
    const client = new Client();
    let presented: string | undefined;
    return new Promise<Client>((resolve, reject) => {
      let ready = false;
      const fail = (error: AirlockError): void => {
        if (ready) return;
        ready = true; // settle once
        client.destroy();
        reject(error);
      };
      client.on('ready', () => {
        if (ready) return;
        ready = true;
        this.connectMs = Math.round(performance.now() - started);
        // Small request/reply packets: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms stalls.
        client.setNoDelay(true);
        // ssh2 keeps the server's software version ("OpenSSH_9.2p1") from the identification line.
        const version = (client as unknown as { _remoteVer?: unknown })._remoteVer;
        if (typeof version === 'string' && version) this.serverVersion = version;
        this.client = client;
        resolve(client);
      });
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        if (presented !== undefined) {
          fail(new AirlockError('host_key_mismatch', `the host key of ${this.host}:${this.port} does not match the pinned one: expected ${this.fingerprint}, presented ${presented}; refusing to connect`, { status: 502, details: { expected: this.fingerprint, presented } }));
        } else if (error.level === 'client-authentication') {
          fail(new AirlockError('ssh_auth_failed', `${this.host}:${this.port} refused the key ${this.privateKeyFile} for ${this.username}`, { status: 502, cause: error }));
        } else {
          fail(new AirlockError('ssh_unreachable', `cannot connect to ${this.host}:${this.port}: ${describeConnectError(error, this.connectTimeoutMs)}`, { status: 502, cause: error }));
        }
        // After `ready`, errors end the connection; 'close' below forgets it.
      });
      client.on('close', () => {
        if (this.client === client) this.client = undefined;
        fail(new AirlockError('ssh_unreachable', `cannot connect to ${this.host}:${this.port}: the connection closed during the handshake`, { status: 502 }));
      });
      try {
        client.connect({
          host: this.host,
          port: this.port,
          username: this.username,
          privateKey,
          // Only this key: no agent, no password, no keyboard-interactive.
          authHandler: ['publickey'],
          readyTimeout: this.connectTimeoutMs,
          keepaliveInterval: this.keepaliveMs,
          keepaliveCountMax: 3,
          hostVerifier: (key: Buffer): boolean => {
            const fingerprint = sshFingerprint(key);
            if (sameSecret(fingerprint, this.fingerprint)) return true;
            presented = fingerprint;
            this.emit({ type: 'host_key_mismatch', target: this.target, expected: this.fingerprint, presented: fingerprint });
            return false;
          },
        });
      } catch (error) {
        // ssh2 parses the key synchronously: a passphrase-protected or garbled file ends here.
        fail(new AirlockError('ssh_key_unreadable', `cannot use the SSH private key ${this.privateKeyFile} for ${this.target}: ${messageOf(error)}`, { status: 500, cause: error }));
      }
    });
  }

  /** Opens a session channel and sends the exec request; retried once only when the command cannot have started. */
  private async startExec<T>(command: string, supervise: (channel: ClientChannel) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connection();
      let running: Promise<T> | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          client.exec(command, (error, channel) => {
            if (error) {
              reject(error);
              return;
            }
            running = supervise(channel);
            resolve();
          });
        });
      } catch (error) {
        // "Not connected": the socket was already gone; "No response from server": it closed while the
        // channel was being opened. Either way no exec request reached the server.
        const neverSent = /^(Not connected|No response from server)$/.test(messageOf(error));
        if (neverSent && this.client === client) this.client = undefined;
        if (neverSent && attempt === 0) continue;
        throw new AirlockError('ssh_exec_failed', `cannot start the command on ${this.target}: ${messageOf(error)}`, { status: 502, cause: error });
      }
      return running as Promise<T>;
    }
  }

  /**
   * Collects the output, enforces the timeout and the abort signal, and reports how the command ended.
   *
   * Stopping a remote command: sshd starts each session's command in a new session (setsid() in the
   * forked child, before it runs the user's shell — OpenSSH and Dropbear alike), so the shell is a
   * process-group leader and `$$` is the group id. The command line first prints
   * "<marker>:<$$>" on stderr and then `exec`s the command in that very process, so the group is the
   * command's own and everything it starts inherits it (unless it makes a group of its own on purpose).
   * The marker line is taken out of the output. To stop the command, a second exec channel on the same
   * connection runs `kill -KILL -<pgid>`: closing the channel alone would not stop it (without a pty,
   * sshd sends no SIGHUP). Group ids cannot be reused while any member lives, so the kill reaches that
   * command's processes or, if they all ended, nothing.
   */
  private supervise(channel: ClientChannel, marker: string, limits: ExecLimits, started: number): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve) => {
      const collected = new StreamCollector(limits.outputCapBytes, limits.onOutput);
      const collectStderr = (chunk: Buffer): void => collected.add('stderr', chunk);

      let pgid: number | undefined;
      let head: Buffer | undefined = Buffer.alloc(0); // stderr until the marker line; undefined after
      let exit: { code: number | null; signal: string | undefined } | undefined;
      let stopping: 'timeout' | 'abort' | undefined;
      let killed: Promise<void> | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      let closed = false;
      let giveUp = (): void => undefined;
      const markerPrefix = Buffer.from(`${marker}:`);

      const kill = (): void => {
        if (killed || pgid === undefined) return;
        const group = pgid;
        killed = this.killGroup(group).catch((error: unknown) => {
          this.emit({ type: 'remote_kill_failed', target: this.target, processGroup: group, reason: `kill -KILL -${group} failed: ${messageOf(error)}` });
        });
        clearTimeout(graceTimer);
        if (!closed) graceTimer = setTimeout(() => giveUp(), KILL_GRACE_MS);
      };
      const stop = (why: 'timeout' | 'abort'): void => {
        if (stopping || exit) return;
        stopping = why;
        if (pgid !== undefined) kill();
        // Without a process group yet, the kill follows as soon as the marker arrives.
        else graceTimer = setTimeout(() => giveUp(), KILL_GRACE_MS);
      };

      channel.on('data', (chunk: Buffer) => collected.add('stdout', chunk));
      channel.stderr.on('data', (chunk: Buffer) => {
        if (head === undefined) {
          collectStderr(chunk);
          return;
        }
        head = Buffer.concat([head, chunk]);
        for (let newline = head.indexOf(0x0a); newline !== -1; newline = head.indexOf(0x0a)) {
          const line = head.subarray(0, newline + 1);
          head = head.subarray(newline + 1);
          if (line.subarray(0, markerPrefix.length).equals(markerPrefix)) {
            const id = Number(line.subarray(markerPrefix.length, line.length - 1).toString('latin1'));
            const rest = head;
            head = undefined;
            if (Number.isSafeInteger(id) && id > 1) {
              pgid = id;
              limits.onStart?.(`ssh:${this.target}:${id}`);
              if (stopping) kill();
            }
            collectStderr(rest);
            return;
          }
          collectStderr(line); // something the login shell printed before our line
        }
        if (head.length > 64 * 1024) {
          // No marker line: a login shell we do not understand. Keep the output; stopping then only closes the channel.
          collectStderr(head);
          head = undefined;
        }
      });
      channel.on('exit', (code: number | null, signal?: string) => {
        exit = { code: typeof code === 'number' ? code : null, signal: typeof signal === 'string' ? signal.replace(/^SIG/, '').replace(/@.*$/, '') : undefined };
      });
      let settled = false;
      let unconfirmed = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        limits.signal?.removeEventListener('abort', onAbort);
        if (head !== undefined) collectStderr(head);
        const output = collected.finish();
        const durationMs = Math.round(performance.now() - started);
        const maybeRunning = unconfirmed ? '; it may still be running on the host' : '';
        if (stopping === 'timeout') {
          resolve({ status: 'timed_out', exitCode: null, ...output, durationMs, error: `killed after the ${limits.timeoutSeconds} s timeout${maybeRunning}` });
        } else if (stopping === 'abort') {
          resolve({ status: 'failed', exitCode: null, ...output, durationMs, error: `cancelled${abortReason(limits.signal)}${maybeRunning}` });
        } else if (!exit) {
          resolve({ status: 'failed', exitCode: null, ...output, durationMs, error: `the connection to ${this.host}:${this.port} was lost while the command ran${killed ? '; its process group was killed' : ''}` });
        } else if (exit.code !== null) {
          resolve({ status: exit.code === 0 ? 'succeeded' : 'failed', exitCode: exit.code, ...output, durationMs });
        } else {
          const number = exit.signal ? SIGNALS[exit.signal] : undefined;
          resolve({ status: 'failed', exitCode: number === undefined ? null : 128 + number, ...output, durationMs, error: `killed by signal ${exit.signal ?? 'unknown'}` });
        }
      };
      // sshd closes a session channel only once its command ended, so a command that outlives the kill
      // would hold the run forever: after the grace period the run ends anyway, and says so.
      giveUp = (): void => {
        if (closed || settled) return;
        const reason = pgid === undefined ? 'the command never reported its process group' : `it still ran ${KILL_GRACE_MS} ms after kill -KILL -${pgid}`;
        this.emit({ type: 'remote_kill_failed', target: this.target, processGroup: pgid ?? null, reason });
        unconfirmed = true;
        channel.close();
        finish();
      };
      channel.on('close', () => {
        closed = true;
        // Lost connection while the command ran: try to stop it rather than leave it running unsupervised.
        if (!exit && !stopping && pgid !== undefined) kill();
        void (killed ?? Promise.resolve()).then(finish);
      });

      const timer = setTimeout(() => stop('timeout'), limits.timeoutSeconds * 1000);
      const onAbort = (): void => stop('abort');
      limits.signal?.addEventListener('abort', onAbort, { once: true });
      // Aborted while connecting or opening the channel: the listener above came too late for that.
      if (limits.signal?.aborted) stop('abort');
      channel.end(); // the command reads an empty stdin
    });
  }

  /** `kill -KILL -<pgid>` on a channel of its own; retried briefly when the server has no session to spare. */
  private async killGroup(pgid: number): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      try {
        const client = await this.connection();
        // The shell's own kill: dash, bash, ksh and zsh all take "-KILL -<pgid>" (dash knows no "--").
        // A non-zero status means the group was already gone; that is fine.
        await new Promise<void>((resolve, reject) => {
          client.exec(`kill -KILL -${pgid}`, (error, channel) => {
            if (error) {
              reject(error);
              return;
            }
            channel.on('close', () => resolve());
            channel.resume();
            channel.stderr.resume();
            channel.end();
          });
        });
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private emit(event: SshEvent): void {
    try {
      this.onEvent?.(event);
    } catch {
      // the auditor's problem; the executor goes on
    }
  }
}

/** The exec request: print the process group on stderr, then replace the shell by the command. */
function remoteCommand(op: CommandOp, marker: string): string {
  const argv = op.kind === 'exec' ? op.argv : ['/bin/sh', '-c', op.script];
  const [file] = argv;
  if (file === undefined || file === '') throw new AirlockError('ssh_invalid_command', 'the command is empty', { status: 400 });
  // A NUL would cut the command short on the server (sshd hands it to the shell as a C string).
  if (argv.some((arg) => arg.includes('\0'))) throw new AirlockError('ssh_invalid_command', 'the command contains a NUL byte', { status: 400 });
  // bash's `exec` would read a leading "-" as its own option (and dash's knows no "--").
  if (file.startsWith('-')) throw new AirlockError('ssh_invalid_command', `the program name "${file}" starts with "-"`, { status: 400 });
  return `printf '${marker}:%s\\n' "$$" >&2; exec ${argv.map(shellQuote).join(' ')}`;
}

function describeConnectError(error: Error & { level?: string; code?: string }, timeoutMs: number): string {
  if (error.level === 'client-timeout') return `no SSH handshake within ${timeoutMs} ms`;
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return messageOf(error);
  }
}
