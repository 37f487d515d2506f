import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/index.js';
import { AirlockError, messageOf } from '../errors.js';
import { DockerExecutor } from '../executors/docker.js';
import type { Executor, TargetCheck } from '../executors/executor.js';
import { LocalExecutor } from '../executors/local-executor.js';
import { SshExecutor, type SshEvent } from '../executors/ssh.js';
import type { Target } from './load.js';

/** Executors made outside this domain: a `workspace` target's comes from the workspaces. */
export interface ExecutorFactories {
  readonly workspace?: (workspaceId: string) => Executor;
}

/** The executor that reaches a target; SSH events (a changed host key) go to `onEvent`. */
export function executorFor(target: Target, onEvent?: (event: SshEvent) => void, factories: ExecutorFactories = {}): Executor {
  const connection = target.connection as Record<string, unknown>;
  switch (target.executor) {
    case 'local':
      return new LocalExecutor();
    case 'ssh':
      return new SshExecutor(
        {
          host: connection.host as string,
          port: connection.port as number,
          username: connection.username as string,
          privateKeyFile: connection.key_path as string,
          hostKeyFingerprint: connection.host_key as string,
          keepaliveSeconds: connection.keepalive_seconds as number,
          maxConcurrency: target.concurrency,
        },
        onEvent,
      );
    case 'docker':
      return new DockerExecutor({
        ...(connection.socket_path ? { socketPath: connection.socket_path as string } : { url: connection.url as string }),
        ...(connection.container ? { container: connection.container as string } : {}),
      });
    case 'workspace':
      if (!factories.workspace) throw new AirlockError('workspace_unavailable', `target ${target.id} is a workspace: only a running server reaches it`, { status: 503 });
      return factories.workspace(connection.workspace as string);
  }
}

/** Connects to a target and reports, without running anything; never throws. */
export async function checkTarget(target: Target, factories: ExecutorFactories = {}): Promise<TargetCheck> {
  let executor: Executor;
  try {
    executor = executorFor(target, undefined, factories);
  } catch (error) {
    return { reachable: false, detail: messageOf(error) };
  }
  try {
    return await executor.check();
  } catch (error) {
    return { reachable: false, detail: messageOf(error) };
  } finally {
    await executor.close().catch(() => undefined);
  }
}

/**
 * One live executor per target (SSH connections are pooled inside it), made on first use and replaced
 * when a reload changes the target's definition.
 */
export class ExecutorPool {
  private readonly live = new Map<string, { fingerprint: string; executor: Executor }>();

  constructor(
    private readonly audit: AuditLog,
    private readonly factories: ExecutorFactories = {},
  ) {}

  get(target: Target): Executor {
    const fingerprint = createHash('sha256').update(JSON.stringify(target)).digest('hex');
    const current = this.live.get(target.id);
    if (current?.fingerprint === fingerprint) return current.executor;
    if (current) void current.executor.close().catch(() => undefined);
    const executor = executorFor(
      target,
      (event) => {
        void this.audit.record({ actor: `target:${target.id}`, action: `target.${event.type}`, target: target.id, data: { ...event } }).catch(() => undefined);
      },
      this.factories,
    );
    this.live.set(target.id, { fingerprint, executor });
    return executor;
  }

  async close(): Promise<void> {
    const executors = [...this.live.values()].map((entry) => entry.executor);
    this.live.clear();
    await Promise.all(executors.map((executor) => executor.close().catch(() => undefined)));
  }
}
