import { join } from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import { AirlockError } from '../errors.js';

/** Where a command runs and under which limits. The target registry (targets.yaml) grows from this. */
export interface Target {
  readonly id: string;
  readonly executor: 'local';
  readonly environments: readonly string[];
  readonly timeoutSeconds: number;
  readonly outputCapBytes: number;
  /** Whether operations that need a shell may run here (never by default). */
  readonly shellAllowed: boolean;
  readonly workDir: string;
}

/** The targets this instance knows: for now the machine Airlock runs on, as `local`. */
export class TargetRegistry {
  private readonly targets: ReadonlyMap<string, Target>;

  constructor(config: ResolvedConfig) {
    const local: Target = {
      id: 'local',
      executor: 'local',
      environments: config.environments.allowed ?? config.environments.known,
      timeoutSeconds: config.gateway.timeoutSeconds,
      outputCapBytes: config.gateway.outputCapBytes,
      shellAllowed: false,
      workDir: join(config.paths.stateDir, 'work'),
    };
    this.targets = new Map([[local.id, local]]);
  }

  list(): Target[] {
    return [...this.targets.values()];
  }

  find(id: string): Target | undefined {
    return this.targets.get(id);
  }

  /** The target, or a 400 naming the known ones. */
  require(id: string): Target {
    const target = this.targets.get(id);
    if (!target) throw new AirlockError('unknown_target', `unknown target "${id}" (known: ${[...this.targets.keys()].join(', ')})`, { status: 400 });
    return target;
  }
}
