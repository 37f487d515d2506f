import { AirlockError } from '../errors.js';
import type { Executor } from '../executors/executor.js';
import { LocalExecutor } from '../executors/local-executor.js';
import type { Target } from './load.js';

/** The executor that reaches a target. */
export function executorFor(target: Target): Executor {
  switch (target.executor) {
    case 'local':
      return new LocalExecutor();
    default:
      throw new AirlockError('executor_unavailable', `the ${target.executor} executor is not available in this build`, { status: 501 });
  }
}
