import { basename } from 'node:path';
import { OPERATIONS } from '../operations/catalog.js';
import { displayOp, type Operation } from './command.js';
import { maxLevel, raiseLevel, type RiskLevel } from './levels.js';
import { BUILTIN_RULES, WORKSPACE_RULES, environmentPolicy, type Policy, type Rule } from './policy.js';

export interface RiskReason {
  readonly rule: string;
  readonly level: RiskLevel;
  readonly reason: string;
}

export interface RiskDecision {
  readonly level: RiskLevel;
  readonly reasons: readonly RiskReason[];
  /** The environment's policy approves this level without a human. */
  readonly autoApprove: boolean;
}

export interface RiskInput {
  /** The operation, with the shell features its command line needs (none for argv and typed ops). */
  readonly command: { readonly op: Operation; readonly shellFeatures: readonly string[] };
  readonly instruction: string;
  readonly environment: string;
  readonly target: string;
  /** The target's executor: `workspace` targets get the workspace rules too. */
  readonly executor?: string;
}

/**
 * Ordered rules (the policy file's, then the built-ins) each add their level; the request's level is
 * the highest. A `final` rule stops the evaluation. Whatever the rules say, a command that needs a
 * shell is at least HIGH, and the environment may raise the result.
 */
export function assessRisk(policy: Policy, input: RiskInput): RiskDecision {
  const text = displayOp(input.command.op);
  const program = programOf(input.command);
  const reasons: RiskReason[] = [];
  let knowsCommand = false;
  const builtins = policy.builtins ? [...BUILTIN_RULES, ...(input.executor === 'workspace' ? WORKSPACE_RULES : [])] : [];
  for (const rule of [...policy.rules, ...builtins]) {
    if (!matches(rule, input, text, program)) continue;
    reasons.push({ rule: rule.id, level: rule.level, reason: rule.reason });
    knowsCommand ||= rule.match.program !== undefined || rule.match.command !== undefined || rule.match.shell !== undefined;
    if (rule.final) break;
  }
  let level = reasons.reduce<RiskLevel>((highest, reason) => maxLevel(highest, reason.level), 'LOW');
  const { op } = input.command;
  if (op.kind === 'op') {
    // A typed operation knows its own level; rules can only raise it.
    const own = OPERATIONS[op.name].risk;
    reasons.push({ rule: 'operation', level: own, reason: `${op.name} is ${own} by default` });
    level = maxLevel(level, own);
  } else if (!knowsCommand) {
    reasons.push({ rule: 'default', level: policy.defaultLevel, reason: `no rule knows the program ${program}` });
    level = maxLevel(level, policy.defaultLevel);
  }
  const following = input.executor === 'workspace' ? linkFollowing(op) : undefined;
  if (following) {
    reasons.push({ rule: 'workspace-follows-links', level: 'MEDIUM', reason: `${following} may follow symbolic links out of the workspace` });
    level = maxLevel(level, 'MEDIUM');
  }
  if (input.command.shellFeatures.length > 0) {
    reasons.push({ rule: 'shell-syntax', level: 'HIGH', reason: `needs a shell: ${input.command.shellFeatures.join(', ')}` });
    level = maxLevel(level, 'HIGH');
  }
  const environment = environmentPolicy(policy, input.environment);
  if (environment.raise > 0 && level !== 'LOW') {
    const raised = raiseLevel(level, environment.raise);
    if (raised !== level) reasons.push({ rule: 'environment', level: raised, reason: `${input.environment} raises ${level} to ${raised}` });
    level = raised;
  }
  return { level, reasons, autoApprove: environment.autoApprove.includes(level) };
}

/** An option that makes a program follow symbolic links (recursively), case-sensitive as programs read it; git never follows them. */
function linkFollowing(op: Operation): string | undefined {
  if (op.kind !== 'exec') return undefined;
  const program = basename(op.argv[0] ?? '');
  if (program === 'git') return undefined;
  const recursiveFollows = program === 'diff' || program === 'grep' || program === 'egrep' || program === 'fgrep';
  return op.argv
    .slice(1)
    .find((arg) => /^-[A-Za-z]*[RL]/.test(arg) || /^--(recursive|dereference|dereference-recursive|follow)(=|$)/.test(arg) || (recursiveFollows && /^-[A-Za-z]*r/.test(arg)));
}

/** The program's name, or a typed operation's name (so that rules can name `file.write`). */
function programOf(command: RiskInput['command']): string {
  if (command.op.kind === 'op') return command.op.name;
  const first = command.op.kind === 'exec' ? command.op.argv[0] : command.op.script.trim().split(/\s+/)[0];
  return basename(first ?? '');
}

/** Rules' expressions, compiled once: every request is matched against every rule. */
const compiled = new Map<string, RegExp>();
function regex(source: string): RegExp {
  let expression = compiled.get(source);
  if (!expression) {
    expression = new RegExp(source, 'i');
    compiled.set(source, expression);
  }
  return expression;
}

function matches(rule: Rule, input: RiskInput, text: string, program: string): boolean {
  const { match } = rule;
  if (match.program && !match.program.includes(program)) return false;
  if (match.shell !== undefined && match.shell !== (input.command.op.kind === 'shell')) return false;
  if (match.command && !regex(match.command).test(text)) return false;
  if (match.instruction && !regex(match.instruction).test(input.instruction)) return false;
  if (match.environments && !match.environments.includes(input.environment)) return false;
  if (match.targets && !match.targets.includes(input.target)) return false;
  return true;
}
