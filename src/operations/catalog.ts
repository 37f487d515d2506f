import type { RiskLevel } from '../approvals/levels.js';
import type { Capability } from '../targets/schema.js';
import type { Operation } from '../approvals/command.js';
import type { OpName, TypedOp } from './schema.js';

type Executor = 'local' | 'ssh' | 'docker' | 'workspace';

export interface OpSpec {
  /** What the target must grant for the operation to run there. */
  readonly capability: Capability;
  /** The level before any policy rule or environment raises it. */
  readonly risk: RiskLevel;
  /** The executors that can carry it out. */
  readonly executors: readonly Executor[];
  /** One line an approver reads: what will happen, with the arguments that matter. */
  summary(args: Record<string, unknown>): string;
}

const HOSTS: readonly Executor[] = ['local', 'ssh'];
const ENGINES: readonly Executor[] = ['docker'];

const since = (args: Record<string, unknown>): string => (args.since ? ` since ${String(args.since)}` : '');

export const OPERATIONS: Readonly<Record<OpName, OpSpec>> = {
  'system.info': { capability: 'system:read', risk: 'LOW', executors: HOSTS, summary: () => 'read uptime, load, memory and disk usage' },
  'journal.read': {
    capability: 'system:read',
    risk: 'LOW',
    executors: HOSTS,
    summary: (args) => `read the last ${String(args.lines)} journal lines${args.unit ? ` of ${String(args.unit)}` : ''}${since(args)}`,
  },
  'cron.list': { capability: 'system:read', risk: 'LOW', executors: HOSTS, summary: (args) => `list the crontab${args.user ? ` of ${String(args.user)}` : ''}` },
  'file.read': { capability: 'system:read', risk: 'LOW', executors: HOSTS, summary: (args) => `read ${String(args.path)} (at most ${String(args.max_bytes)} bytes)` },
  'file.write': {
    capability: 'system:write',
    risk: 'HIGH',
    executors: HOSTS,
    summary: (args) =>
      `write ${Buffer.byteLength(String(args.content_base64), 'base64')} bytes to ${String(args.path)}${args.mode ? ` with mode ${String(args.mode)}` : ''}, keeping a backup of the old content`,
  },
  'file.rollback': { capability: 'system:write', risk: 'HIGH', executors: HOSTS, summary: (args) => `restore ${String(args.path)} from its backup ${String(args.backup_path)}` },
  'container.list': { capability: 'container:read', risk: 'LOW', executors: ENGINES, summary: (args) => `list ${args.all ? 'all' : 'running'} containers` },
  'container.inspect': { capability: 'container:read', risk: 'LOW', executors: ENGINES, summary: (args) => `inspect container ${String(args.container)}` },
  'container.logs': {
    capability: 'container:read',
    risk: 'LOW',
    executors: ENGINES,
    summary: (args) => `read the last ${String(args.tail)} log lines of container ${String(args.container)}${since(args)}`,
  },
  'container.restart': { capability: 'container:control', risk: 'MEDIUM', executors: ENGINES, summary: (args) => `restart container ${String(args.container)}` },
  'container.stop': { capability: 'container:control', risk: 'HIGH', executors: ENGINES, summary: (args) => `stop container ${String(args.container)}` },
  'container.start': { capability: 'container:control', risk: 'MEDIUM', executors: ENGINES, summary: (args) => `start container ${String(args.container)}` },
};

/** The capability an operation needs of its target: `exec` for a command line. */
export function capabilityOf(op: Operation): Capability {
  return op.kind === 'op' ? OPERATIONS[op.name].capability : 'exec';
}

/** The files an operation reads or writes: what the sensitive-path rules look at. */
export function pathsOf(op: TypedOp): string[] {
  if (op.name === 'file.read' || op.name === 'file.write') return [op.args.path];
  if (op.name === 'file.rollback') return [op.args.path, op.args.backup_path];
  return [];
}
