import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { AuditLog } from '../audit/index.js';
import type { ResolvedConfig } from '../config/index.js';
import { AirlockError, messageOf } from '../errors.js';
import { builtinTargets, loadTargetsFile, type Target } from './load.js';

export type { Target } from './load.js';

export interface RegistryState {
  readonly source: string;
  readonly sha256: string | null;
  readonly loadedAt: string;
  readonly targets: readonly Target[];
}

/**
 * The targets this instance knows: the built-in `local` target, or targets.yaml. A reload swaps the
 * whole registry at once, or — when the file is invalid — changes nothing and reports every problem.
 */
export class TargetRegistry {
  private state: RegistryState;
  private byId: ReadonlyMap<string, Target>;
  private watcher: FSWatcher | undefined;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly file: string | undefined = config.targetsFile,
  ) {
    // The first load must succeed: an invalid file refuses to start (fail closed).
    this.state = this.read();
    this.byId = new Map(this.state.targets.map((target) => [target.id, target]));
  }

  private read(): RegistryState {
    const loadedAt = new Date().toISOString();
    if (!this.file) return { source: 'built-in', sha256: null, loadedAt, targets: builtinTargets(this.config) };
    const loaded = loadTargetsFile(this.file, this.config);
    return { source: this.file, sha256: loaded.sha256, loadedAt, targets: loaded.targets };
  }

  /** Reads the file again and swaps it in; audits the outcome. An invalid file leaves the registry as it was. */
  async reload(audit: AuditLog, actor: string): Promise<RegistryState> {
    let next: RegistryState;
    try {
      next = this.read();
    } catch (error) {
      const problems = error instanceof AirlockError ? ((error.details?.problems as string[] | undefined) ?? [error.message]) : [messageOf(error)];
      await audit.record({ actor, action: 'targets.reload_failed', data: { file: this.file ?? null, problems, kept_sha256: this.state.sha256 } });
      throw error instanceof AirlockError ? error : new AirlockError('targets_invalid', messageOf(error), { status: 400 });
    }
    this.state = next;
    this.byId = new Map(next.targets.map((target) => [target.id, target]));
    await audit.record({ actor, action: 'targets.reloaded', data: { file: next.source, sha256: next.sha256, targets: next.targets.map((target) => target.id) } });
    return next;
  }

  /** Reloads whenever the file changes (editors replace files, so the folder is watched). */
  watchFile(audit: AuditLog, onError: (error: unknown) => void): void {
    if (!this.file || this.watcher) return;
    const name = basename(this.file);
    let timer: NodeJS.Timeout | undefined;
    this.watcher = watch(dirname(this.file), (_event, changed) => {
      if (changed !== name) return;
      // Editors write in several steps: wait for the file to settle.
      clearTimeout(timer);
      timer = setTimeout(() => {
        const before = this.state.sha256;
        this.reload(audit, 'system:targets-watch')
          .then((state) => state.sha256 === before || undefined)
          .catch(onError);
      }, 200);
    });
    this.watcher.unref();
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  current(): RegistryState {
    return this.state;
  }

  list(): Target[] {
    return [...this.state.targets];
  }

  find(id: string): Target | undefined {
    return this.byId.get(id);
  }

  /** The target, or a 400 naming the known ones. */
  require(id: string): Target {
    const target = this.byId.get(id);
    if (!target) throw new AirlockError('unknown_target', `unknown target "${id}" (known: ${[...this.byId.keys()].join(', ')})`, { status: 400 });
    return target;
  }
}
