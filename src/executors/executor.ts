import type { CommandOp } from '../approvals/index.js';
import type { ExecLimits, ExecResult } from './local.js';

export type { ExecLimits, ExecResult };

/** What `airlock targets check` reports of one target. */
export interface TargetCheck {
  readonly reachable: boolean;
  /** One line a person can act on: "OpenSSH_9.2 on 127.0.0.1:2222", "connection refused", … */
  readonly detail: string;
  /** SSH only: whether the server's host key matches the pinned fingerprint. */
  readonly hostKey?: 'match' | 'mismatch';
  /** Container engines only: the engine's version. */
  readonly engineVersion?: string;
  readonly latencyMs?: number;
}

/**
 * One way of running operations somewhere: local processes, an SSH host, a container engine. The
 * gateway calls `run` only after a token was verified and consumed; an executor never decides whether
 * something may run, only runs it within the limits it is given.
 */
export interface Executor {
  readonly kind: 'local' | 'ssh' | 'docker' | 'workspace';
  run(op: CommandOp, limits: ExecLimits): Promise<ExecResult>;
  /** Connects (or looks) and reports, without running anything. */
  check(): Promise<TargetCheck>;
  /** Releases pooled connections. */
  close(): Promise<void>;
}
