import type { ResolvedConfig } from '../../config/index.js';
import { policyProblems, targetProblems } from '../config-check.js';
import { fail, ok, type Finding } from './finding.js';

const VALIDATE = '`airlock config validate` lists every problem with the setting it comes from';

/** The configuration loads (or why not). */
export function configFinding(loaded: { ok: true; config: ResolvedConfig } | { ok: false; problems: string[] }): Finding {
  if (!loaded.ok) return fail('config', `the configuration does not load: ${loaded.problems.join('; ')}`, `correct the file, variable or flag named; ${VALIDATE}`);
  const config = loaded.config;
  return ok('config', `loads from ${config.configFile ?? 'defaults and AIRLOCK_* variables (no airlock.yaml)'}; role ${config.role}${config.instanceId ? `, instance ${config.instanceId}` : ''}`);
}

/** policy.yaml (or the built-in rules) would be accepted by a start or a reload. */
export function policyFinding(config: ResolvedConfig): Finding {
  const problems = policyProblems(config);
  if (problems.length > 0) return fail('policy', problems.join('; '), `correct ${config.policyFile ?? 'the policy file'}; ${VALIDATE}`);
  return ok('policy', config.policyFile ? `${config.policyFile} is valid` : 'the built-in rules (no policy file)');
}

/** targets.yaml is valid; without one there is only the built-in local target. */
export function targetsFileFinding(config: ResolvedConfig): Finding {
  const problems = targetProblems(config);
  if (problems.length > 0) return fail('targets', problems.join('; '), `correct ${config.targetsFile}; ${VALIDATE}`);
  return ok('targets', config.targetsFile ? `${config.targetsFile} is valid` : 'the built-in local target (no targets file)');
}
