import { basename } from 'node:path';
import type { CommandOp } from '../approvals/index.js';
import { isAirlockError, messageOf } from '../errors.js';
import type { ExecLimits, ExecResult, Executor, TargetCheck } from '../executors/executor.js';
import { NO_OUTPUT } from '../executors/output.js';
import { parsePath } from './confine.js';
import type { WorkspaceFiles } from './files.js';
import type { Workspaces } from './service.js';

/**
 * Refuses a command an argument of which (or the value of a --name=value argument) names an entry of
 * the workspace that leads outside it through a symbolic link. Absolute paths and ".." are judged by
 * the risk rules (a person decides); options that make programs follow links recursively too.
 */
async function refuseLinksOut(files: WorkspaceFiles, argv: readonly string[]): Promise<void> {
  for (const arg of argv.slice(1)) {
    const candidates = arg.includes('=') ? [arg, arg.slice(arg.indexOf('=') + 1)] : [arg];
    for (const candidate of candidates) {
      if (candidate === '' || candidate.startsWith('-')) continue;
      try {
        parsePath(candidate, { allowRoot: true });
      } catch {
        continue; // not a workspace path: absolute, "..", … (the risk rules saw to those)
      }
      await files.confinement.existing(candidate, { allowRoot: true }).catch((error: unknown) => {
        if (isAirlockError(error) && error.code === 'path_escapes') throw error;
      });
    }
  }
}

/**
 * The executor of a `workspace` target: an approved command runs in the workspace the target names,
 * in its folder (directory provider) or its container (container provider), with git given the same
 * safety options as the git tools. A workspace that was deleted since the approval fails the
 * execution, recorded like any other failure.
 */
export class WorkspaceExecutor implements Executor {
  readonly kind = 'workspace' as const;

  constructor(
    private readonly workspaces: Workspaces,
    private readonly workspaceId: string,
  ) {}

  async run(op: CommandOp, limits: ExecLimits): Promise<ExecResult> {
    const started = performance.now();
    try {
      const { open, provider } = await this.workspaces.forExecution(this.workspaceId);
      if (op.kind === 'exec' && basename(op.argv[0] ?? '') === 'git') {
        // A repository at the root whose config could run programs is refused, as the git tools refuse it.
        await open.git.checkRepository(open.files.root).catch((error: unknown) => {
          if (!(isAirlockError(error) && error.code === 'not_a_repository')) throw error;
        });
      }
      // On this machine nothing but this check keeps a program from following a link out of the folder.
      if (provider.kind === 'directory' && op.kind === 'exec') await refuseLinksOut(open.files, op.argv);
      return await provider.run(open.place, op, limits);
    } catch (error) {
      const reason = isAirlockError(error) ? `${error.code}: ${error.message}` : messageOf(error);
      return { status: 'failed', exitCode: null, ...NO_OUTPUT, durationMs: Math.round(performance.now() - started), error: reason };
    }
  }

  async check(): Promise<TargetCheck> {
    const started = performance.now();
    try {
      const { provider, open } = await this.workspaces.forExecution(this.workspaceId);
      const health = await provider.health();
      return { reachable: health.status === 'healthy', detail: `workspace ${open.view.name} (${this.workspaceId}) of ${open.view.owner}, ${provider.kind}: ${health.detail}`, latencyMs: Math.round(performance.now() - started) };
    } catch (error) {
      return { reachable: false, detail: messageOf(error), latencyMs: Math.round(performance.now() - started) };
    }
  }

  async close(): Promise<void> {}
}
