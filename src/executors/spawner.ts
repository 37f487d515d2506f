import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { OutputStream } from './output.js';

/**
 * What the spawner process runs. It does nothing but start commands and report on them: the caller
 * keeps every decision (limits, timeouts, what to kill). The identity is read at once after spawning,
 * before the child can be reaped, so its pid cannot have been reused.
 */
const SPAWNER_SOURCE = `
'use strict';
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
function identity(pid) {
  try {
    const stat = readFileSync('/proc/' + pid + '/stat', 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start ? pid + ':' + start : undefined;
  } catch {
    return undefined;
  }
}
process.on('disconnect', () => process.exit(0));
process.on('message', (job) => {
  const send = (message) => { if (process.connected) process.send({ id: job.id, ...message }); };
  let child;
  try {
    const ids = {};
    if (job.uid !== undefined) ids.uid = job.uid;
    if (job.gid !== undefined) ids.gid = job.gid;
    child = spawn(job.file, job.args, { cwd: job.cwd, env: job.env, shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
  } catch (error) {
    send({ type: 'error', code: error.code, message: String(error.message) });
    send({ type: 'close', code: null, signal: null });
    return;
  }
  send({ type: 'start', pid: child.pid, identity: child.pid === undefined ? undefined : identity(child.pid) });
  const forwarder = (stream) => {
    let forwarded = 0;
    return (chunk) => {
      // Past the cap the caller keeps nothing of this stream; one byte more tells it the output was truncated.
      if (forwarded > job.cap) return;
      const kept = chunk.length > job.cap + 1 - forwarded ? chunk.subarray(0, job.cap + 1 - forwarded) : chunk;
      forwarded += kept.length;
      send({ type: 'data', stream, chunk: kept });
    };
  };
  child.stdout.on('data', forwarder('stdout'));
  child.stderr.on('data', forwarder('stderr'));
  child.on('error', (error) => send({ type: 'error', code: error.code, message: String(error.message) }));
  child.on('close', (code, signal) => send({ type: 'close', code, signal }));
});
`;

export interface SpawnJob {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Output bytes the caller keeps of each stream; the spawner forwards at most one more of each. */
  readonly cap: number;
  /** The user and group the command runs as (the spawner's own when absent). */
  readonly uid?: number;
  readonly gid?: number;
}

type SpawnerMessage =
  | { id: number; type: 'start'; pid?: number; identity?: string }
  | { id: number; type: 'data'; stream: OutputStream; chunk: Uint8Array }
  | { id: number; type: 'error'; code?: string; message: string }
  | { id: number; type: 'close'; code: number | null; signal: NodeJS.Signals | null };

/**
 * A command started by the spawner, seen as a child process is: 'start' (pid, identity), 'data'
 * (which stream, Buffer), 'error' (Error with code), then 'close' (code, signal) exactly once.
 */
export class RemoteChild extends EventEmitter {
  pid: number | undefined;
}

/**
 * Starts commands from a small helper process instead of from the server. fork() copies the page
 * tables of the process that calls it, and a server with its heap costs several times what a bare
 * Node process does to fork; the helper also keeps the fork off the server's event loop. The helper
 * is started on first use, exits with its parent (IPC disconnect), and is started again if it dies;
 * commands running when it dies are reported closed with an error, their process groups killed.
 */
export class Spawner {
  private helper: ChildProcess | undefined;
  private nextId = 1;
  private readonly running = new Map<number, { child: RemoteChild; helper: ChildProcess }>();

  start(job: SpawnJob): RemoteChild {
    const helper = this.ensure();
    const id = this.nextId++;
    const child = new RemoteChild();
    this.running.set(id, { child, helper });
    channelOf(helper)?.ref();
    helper.send({ id, ...job });
    return child;
  }

  /** Stops the helper (commands it started keep their own process groups). */
  close(): void {
    this.helper?.kill('SIGTERM');
    this.helper = undefined;
  }

  private ensure(): ChildProcess {
    if (this.helper && this.helper.connected) return this.helper;
    const helper = spawn(process.execPath, ['--max-semi-space-size=1', '-e', SPAWNER_SOURCE], {
      // Nothing of the server's environment (keys, database URL): each command gets its own env anyway.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    helper.on('message', (message: SpawnerMessage) => this.dispatch(message));
    helper.on('error', () => undefined);
    helper.on('exit', () => {
      if (this.helper === helper) this.helper = undefined;
      this.abandon(helper, new Error('the spawner process stopped'));
    });
    helper.unref();
    // The IPC channel would keep the event loop alive; it is held only while commands run.
    channelOf(helper)?.unref();
    this.helper = helper;
    return helper;
  }

  private dispatch(message: SpawnerMessage): void {
    const child = this.running.get(message.id)?.child;
    if (!child) return;
    switch (message.type) {
      case 'start':
        child.pid = message.pid;
        child.emit('start', message.identity);
        break;
      case 'data':
        child.emit('data', message.stream, Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength));
        break;
      case 'error':
        child.emit('error', Object.assign(new Error(message.message), { code: message.code }));
        break;
      case 'close':
        this.running.delete(message.id);
        if (this.running.size === 0) this.idle();
        child.emit('close', message.code, message.signal);
        break;
    }
  }

  private idle(): void {
    if (this.helper) channelOf(this.helper)?.unref();
  }

  /** Fails what `helper` was running when it stopped, killing the process groups it had started. */
  private abandon(helper: ChildProcess, error: Error): void {
    for (const [id, entry] of [...this.running]) {
      if (entry.helper !== helper) continue;
      this.running.delete(id);
      const { child } = entry;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      child.emit('error', Object.assign(new Error(error.message), { code: 'ESPAWNER' }));
      child.emit('close', null, null);
    }
    if (this.running.size === 0) this.idle();
  }
}

function channelOf(helper: ChildProcess): { ref(): void; unref(): void } | undefined {
  return (helper as unknown as { channel?: { ref(): void; unref(): void } }).channel;
}
