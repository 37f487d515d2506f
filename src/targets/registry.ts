import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import { AirlockError } from '../errors.js';
import { builtinTargets, loadTargetsFile, type Target } from './load.js';

export type { Target } from './load.js';

export interface RegistryState {
  readonly source: string;
  readonly sha256: string | null;
  readonly loadedAt: string;
  readonly targets: readonly Target[];
}

/**
 * The targets this instance knows: the built-in `local` target, or targets.yaml. A reload (see
 * src/reload) reads the file first and then swaps the whole registry at once, or — when the file is
 * invalid — changes nothing and reports every problem.
 */
export class TargetRegistry {
  private state: RegistryState;
  private byId: ReadonlyMap<string, Target>;
  private watcher: FSWatcher | undefined;
  private settle: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly file: string | undefined = config.targetsFile,
  ) {
    // The first load must succeed: an invalid file refuses to start (fail closed).
    this.state = this.read();
    this.byId = new Map(this.state.targets.map((target) => [target.id, target]));
  }

  /** Reads and checks the file again without changing what is in force; throws `targets_invalid` listing every problem. */
  read(): RegistryState {
    const loadedAt = new Date().toISOString();
    if (!this.file) return { source: 'built-in', sha256: null, loadedAt, targets: builtinTargets(this.config) };
    const loaded = loadTargetsFile(this.file, this.config);
    return { source: this.file, sha256: loaded.sha256, loadedAt, targets: loaded.targets };
  }

  /** Puts a state from `read` in force, all targets at once. Reloads go through the configuration reloader, which audits them. */
  swap(next: RegistryState): void {
    this.state = next;
    this.byId = new Map(next.targets.map((target) => [target.id, target]));
  }

  /** Calls `onChange` whenever the file changes (editors replace files, so the folder is watched). */
  watchFile(onChange: () => void): void {
    if (!this.file || this.watcher) return;
    const name = basename(this.file);
    this.watcher = watch(dirname(this.file), (_event, changed) => {
      if (changed !== name) return;
      // Editors write in several steps: wait for the file to settle.
      clearTimeout(this.settle);
      this.settle = setTimeout(onChange, 200);
    });
    this.watcher.unref();
  }

  close(): void {
    clearTimeout(this.settle);
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
