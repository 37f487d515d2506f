import type { CommandOp } from '../approvals/index.js';
import type { Executor, TargetCheck } from './executor.js';
import { runLocal, type ExecLimits, type ExecResult } from './local.js';

/** The machine Airlock runs on, as an executor. */
export class LocalExecutor implements Executor {
  readonly kind = 'local' as const;

  run(op: CommandOp, limits: ExecLimits): Promise<ExecResult> {
    return runLocal(op, limits);
  }

  async check(): Promise<TargetCheck> {
    return { reachable: true, detail: `this machine (pid ${process.pid})`, latencyMs: 0 };
  }

  async close(): Promise<void> {}
}
