import { createHash } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { ResolvedConfig } from '../config/index.js';
import { AirlockError } from '../errors.js';
import { TargetsFileSchema, type Capability, type TargetSpec } from './schema.js';

/** A target as the rest of Airlock sees it: the file's entry with every default resolved. */
export interface Target {
  readonly id: string;
  readonly executor: TargetSpec['executor'];
  readonly description?: string;
  readonly environments: readonly string[];
  readonly capabilities: readonly Capability[];
  readonly timeoutSeconds: number;
  readonly outputCapBytes: number;
  readonly concurrency: number;
  /** Whether operations that need a shell may run here (never by default). */
  readonly shellAllowed: boolean;
  readonly sudoPolicy: 'none' | 'limited' | 'full';
  readonly sudoAllow: readonly string[];
  readonly segment?: string;
  readonly mode: 'enforce' | 'shadow';
  /** Where local commands run. */
  readonly workDir: string;
  /** The workspace a `workspace` target runs commands in. */
  readonly workspaceId?: string;
  /** The user and group local commands run as; Airlock's own when absent. */
  readonly uid?: number;
  readonly gid?: number;
  /** The executor's connection, `${VARIABLES}` already substituted. */
  readonly connection: TargetSpec['connection'];
}

export interface LoadedTargets {
  readonly targets: readonly Target[];
  /** sha256 of the file's bytes: what each reload audits. */
  readonly sha256: string;
}

/** The machine Airlock runs on, when no targets.yaml says otherwise. */
export function builtinTargets(config: ResolvedConfig): Target[] {
  return [
    {
      id: 'local',
      executor: 'local',
      environments: config.environments.allowed ?? config.environments.known,
      capabilities: ['exec', 'system:read', 'system:write', 'network:read'],
      timeoutSeconds: config.gateway.timeoutSeconds,
      outputCapBytes: config.gateway.outputCapBytes,
      concurrency: 16,
      shellAllowed: false,
      sudoPolicy: 'none',
      sudoAllow: [],
      mode: 'enforce',
      workDir: join(config.paths.stateDir, 'work'),
      connection: {},
    },
  ];
}

/** Replaces `${NAME}` in every string of the document; a variable that is not set is a problem at its path. */
function substitute(value: unknown, env: NodeJS.ProcessEnv, path: string[], problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = env[name];
      if (found === undefined || found === '') problems.push(`${path.join('.')}: the variable ${name} is not set`);
      return found ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => substitute(item, env, [...path, String(index)], problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, substitute(inner, env, [...path, key], problems)]));
  }
  return value;
}

/**
 * Reads and checks targets.yaml: YAML errors, unknown keys, bad values, unset variables, unreadable
 * key files and unknown environments are all collected, each with its path, and refused together.
 */
export function loadTargetsFile(file: string, config: ResolvedConfig, env: NodeJS.ProcessEnv = process.env): LoadedTargets {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new AirlockError('targets_invalid', `cannot read the targets file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { details: { problems: [`cannot read ${file}`] } });
  }
  const problems: string[] = [];
  const document = parseDocument(bytes.toString('utf8'), { uniqueKeys: true, prettyErrors: false });
  for (const error of document.errors) problems.push(`line ${(error.linePos?.[0]?.line ?? 0)}: ${error.message.split('\n')[0]}`);
  if (problems.length > 0) throw invalid(file, problems);

  const substituted = substitute(document.toJS() ?? {}, env, [], problems);
  const parsed = TargetsFileSchema.safeParse(substituted);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw invalid(file, problems);
  }
  const known = config.environments.allowed ?? config.environments.known;
  const defaults = builtinTargets(config)[0] as Target;
  const targets: Target[] = [];
  for (const [id, spec] of Object.entries(parsed.data.targets)) {
    const at = `targets.${id}`;
    for (const [index, name] of (spec.environments ?? []).entries()) {
      if (!known.includes(name)) problems.push(`${at}.environments.${index}: unknown environment "${name}" (known: ${known.join(', ')})`);
    }
    // Only what executes needs the key: an API instance (role api) has the registry without any credential.
    if (spec.executor === 'ssh' && config.role !== 'api') {
      try {
        accessSync(spec.connection.key_path, constants.R_OK);
      } catch (error) {
        problems.push(`${at}.connection.key_path: cannot read ${spec.connection.key_path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    targets.push({
      id,
      executor: spec.executor,
      ...(spec.description ? { description: spec.description } : {}),
      environments: spec.environments ?? known,
      capabilities: [...new Set(spec.capabilities)],
      timeoutSeconds: spec.constraints.timeout ?? defaults.timeoutSeconds,
      outputCapBytes: spec.constraints.output_cap ?? defaults.outputCapBytes,
      concurrency: spec.constraints.concurrency,
      shellAllowed: spec.constraints.shell,
      sudoPolicy: spec.constraints.sudo_policy,
      sudoAllow: spec.constraints.sudo_allow,
      ...(spec.segment ? { segment: spec.segment } : {}),
      mode: spec.mode,
      workDir: spec.executor === 'local' && spec.connection.work_dir ? spec.connection.work_dir : join(defaults.workDir, id),
      ...(spec.executor === 'workspace' ? { workspaceId: spec.connection.workspace } : {}),
      ...(spec.executor === 'local' && spec.connection.uid !== undefined ? { uid: spec.connection.uid } : {}),
      ...(spec.executor === 'local' && spec.connection.gid !== undefined ? { gid: spec.connection.gid } : {}),
      connection: spec.connection,
    });
  }
  if (problems.length > 0) throw invalid(file, problems);
  return { targets, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function invalid(file: string, problems: string[]): AirlockError {
  return new AirlockError('targets_invalid', `the targets file ${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { status: 400, details: { problems } });
}
