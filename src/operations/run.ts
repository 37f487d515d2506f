import type Docker from 'dockerode';
import * as containers from '../executors/container-ops.js';
import { AirlockError, isAirlockError, messageOf } from '../errors.js';
import { fileRead, fileRollback, fileWrite } from './files.js';
import type { Host } from './host.js';
import type { TypedOp } from './schema.js';
import { cronList, journalRead, systemInfo } from './system.js';

/** Where a typed operation is carried out: a host (local, SSH) or a container engine. */
export type OpPlace = { readonly host: Host; readonly engine?: undefined } | { readonly engine: Docker; readonly host?: undefined };

export interface OpOutcome {
  readonly status: 'succeeded' | 'failed';
  /** The operation's JSON result (on success). */
  readonly result: unknown;
  readonly error?: { readonly code: string; readonly message: string };
  readonly durationMs: number;
}

function needsHost(place: OpPlace, op: TypedOp): Host {
  if (!place.host) throw new AirlockError('operation_not_supported', `${op.name} needs a local or SSH target`, { status: 400 });
  return place.host;
}

function needsEngine(place: OpPlace, op: TypedOp): Docker {
  if (!place.engine) throw new AirlockError('operation_not_supported', `${op.name} needs a docker target`, { status: 400 });
  return place.engine;
}

/** A span such as 15m as the seconds back from now that container-ops takes; an ISO time as it is. */
function engineSince(since: string | undefined): number | string | undefined {
  const span = since === undefined ? undefined : /^(\d+)([smhd])$/.exec(since);
  if (!span) return since;
  return Number(span[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[span[2] as 's' | 'm' | 'h' | 'd'];
}

async function dispatch(op: TypedOp, place: OpPlace): Promise<unknown> {
  switch (op.name) {
    case 'system.info':
      return systemInfo(needsHost(place, op));
    case 'journal.read':
      return journalRead(needsHost(place, op), op.args);
    case 'cron.list':
      return cronList(needsHost(place, op), op.args);
    case 'file.read':
      return fileRead(needsHost(place, op), op.args);
    case 'file.write':
      return fileWrite(needsHost(place, op), op.args);
    case 'file.rollback':
      return fileRollback(needsHost(place, op), op.args);
    case 'container.list':
      return { containers: await containers.list(needsEngine(place, op), { all: op.args.all }) };
    case 'container.inspect':
      return containers.inspect(needsEngine(place, op), op.args.container);
    case 'container.logs': {
      const since = engineSince(op.args.since);
      return containers.logs(needsEngine(place, op), op.args.container, { tail: op.args.tail, maxBytes: op.args.max_bytes, ...(since !== undefined ? { since } : {}) });
    }
    case 'container.restart':
      return containers.restart(needsEngine(place, op), op.args.container, { timeoutSeconds: op.args.timeout_seconds });
    case 'container.stop':
      return containers.stop(needsEngine(place, op), op.args.container, { timeoutSeconds: op.args.timeout_seconds });
    case 'container.start':
      return containers.start(needsEngine(place, op), op.args.container);
  }
}

/** Carries out a typed operation; a failure is the outcome (with its stable code), never a throw. */
export async function runTypedOp(op: TypedOp, place: OpPlace): Promise<OpOutcome> {
  const started = performance.now();
  try {
    const result = await dispatch(op, place);
    return { status: 'succeeded', result, durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    return failedOutcome(error, started);
  }
}

/** A failure as an outcome: an AirlockError's code, a system error's (enoent, eacces, …), or operation_failed. */
export function failedOutcome(error: unknown, started: number): OpOutcome {
  const code = isAirlockError(error) ? error.code : ((error as NodeJS.ErrnoException).code?.toLowerCase() ?? 'operation_failed');
  return { status: 'failed', result: null, error: { code, message: messageOf(error) }, durationMs: Math.round(performance.now() - started) };
}

/** What the audit log keeps of a result: file paths, sizes and hashes, never file content or logs. */
export function effectsOf(op: TypedOp, result: unknown): Record<string, unknown> | null {
  if (result === null || typeof result !== 'object') return null;
  const record = result as Record<string, unknown>;
  const pick = (...keys: string[]) => Object.fromEntries(keys.filter((key) => key in record).map((key) => [key, record[key]]));
  switch (op.name) {
    case 'file.read':
      return pick('path', 'size', 'sha256', 'truncated');
    case 'file.write':
      return pick('path', 'bytes', 'sha256', 'mode', 'created', 'backup_path', 'backup_sha256');
    case 'file.rollback':
      return pick('path', 'restored_from', 'bytes', 'sha256', 'backup_path', 'backup_sha256');
    case 'container.restart':
    case 'container.stop':
    case 'container.start':
      return pick('id', 'name', 'state');
    default:
      return null;
  }
}
