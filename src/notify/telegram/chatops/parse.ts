import { TypedOpSchema, typedOp, type TypedOp } from '../../../operations/schema.js';

/**
 * The chat syntax of system operations (the reference runbook's), read into typed operations. Nothing
 * here runs anything: a command becomes an operation the gate judges like any other request.
 *
 *   sys info
 *   sys journal [UNIT] N
 *   sys cron list [USER]
 *   sys docker ps [-a] | sys docker logs NAME [N] | sys docker restart NAME
 *   sys read PATH [--challenge ID]
 *   sys config write PATH BASE64 | sys config rollback PATH BACKUP
 *   sys run REQUEST_ID            (an approved request of yours that has not run yet)
 *   … each with --target T and --env E
 *
 *   sysauth plan ACTION | sysauth approve ID CODE | sysauth status ID
 */

export const SYS_USAGE = [
  'sys info',
  'sys journal [UNIT] N',
  'sys cron list [USER]',
  'sys docker ps [-a]',
  'sys docker logs NAME [N]',
  'sys docker restart NAME',
  'sys read PATH [--challenge ID]',
  'sys config write PATH BASE64',
  'sys config rollback PATH BACKUP',
  'sys run REQUEST_ID',
] as const;

export const SYSAUTH_USAGE = ['sysauth plan ACTION', 'sysauth approve ID CODE', 'sysauth status ID'] as const;

export type SysCommand =
  | { readonly kind: 'op'; readonly op: TypedOp; readonly target?: string; readonly environment?: string; readonly challenge?: string; readonly engine: boolean }
  | { readonly kind: 'run'; readonly requestId: string };

export type SysauthCommand =
  | { readonly kind: 'plan'; readonly action: string }
  | { readonly kind: 'approve'; readonly id: string; readonly code: string }
  | { readonly kind: 'status'; readonly id: string };

export type Parsed<T> = { readonly ok: true; readonly command: T } | { readonly ok: false; readonly message: string };

const FLAGS = { '--target': 'target', '--env': 'environment', '--challenge': 'challenge' } as const;
type Flag = keyof typeof FLAGS;

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });
const count = (word: string | undefined): number | undefined => (word !== undefined && /^\d{1,6}$/.test(word) ? Number(word) : undefined);

/** The words of a command, and its --flags pulled out (each once, each with a value). */
function split(words: readonly string[]): Parsed<{ positional: string[]; flags: Partial<Record<(typeof FLAGS)[Flag], string>> }> {
  const positional: string[] = [];
  const flags: Partial<Record<(typeof FLAGS)[Flag], string>> = {};
  for (let index = 0; index < words.length; index += 1) {
    const word = words[index] as string;
    const equals = word.indexOf('=');
    const name = (word.startsWith('--') && equals > 0 ? word.slice(0, equals) : word) as Flag;
    if (!(name in FLAGS)) {
      if (word.startsWith('--')) return fail(`unknown option ${word} (known: ${Object.keys(FLAGS).join(', ')})`);
      positional.push(word);
      continue;
    }
    const value = equals > 0 && word.startsWith('--') ? word.slice(equals + 1) : words[(index += 1)];
    if (value === undefined || value === '' || value.startsWith('--')) return fail(`${name} needs a value`);
    if (flags[FLAGS[name]] !== undefined) return fail(`${name} is given twice`);
    flags[FLAGS[name]] = value;
  }
  return { ok: true, command: { positional, flags } };
}

/** The operation a `sys …` line asks for, before its arguments are checked. */
function operationOf(words: readonly string[]): Parsed<{ name: string; args: Record<string, unknown>; engine?: boolean }> {
  const [verb, ...rest] = words;
  const usage = (line: string) => fail(`usage: ${line}`);
  switch (verb) {
    case 'info':
      return rest.length === 0 ? { ok: true, command: { name: 'system.info', args: {} } } : usage('sys info');
    case 'journal': {
      const lines = count(rest.at(-1));
      if (rest.length > 2 || (rest.length === 2 && lines === undefined)) return usage('sys journal [UNIT] N');
      const unit = lines === undefined ? rest[0] : rest.length === 2 ? rest[0] : undefined;
      return { ok: true, command: { name: 'journal.read', args: { ...(unit ? { unit } : {}), ...(lines !== undefined ? { lines } : {}) } } };
    }
    case 'cron':
      if (rest[0] !== 'list' || rest.length > 2) return usage('sys cron list [USER]');
      return { ok: true, command: { name: 'cron.list', args: rest[1] ? { user: rest[1] } : {} } };
    case 'docker': {
      const [action, ...more] = rest;
      if (action === 'ps') {
        if (more.length > 1 || (more.length === 1 && more[0] !== '-a' && more[0] !== '--all')) return usage('sys docker ps [-a]');
        return { ok: true, command: { name: 'container.list', args: { all: more.length === 1 }, engine: true } };
      }
      if (action === 'logs') {
        const tail = count(more[1]);
        if (more.length < 1 || more.length > 2 || (more.length === 2 && tail === undefined)) return usage('sys docker logs NAME [N]');
        return { ok: true, command: { name: 'container.logs', args: { container: more[0], ...(tail !== undefined ? { tail } : {}) }, engine: true } };
      }
      if (action === 'restart') {
        if (more.length !== 1) return usage('sys docker restart NAME');
        return { ok: true, command: { name: 'container.restart', args: { container: more[0] }, engine: true } };
      }
      return usage('sys docker ps [-a] | logs NAME [N] | restart NAME');
    }
    case 'read':
      return rest.length === 1 ? { ok: true, command: { name: 'file.read', args: { path: rest[0] } } } : usage('sys read PATH [--challenge ID]');
    case 'config': {
      const [action, path, value] = rest;
      if (rest.length !== 3 || (action !== 'write' && action !== 'rollback')) return usage('sys config write PATH BASE64 | sys config rollback PATH BACKUP');
      return action === 'write'
        ? { ok: true, command: { name: 'file.write', args: { path, content_base64: value } } }
        : { ok: true, command: { name: 'file.rollback', args: { path, backup_path: value } } };
    }
    default:
      return fail(`unknown system command${verb ? ` "${verb.slice(0, 40)}"` : ''}`);
  }
}

/** Reads the words after `sys`. */
export function parseSys(words: readonly string[]): Parsed<SysCommand> {
  if (words[0] === 'run') {
    if (words.length !== 2) return fail('usage: sys run REQUEST_ID');
    return { ok: true, command: { kind: 'run', requestId: words[1] as string } };
  }
  const parts = split(words);
  if (!parts.ok) return parts;
  const operation = operationOf(parts.command.positional);
  if (!operation.ok) return operation;
  const { name, args, engine = false } = operation.command;
  const { target, environment, challenge } = parts.command.flags;
  if (challenge !== undefined && name !== 'file.read' && name !== 'file.write' && name !== 'file.rollback') return fail('--challenge is for sys read and sys config');
  const parsed = TypedOpSchema.safeParse({ name, args });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.filter((part) => part !== 'args').join('.');
    return fail(`${name}: ${field ? `${field} ` : ''}${issue?.message ?? 'is not valid'}`);
  }
  return { ok: true, command: { kind: 'op', op: typedOp(parsed.data), engine, ...(target ? { target } : {}), ...(environment ? { environment } : {}), ...(challenge ? { challenge } : {}) } };
}

/** Reads the words after `sysauth`. */
export function parseSysauth(words: readonly string[]): Parsed<SysauthCommand> {
  const [verb, ...rest] = words;
  if (verb === 'plan' && rest.length > 0) {
    const action = rest.join(' ');
    if (action.length > 200) return fail('the action is at most 200 characters');
    return { ok: true, command: { kind: 'plan', action } };
  }
  if (verb === 'approve' && rest.length === 2) return { ok: true, command: { kind: 'approve', id: rest[0] as string, code: rest[1] as string } };
  if (verb === 'status' && rest.length === 1) return { ok: true, command: { kind: 'status', id: rest[0] as string } };
  return fail(`usage: ${SYSAUTH_USAGE.join(' | ')}`);
}

/**
 * What a command line is, said without its secrets, for the audit log and replies: a TOTP code is
 * masked and file content is left out (its size stands in).
 */
export function redactedCommand(words: readonly string[]): string {
  const [first, second] = words;
  if (first === 'sysauth' && second === 'approve') return [...words.slice(0, 3), ...(words.length > 3 ? ['******'] : [])].join(' ').slice(0, 300);
  if (first === 'sys' && second === 'config' && words[2] === 'write' && words[4] !== undefined) {
    return [...words.slice(0, 4), `<${Buffer.byteLength(words[4], 'base64')} bytes>`, ...words.slice(5)].join(' ').slice(0, 300);
  }
  return words.join(' ').slice(0, 300);
}
