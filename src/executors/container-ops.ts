import { Readable, Writable } from 'node:stream';
import type Docker from 'dockerode';
import { z } from 'zod';
import { AirlockError } from '../errors.js';
import { ContainerName } from '../operations/schema.js';
import { engineError } from './docker.js';

export { ContainerName };

/**
 * Typed container operations (`container.list`, `container.logs`, `container.restart`, …) through the
 * Engine API client made by `engineClient`. Each takes already-validated input (the schemas below are
 * what callers parse with) and returns plain JSON-able objects. Engine failures become the same
 * AirlockErrors as in the executor: `container_not_found` (404), `engine_unavailable` (503),
 * `container_conflict` (409), `engine_error` (502).
 */

export const ListInput = z.object({ all: z.boolean().default(false) }).strict();

/** `since`: an ISO 8601 time, or a whole number of seconds back from now. */
export const Since = z.union([z.iso.datetime({ offset: true }), z.number().int().min(1).max(10 * 366 * 86_400)]);

export const LogsInput = z
  .object({
    tail: z.number().int().min(1).max(10_000).default(100),
    since: Since.optional(),
    /** At most this many bytes of text come back (the newest are dropped when over). */
    maxBytes: z.number().int().min(1).max(16 * 1024 * 1024).default(1024 * 1024),
  })
  .strict();

export const StopInput = z.object({ timeoutSeconds: z.number().int().min(0).max(600).default(10) }).strict();
export const RestartInput = StopInput;

export interface ContainerSummary {
  id: string;
  names: string[];
  image: string;
  state: string;
  status: string;
}

export interface ContainerView {
  id: string;
  name: string;
  image: string;
  state: { status: string; running: boolean; pid: number; startedAt: string; finishedAt: string; exitCode: number };
  restartCount: number;
  labels: Record<string, string>;
}

export interface ContainerLogs {
  name: string;
  text: string;
  truncated: boolean;
}

function fail(error: unknown, docker: Docker, container?: string): AirlockError {
  const modem = docker.modem as unknown as { socketPath?: string; host?: string; port?: number | string };
  const engine = modem.socketPath ? `unix://${modem.socketPath}` : `tcp://${modem.host ?? '?'}:${modem.port ?? '?'}`;
  return engineError(error, { ...(container !== undefined ? { container } : {}), engine });
}

export async function list(docker: Docker, input: z.input<typeof ListInput> = {}): Promise<ContainerSummary[]> {
  const { all } = ListInput.parse(input);
  try {
    const rows = await docker.listContainers({ all });
    return rows.map((row) => ({ id: row.Id, names: row.Names.map((name) => name.replace(/^\//, '')), image: row.Image, state: row.State, status: row.Status }));
  } catch (error) {
    throw fail(error, docker);
  }
}

export async function inspect(docker: Docker, name: string): Promise<ContainerView> {
  const container = ContainerName.parse(name);
  try {
    return view(await docker.getContainer(container).inspect());
  } catch (error) {
    throw fail(error, docker, container);
  }
}

export async function logs(docker: Docker, name: string, input: z.input<typeof LogsInput> = {}): Promise<ContainerLogs> {
  const container = ContainerName.parse(name);
  const { tail, since, maxBytes } = LogsInput.parse(input);
  const sinceSeconds = since === undefined ? undefined : typeof since === 'number' ? Math.floor(Date.now() / 1000) - since : Math.floor(Date.parse(since) / 1000);
  try {
    const handle = docker.getContainer(container);
    const info = await handle.inspect();
    const raw = (await handle.logs({ stdout: true, stderr: true, follow: false, timestamps: false, tail, ...(sinceSeconds !== undefined ? { since: sinceSeconds } : {}) })) as unknown as Buffer;
    // Without a TTY the engine multiplexes stdout and stderr in 8-byte framed chunks.
    const text = info.Config.Tty ? raw : await demux(docker, raw);
    const truncated = text.length > maxBytes;
    return { name: container, text: (truncated ? text.subarray(0, maxBytes) : text).toString('utf8'), truncated };
  } catch (error) {
    throw fail(error, docker, container);
  }
}

export async function restart(docker: Docker, name: string, input: z.input<typeof RestartInput> = {}): Promise<ContainerView> {
  const container = ContainerName.parse(name);
  const { timeoutSeconds } = RestartInput.parse(input);
  try {
    await docker.getContainer(container).restart({ t: timeoutSeconds });
    return view(await docker.getContainer(container).inspect());
  } catch (error) {
    throw fail(error, docker, container);
  }
}

export async function stop(docker: Docker, name: string, input: z.input<typeof StopInput> = {}): Promise<ContainerView> {
  const container = ContainerName.parse(name);
  const { timeoutSeconds } = StopInput.parse(input);
  try {
    await ignoreNotModified(docker.getContainer(container).stop({ t: timeoutSeconds }));
    return view(await docker.getContainer(container).inspect());
  } catch (error) {
    throw fail(error, docker, container);
  }
}

export async function start(docker: Docker, name: string): Promise<ContainerView> {
  const container = ContainerName.parse(name);
  try {
    await ignoreNotModified(docker.getContainer(container).start());
    return view(await docker.getContainer(container).inspect());
  } catch (error) {
    throw fail(error, docker, container);
  }
}

/** 304 Not Modified: already stopped / already running, which is what was asked. */
async function ignoreNotModified(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 304) throw error;
  }
}

function view(info: Docker.ContainerInspectInfo): ContainerView {
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    state: { status: info.State.Status, running: info.State.Running, pid: info.State.Pid, startedAt: info.State.StartedAt, finishedAt: info.State.FinishedAt, exitCode: info.State.ExitCode },
    restartCount: info.RestartCount,
    labels: { ...(info.Config.Labels ?? {}) },
  };
}

function demux(docker: Docker, raw: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = (): Writable =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
  const source = Readable.from([raw]);
  return new Promise((resolve, reject) => {
    source.once('end', () => resolve(Buffer.concat(chunks)));
    source.once('error', reject);
    docker.modem.demuxStream(source, sink(), sink());
  });
}
