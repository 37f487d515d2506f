import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type Docker from 'dockerode';
import type { CommandOp } from '../approvals/index.js';
import type { Config } from '../config/index.js';
import { AirlockError, messageOf } from '../errors.js';
import { DockerExecutor, describeAddress, engineClient, engineError } from '../executors/docker.js';
import type { ExecLimits, ExecResult } from '../executors/executor.js';
import { runLocal } from '../executors/local.js';
import { NO_OUTPUT } from '../executors/output.js';
import { SAFE_GIT_OPTIONS, gitEnvironment } from './git.js';

export type WorkspaceProviderKind = Config['workspaces']['provider'];
export type ContainerSettings = Config['workspaces']['container'];

/** Where one workspace lives. Its files are always a folder on this machine, whatever the provider. */
export interface WorkspacePlace {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  /** `<root>/<id>`: the workspace's own folder. */
  readonly dir: string;
  /** `<dir>/files`: what the file and git tools reach, and what the container mounts. */
  readonly files: string;
  /** `<dir>/home`: an empty HOME for git, out of the tools' reach. */
  readonly home: string;
  readonly containerId: string | null;
}

export interface ProviderHealth {
  readonly status: 'healthy' | 'unhealthy';
  readonly detail: string;
}

/**
 * What makes a workspace more than its folder. `directory` adds nothing: commands of a workspace
 * target run on this machine in the folder. `container` adds one container per workspace, from the
 * configured image, on the configured network, with CPU, memory and process limits, the files
 * mounted: commands run there.
 */
export interface WorkspaceProvider {
  readonly kind: WorkspaceProviderKind;
  create(place: WorkspacePlace): Promise<{ containerId: string | null }>;
  /** On soft delete: stop what runs (the files stay). */
  suspend(place: WorkspacePlace): Promise<void>;
  /** On restore: run again (a container that vanished meanwhile is made anew). */
  resume(place: WorkspacePlace): Promise<{ containerId: string | null }>;
  /** On purge: remove what the provider made (the manager removes the folder). Idempotent. */
  destroy(place: WorkspacePlace): Promise<void>;
  /** Runs an approved command in the workspace (workspace targets). */
  run(place: WorkspacePlace, op: CommandOp, limits: ExecLimits): Promise<ExecResult>;
  /** What the provider knows of one workspace (a container's state). */
  describe(place: WorkspacePlace): Promise<Record<string, unknown>>;
  health(): Promise<ProviderHealth>;
}

/** git, wherever a command names it, gets the same safety options as the git tools. */
export function withSafeGit(op: CommandOp): CommandOp {
  if (op.kind !== 'exec' || basename(op.argv[0] ?? '') !== 'git') return op;
  const [git, ...rest] = op.argv;
  return { kind: 'exec', argv: [git as string, ...SAFE_GIT_OPTIONS, ...rest] };
}

/** Workspaces as folders under the workspace root: works everywhere. */
export class DirectoryProvider implements WorkspaceProvider {
  readonly kind = 'directory' as const;

  constructor(private readonly root: string) {}

  async create(): Promise<{ containerId: null }> {
    return { containerId: null };
  }

  async suspend(): Promise<void> {}

  async resume(): Promise<{ containerId: null }> {
    return { containerId: null };
  }

  async destroy(): Promise<void> {}

  run(place: WorkspacePlace, op: CommandOp, limits: ExecLimits): Promise<ExecResult> {
    return runLocal(withSafeGit(op), { ...limits, cwd: place.files, env: { ...gitEnvironment(place.home, place.dir), ...limits.env, HOME: place.home } });
  }

  async describe(): Promise<Record<string, unknown>> {
    return {};
  }

  async health(): Promise<ProviderHealth> {
    try {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      await access(this.root, constants.W_OK | constants.X_OK);
      return { status: 'healthy', detail: `folders under ${this.root}` };
    } catch (error) {
      return { status: 'unhealthy', detail: `${this.root}: ${messageOf(error)}` };
    }
  }
}

const HEALTH_TIMEOUT_MS = 2000;

/** One container per workspace, through the same engine client as the container executor. */
export class ContainerProvider implements WorkspaceProvider {
  readonly kind = 'container' as const;
  readonly docker: Docker;
  readonly engine: string;
  private readonly address: { socketPath: string } | { url: string };

  constructor(private readonly settings: ContainerSettings) {
    if (settings.socketPath === undefined && settings.url === undefined) {
      throw new AirlockError('provider_unavailable', 'the container provider needs an engine: set workspaces.container.socketPath or url', { status: 503 });
    }
    this.address = settings.socketPath !== undefined ? { socketPath: settings.socketPath } : { url: settings.url as string };
    this.docker = engineClient(this.address);
    this.engine = describeAddress(this.address);
  }

  /** uid:gid of commands in the container: the configured one, or Airlock's own so both can read and write the files. */
  private user(): string {
    return this.settings.user ?? `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  }

  private fail(error: unknown, container?: string): AirlockError {
    return engineError(error, { engine: this.engine, ...(container ? { container } : {}) });
  }

  async create(place: WorkspacePlace): Promise<{ containerId: string }> {
    const spec: Docker.ContainerCreateOptions = {
      name: `airlock-ws-${place.id}`,
      Image: this.settings.image,
      Cmd: [...this.settings.command],
      WorkingDir: this.settings.mountPath,
      User: this.user(),
      Env: ['HOME=/tmp'],
      Labels: { 'airlock.workspace': place.id, 'airlock.owner': place.owner, 'airlock.name': place.name },
      HostConfig: {
        Binds: [`${place.files}:${this.settings.mountPath}:rw`],
        NetworkMode: this.settings.network,
        NanoCpus: Math.round(this.settings.cpus * 1e9),
        Memory: this.settings.memoryBytes,
        MemorySwap: this.settings.memoryBytes,
        PidsLimit: this.settings.pidsLimit,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        RestartPolicy: { Name: 'no' },
      },
    };
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(spec);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw this.fail(error);
      // The image is not there yet: pull it once, then try again.
      await this.pull();
      try {
        container = await this.docker.createContainer(spec);
      } catch (again) {
        throw this.fail(again);
      }
    }
    try {
      await container.start();
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined);
      throw this.fail(error, container.id);
    }
    return { containerId: container.id };
  }

  private async pull(): Promise<void> {
    try {
      const stream = await this.docker.pull(this.settings.image);
      await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (error) => (error ? reject(error) : resolve())));
    } catch (error) {
      throw new AirlockError('image_unavailable', `the workspace image ${this.settings.image} is not on ${this.engine} and cannot be pulled: ${messageOf(error)}`, { status: 503, cause: error });
    }
  }

  async suspend(place: WorkspacePlace): Promise<void> {
    if (!place.containerId) return;
    try {
      await this.docker.getContainer(place.containerId).stop({ t: 5 });
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 304 && status !== 404) throw this.fail(error, place.containerId);
    }
  }

  async resume(place: WorkspacePlace): Promise<{ containerId: string }> {
    if (place.containerId) {
      try {
        await this.docker.getContainer(place.containerId).start();
        return { containerId: place.containerId };
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 304) return { containerId: place.containerId };
        if (status !== 404) throw this.fail(error, place.containerId);
      }
      await this.docker.getContainer(`airlock-ws-${place.id}`).remove({ force: true }).catch(() => undefined);
    }
    return this.create(place);
  }

  async destroy(place: WorkspacePlace): Promise<void> {
    for (const name of [place.containerId, `airlock-ws-${place.id}`]) {
      if (!name) continue;
      try {
        await this.docker.getContainer(name).remove({ force: true, v: true });
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status !== 404 && status !== 409) throw this.fail(error, name);
      }
    }
  }

  async run(place: WorkspacePlace, op: CommandOp, limits: ExecLimits): Promise<ExecResult> {
    if (!place.containerId) return { status: 'failed', exitCode: null, ...NO_OUTPUT, durationMs: 0, error: `workspace ${place.id} has no container` };
    const executor = new DockerExecutor({ ...this.address, container: place.containerId, workingDir: this.settings.mountPath, user: this.user() });
    return executor.run(withSafeGit(op), { ...limits, env: { ...gitEnvironment('/tmp', dirname(this.settings.mountPath)), ...limits.env } });
  }

  async describe(place: WorkspacePlace): Promise<Record<string, unknown>> {
    if (!place.containerId) return { container: null };
    try {
      const info = await this.docker.getContainer(place.containerId).inspect();
      return { container: { id: info.Id, name: info.Name.replace(/^\//, ''), state: info.State.Status, running: info.State.Running, image: this.settings.image } };
    } catch (error) {
      return { container: { id: place.containerId, state: (error as { statusCode?: number }).statusCode === 404 ? 'missing' : 'unknown', running: false } };
    }
  }

  async health(): Promise<ProviderHealth> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        this.docker.version(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${HEALTH_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })), HEALTH_TIMEOUT_MS);
        }),
      ]);
      return { status: 'healthy', detail: `${answer.Components?.find((c) => /engine/i.test(c.Name))?.Name ?? 'engine'} ${answer.Version ?? '?'} at ${this.engine}, image ${this.settings.image}, network ${this.settings.network}` };
    } catch (error) {
      return { status: 'unhealthy', detail: this.fail(error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
