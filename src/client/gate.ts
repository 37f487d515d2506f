import { AirlockClientError, AirlockExpiredError, AirlockRejectedError } from './errors.js';
import type { AirlockClient, WaitOptions } from './client.js';
import { quoteArgv } from '../common/command-line.js';
import { linkedSignal } from './signals.js';
import type { ApprovalView, ExecuteResponse, TypedOperation } from './types.js';

/** What one call would run, and how to present it to the people who decide. */
export type GateDescription = (
  | { readonly command: string; readonly argv?: undefined; readonly op?: undefined }
  /** Program and arguments, each kept one argument whatever it contains: the safe form for values a model chose. */
  | { readonly argv: readonly string[]; readonly command?: undefined; readonly op?: undefined }
  | { readonly op: TypedOperation; readonly command?: undefined; readonly argv?: undefined }
) & {
  /** What approvers see as the task; default: the command, or the operation's name. */
  readonly task_name?: string | undefined;
  /** The 10-point instruction; production environments refuse a weak one (422). */
  readonly instruction?: string | undefined;
  readonly worker_id?: string | undefined;
  /** An approved step-up challenge of the requester, for an operation on a sensitive path. */
  readonly challenge_id?: string | undefined;
  /** Aborts this one call (with the options' signal, whichever aborts first). */
  readonly signal?: AbortSignal | undefined;
};

export interface RunOptions extends WaitOptions {
  /** Where to run: an environment the server serves (dev, test, stg, prd, …). */
  readonly environment?: string | undefined;
  /** The target (default `local`). */
  readonly target?: string | undefined;
  /** Told of the request as soon as it is filed (e.g. to say "waiting for approval of …"). */
  readonly onRequest?: ((request: ApprovalView) => void) | undefined;
}

export interface GateOptions<A extends unknown[]> extends RunOptions {
  readonly environment: string;
  /** What a call with these arguments would run. */
  readonly describe: (...args: A) => GateDescription;
}

export interface RunResult {
  /** The request as decided (APPROVED). */
  readonly request: ApprovalView;
  /** The gateway's answer: output, exit code, execution id and signed receipt. */
  readonly execution: ExecuteResponse;
}

/**
 * argv as one command line that the server reads back as exactly these arguments (no shell): each
 * argument that is not plainly safe is single-quoted, as the server's own display does.
 */
export function commandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new AirlockClientError('invalid_command', 'argv is empty: give at least the program');
  return quoteArgv(argv);
}

type Operation = { command: string } | { op: TypedOperation };

function operationOf(description: GateDescription): Operation {
  if (description.op !== undefined) return { op: description.op };
  if (description.argv !== undefined) return { command: commandLine(description.argv) };
  if (typeof description.command === 'string') return { command: description.command };
  throw new AirlockClientError('invalid_description', 'describe() must give a command, argv or op');
}

/** The operation exactly as the request states it (a typed operation with its defaults filled in): what the token is minted for. */
function approvedOperation(request: ApprovalView): Operation {
  if (request.op.kind === 'op') return { op: { name: request.op.name, args: request.op.args } as TypedOperation };
  return { command: request.command };
}

/** Request → decision → token → execution, each step through the real API, as the server's own MCP `run` does. */
export async function runOperation(client: AirlockClient, description: GateDescription, options: RunOptions): Promise<RunResult> {
  if (!options.environment) throw new AirlockClientError('invalid_options', 'give the environment to run in (e.g. { environment: "dev" })');
  const { signal, release } = linkedSignal(options.signal, description.signal);
  try {
    const operation = operationOf(description);
    const taskName = description.task_name ?? ('command' in operation ? operation.command.slice(0, 500) : operation.op.name);
    const created = await client.requests.create(
      {
        ...operation,
        task_name: taskName,
        deployment_env: options.environment,
        ...(options.target !== undefined ? { target: options.target } : {}),
        ...(description.instruction !== undefined ? { instruction: description.instruction } : {}),
        ...(description.worker_id !== undefined ? { worker_id: description.worker_id } : {}),
        ...(description.challenge_id !== undefined ? { challenge_id: description.challenge_id } : {}),
      },
      { signal },
    );
    options.onRequest?.(created);
    const request = created.status === 'PENDING' ? await client.waitForDecision(created.request_id, { signal, timeoutMs: options.timeoutMs }) : created;
    if (request.status === 'REJECTED') throw new AirlockRejectedError(request);
    if (request.status === 'EXPIRED') throw new AirlockExpiredError(request);
    if (request.status !== 'APPROVED') throw new AirlockClientError('request_not_approved', `request ${request.request_id} is ${request.status}, not APPROVED`);

    const approved = approvedOperation(request);
    const where = { approval_id: request.request_id, environment: request.environment };
    const minted = await client.tokens.mint({ ...where, ...approved }, { signal });
    const execution = await client.execute(minted.token, { ...where, ...approved }, { signal });
    return { request, execution };
  } finally {
    // A long-lived signal of the options must not collect a listener per call.
    release();
  }
}

/** See AirlockClient.gate. */
export function gate<A extends unknown[], R>(client: AirlockClient, fn: (result: ExecuteResponse, ...args: A) => R | Promise<R>, options: GateOptions<A>): (...args: A) => Promise<R> {
  if (typeof fn !== 'function') throw new AirlockClientError('invalid_options', 'gate(fn, options): fn maps the execution result to the return value');
  if (typeof options?.describe !== 'function') throw new AirlockClientError('invalid_options', 'gate(fn, options): options.describe(...args) must say what a call runs');
  const { describe, ...run } = options;
  return async (...args: A): Promise<R> => {
    const { execution } = await runOperation(client, describe(...args), run);
    // Only here, after the gateway ran the approved operation, does the wrapped function run.
    return fn(execution, ...args);
  };
}
