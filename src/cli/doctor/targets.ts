import type { ResolvedConfig } from '../../config/index.js';
import { checkTarget, TargetRegistry, type Target } from '../../targets/index.js';
import { fail, ok, skip, type Finding } from './finding.js';

/**
 * Connects to every target as `airlock targets check` does: an SSH target must answer with its pinned
 * host key (and accept the configured key), a container engine must answer; the local target always does.
 */
export async function targetFindings(config: ResolvedConfig): Promise<Finding[]> {
  let targets: readonly Target[];
  try {
    targets = new TargetRegistry(config).list();
  } catch {
    return [skip('target', 'the targets file is invalid (see above)')];
  }
  return Promise.all(targets.map((target) => targetFinding(target)));
}

async function targetFinding(target: Target): Promise<Finding> {
  const check = `target ${target.id}`;
  if (target.executor === 'workspace') return skip(check, 'a workspace target is reached through a running server only');
  const result = await checkTarget(target);
  const connection = target.connection as Record<string, unknown>;
  const address = target.executor === 'ssh' ? `${String(connection.host)}:${String(connection.port)}` : String(connection.socket_path ?? connection.url ?? '');
  if (result.reachable) return ok(check, `${target.executor}: ${result.detail}${result.hostKey ? ', host key matches' : ''}${result.engineVersion ? `, engine ${result.engineVersion}` : ''}`);
  if (result.hostKey === 'mismatch') {
    return fail(
      check,
      result.detail,
      `if ${address} was rebuilt, pin its new key: \`ssh-keyscan -p ${String(connection.port)} ${String(connection.host)} | ssh-keygen -lf -\` prints the SHA256 fingerprint for host_key in the targets file; if not, find out who answers there before anything runs on it`,
    );
  }
  if (target.executor === 'ssh' && result.hostKey === 'match') {
    return fail(check, result.detail, `add the public half of ${String(connection.key_path)} to ~${String(connection.username)}/.ssh/authorized_keys on ${String(connection.host)}`);
  }
  if (target.executor === 'docker') return fail(check, result.detail, `start the container engine, or correct connection.socket_path / connection.url (${address}) in the targets file`);
  return fail(check, result.detail, `check that ${address} is up and reachable from this machine; \`airlock targets check ${target.id}\` tries again`);
}
