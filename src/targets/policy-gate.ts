import { basename } from 'node:path';
import type { Operation } from '../approvals/command.js';
import { OPERATIONS } from '../operations/catalog.js';
import type { Target } from './load.js';
import type { Capability } from './schema.js';

export interface GateQuestion {
  readonly op: Operation;
  readonly environment: string;
  /** What the operation needs of the target; `exec` for a command line. */
  readonly capability: Capability;
  /** Executions running on the target now (asked at execution time only). */
  readonly running?: number;
}

export interface GateDenial {
  readonly code: 'environment_not_allowed' | 'capability_missing' | 'operation_not_supported' | 'shell_not_allowed' | 'sudo_not_allowed' | 'concurrency_exceeded';
  readonly reason: string;
}

export interface GateAnswer {
  /** False only when the target enforces and something was denied. */
  readonly allow: boolean;
  readonly denials: readonly GateDenial[];
  /** The target is in shadow mode: denials are recorded, not enforced. */
  readonly shadow: boolean;
}

/** sudo's own options that take a value: skipped to find the command sudo would run. */
const SUDO_OPTIONS_WITH_VALUE = new Set(['-u', '-g', '-h', '-p', '-C', '-D', '-r', '-t', '-U', '-T', '--user', '--group', '--host', '--prompt', '--chdir']);

/** The argv sudo would run, if the command goes through sudo. */
function sudoCommand(op: Operation): string[] | undefined {
  if (op.kind !== 'exec' || basename(op.argv[0] ?? '') !== 'sudo') return undefined;
  const rest = op.argv.slice(1);
  let index = 0;
  while (index < rest.length && (rest[index] as string).startsWith('-')) {
    if (rest[index] === '--') {
      index += 1;
      break;
    }
    index += SUDO_OPTIONS_WITH_VALUE.has(rest[index] as string) ? 2 : 1;
  }
  return rest.slice(index);
}

/** An allowlist entry ("systemctl restart nginx") allows a command that starts with exactly its words. */
function allowedBySudoList(command: readonly string[], allow: readonly string[]): boolean {
  return allow.some((entry) => {
    const words = entry.trim().split(/\s+/);
    return words.length <= command.length && words.every((word, index) => word === command[index] || (index === 0 && word === basename(command[0] ?? '')));
  });
}

/**
 * The one check every request and every execution passes: the target serves the environment, grants
 * the capability, allows a shell if one is needed, allows sudo as its policy says, and has room.
 */
export function checkGate(target: Target, question: GateQuestion): GateAnswer {
  const denials: GateDenial[] = [];
  if (!target.environments.includes(question.environment)) {
    denials.push({ code: 'environment_not_allowed', reason: `target ${target.id} does not serve environment ${question.environment} (it serves ${target.environments.join(', ')})` });
  }
  if (!target.capabilities.includes(question.capability)) {
    denials.push({ code: 'capability_missing', reason: `target ${target.id} does not grant ${question.capability} (it grants ${target.capabilities.join(', ')})` });
  }
  if (question.op.kind === 'op' && !OPERATIONS[question.op.name].executors.includes(target.executor)) {
    const executors = OPERATIONS[question.op.name].executors.join(' or ');
    denials.push({ code: 'operation_not_supported', reason: `${question.op.name} runs on ${executors} targets; ${target.id} is a ${target.executor} target` });
  }
  if (question.op.kind === 'op' && question.op.name.startsWith('file.') && target.executor === 'local' && target.uid !== undefined) {
    // Files are read and written by Airlock itself, which would not be the user the target names.
    denials.push({ code: 'operation_not_supported', reason: `target ${target.id} runs commands as uid ${target.uid}; file operations there would run as Airlock itself` });
  }
  if (question.op.kind === 'shell' && !target.shellAllowed) {
    denials.push({ code: 'shell_not_allowed', reason: `target ${target.id} does not allow commands that need a shell` });
  }
  const sudo = sudoCommand(question.op);
  if (sudo && target.sudoPolicy === 'none') denials.push({ code: 'sudo_not_allowed', reason: `target ${target.id} allows no sudo (sudo_policy none)` });
  if (sudo && target.sudoPolicy === 'limited' && !allowedBySudoList(sudo, target.sudoAllow)) {
    denials.push({ code: 'sudo_not_allowed', reason: `target ${target.id} allows sudo only for: ${target.sudoAllow.join('; ')}` });
  }
  if (question.running !== undefined && question.running >= target.concurrency) {
    denials.push({ code: 'concurrency_exceeded', reason: `target ${target.id} already runs ${question.running} of at most ${target.concurrency} executions` });
  }
  const shadow = target.mode === 'shadow';
  return { allow: denials.length === 0 || shadow, denials, shadow };
}
