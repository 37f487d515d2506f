import type { PolicyHolder, PolicyState } from '../approvals/index.js';
import type { AuditEventInput, AuditLog } from '../audit/index.js';
import { AirlockError, messageOf } from '../errors.js';
import type { RegistryState, TargetRegistry } from '../targets/index.js';

/** What started a reload: it is recorded with the outcome. */
export type ReloadTrigger = 'http' | 'sighup' | 'watch';

/** One file a reload could not take, with every problem found in it. */
export interface FileProblems {
  readonly kind: 'targets' | 'policy';
  /** The file, or `built-in`. */
  readonly file: string;
  readonly problems: readonly string[];
}

/** What a successful reload put in force. */
export interface ReloadOutcome {
  readonly targets: RegistryState;
  readonly policy: PolicyState;
}

function problemsOf(error: unknown): string[] {
  if (error instanceof AirlockError) {
    const listed = error.details?.problems;
    if (Array.isArray(listed) && listed.length > 0) return listed.map(String);
  }
  return [messageOf(error)];
}

/**
 * Reloads targets.yaml and policy.yaml together, all or nothing: both files are read and checked
 * first; only when both are valid is the outcome audited (`config.reloaded`, with the sha256 of each
 * file) and both are swapped in. When either is invalid nothing changes, `config.reload_failed` names
 * the file and its problems, and the caller gets a 422 `config_reload_failed`. Reloads run one at a
 * time, so the order of the audit events is the order in which configurations came into force.
 */
export class ConfigReloader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: { readonly targets: TargetRegistry; readonly policy: PolicyHolder; readonly audit: AuditLog }) {}

  /** The configuration in force. */
  current(): ReloadOutcome {
    return { targets: this.deps.targets.current(), policy: this.deps.policy.state() };
  }

  reload(actor: string, trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const run = this.queue.then(() => this.reloadNow(actor, trigger));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(actor: string, trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const { targets, policy, audit } = this.deps;
    const before = this.current();
    const failed: FileProblems[] = [];
    let nextTargets: RegistryState | undefined;
    let nextPolicy: PolicyState | undefined;
    try {
      nextTargets = targets.read();
    } catch (error) {
      failed.push({ kind: 'targets', file: before.targets.source, problems: problemsOf(error) });
    }
    try {
      nextPolicy = policy.read();
    } catch (error) {
      failed.push({ kind: 'policy', file: before.policy.source, problems: problemsOf(error) });
    }
    const files = { targets: before.targets.source, policy: before.policy.source };

    if (!nextTargets || !nextPolicy || failed.length > 0) {
      const events: AuditEventInput[] = [
        {
          actor,
          action: 'config.reload_failed',
          data: { trigger, files, failed, kept: { targets_sha256: before.targets.sha256, policy_sha256: before.policy.sha256 } },
        },
      ];
      const targetsFailure = failed.find((entry) => entry.kind === 'targets');
      // The targets domain's own event, as before reloads covered the policy too.
      if (targetsFailure) {
        events.unshift({ actor, action: 'targets.reload_failed', data: { file: targetsFailure.file, problems: targetsFailure.problems, kept_sha256: before.targets.sha256 } });
      }
      await audit.record(events);
      const problems = failed.flatMap((entry) => entry.problems.map((problem) => `${entry.file}: ${problem}`));
      throw new AirlockError(
        'config_reload_failed',
        `the configuration was not reloaded; the previous targets and policy stay in force:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
        { status: 422, details: { problems, files: failed } },
      );
    }

    // Audited first: if the event cannot be written, nothing changes.
    await audit.record([
      { actor, action: 'targets.reloaded', data: { file: nextTargets.source, sha256: nextTargets.sha256, targets: nextTargets.targets.map((target) => target.id) } },
      {
        actor,
        action: 'config.reloaded',
        data: {
          trigger,
          files: {
            targets: { file: nextTargets.source, sha256: nextTargets.sha256, targets: nextTargets.targets.length },
            policy: { file: nextPolicy.source, sha256: nextPolicy.sha256, rules: nextPolicy.policy.rules.length },
          },
          previous: { targets_sha256: before.targets.sha256, policy_sha256: before.policy.sha256 },
        },
      },
    ]);
    // Both at once: no request sees the new targets with the old policy (nothing awaits in between).
    targets.swap(nextTargets);
    policy.swap(nextPolicy);
    return { targets: nextTargets, policy: nextPolicy };
  }
}

/** A reload's outcome as the API and the logs show it. */
export function reloadView(outcome: ReloadOutcome): Record<string, unknown> {
  return {
    targets: { file: outcome.targets.source, sha256: outcome.targets.sha256, count: outcome.targets.targets.length, ids: outcome.targets.targets.map((target) => target.id) },
    policy: { file: outcome.policy.source, sha256: outcome.policy.sha256, rules: outcome.policy.policy.rules.length },
  };
}
