import { createHash } from 'node:crypto';
import { v4 as uuidv4 } from 'uuid';
import type { z } from 'zod';
import { opHash, readOperation, type CommandOp, type Operation } from '../approvals/index.js';
import type { AuditLog, KeyPair } from '../audit/index.js';
import { AirlockError, messageOf } from '../errors.js';
import { killLeftover, runLocal, type ExecLimits, type ExecResult } from '../executors/local.js';
import { NO_OUTPUT } from '../executors/output.js';
import { Spawner } from '../executors/spawner.js';
import type { DockerExecutor } from '../executors/docker.js';
import { capabilityOf } from '../operations/catalog.js';
import { LocalHost } from '../operations/local-host.js';
import { effectsOf, failedOutcome, runTypedOp, type OpOutcome } from '../operations/run.js';
import { SshHost } from '../operations/ssh-host.js';
import type { SshExecutor } from '../executors/ssh.js';
import type { TypedOp } from '../operations/schema.js';
import { Statement, allColumns, insertStatement, type Store } from '../store/index.js';
import type { ApprovalsTable, ExecutionsTable } from '../store/tables.js';
import { enforceGate, type ExecutorPool, type Target, type TargetRegistry } from '../targets/index.js';
import type { CapabilityClaims, CapabilityVerifier } from '../tokens/index.js';
import { signReceipt, type ReceiptClaims } from './receipts.js';
import { REPLAY_ERROR, type ExecuteAnswer, type ExecuteInput } from './schema.js';

/** The reference gateway's answer, plus Airlock's receipt and details (ExecuteAnswer in schema.ts). */
export type ExecuteResponse = Readonly<z.infer<typeof ExecuteAnswer>>;

/** How an execution ended, whatever ran: a command line's ExecResult, plus a typed operation's JSON. */
interface Outcome extends ExecResult {
  readonly result?: unknown;
  readonly errorCode?: string;
  /** What the audit log keeps of a typed operation's result. */
  readonly effects?: Record<string, unknown> | null;
}

const EXECUTION_COLUMNS = allColumns<ExecutionsTable>()(
  'id', 'jti', 'approval_id', 'instance_id', 'environment', 'target', 'op_hash', 'status', 'exit_code', 'output', 'output_sha256', 'truncated', 'error', 'receipt',
  'process', 'started_at', 'finished_at', 'duration_ms',
);
/** The single-use guarantee: one row per jti; a second insert of the same jti inserts nothing and returns no row. */
const CONSUME = insertStatement<{ id: string }>('executions', EXECUTION_COLUMNS, 1, ' on conflict (jti) do nothing returning id');
const APPROVAL_BY_ID = new Statement<ApprovalsTable>('select * from approvals where id = ?');
const MARK_EXECUTED = new Statement('update approvals set status = ?, executed_at = ? where id = ?');
const RUNNING_ON_TARGET = new Statement<{ n: number | string }>("select count(*) as n from executions where target = ? and status = 'running'");
const RECORD_PROCESS = new Statement('update executions set process = ? where id = ? and status = ?');
const RECORD_RESULT = new Statement(
  'update executions set status = ?, exit_code = ?, output = ?, output_sha256 = ?, truncated = ?, error = ?, receipt = ?, finished_at = ?, duration_ms = ? where id = ?',
);

/** What runs an approved operation: a gateway in this process, or one reached over HTTP. */
export interface ExecutionService {
  execute(token: string | undefined, input: ExecuteInput, meta: { ip: string }): Promise<ExecuteResponse>;
}

export { REPLAY_ERROR };

/**
 * The gate itself: a capability token is verified, matched against the request, consumed exactly
 * once (a conditional insert in the same transaction as execution.started), and only then is the
 * operation run; the result is recorded with execution.finished and returned with a signed receipt.
 */
export class Gateway implements ExecutionService {
  /** Commands are forked from a small helper process, not from the server (see Spawner). */
  private readonly spawner = new Spawner();

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly verifier: CapabilityVerifier;
      readonly targets: TargetRegistry;
      readonly executors: ExecutorPool;
      readonly receiptKey: KeyPair;
      readonly issuer: string;
      /** Names this process's executions, so a restart can mark the ones it left running. */
      readonly instanceId: string;
      /** A gateway of one network segment runs nothing on a target outside it, whatever the token says. */
      readonly segment?: string;
    },
  ) {}

  async execute(token: string | undefined, input: ExecuteInput, meta: { ip: string }): Promise<ExecuteResponse> {
    const { claims, op } = await this.check(token, input, meta);
    const target = this.deps.targets.find(claims.tgt);
    if (!target) throw await this.refuse('unknown_target', 403, `the token names target ${claims.tgt}, which this gateway does not serve`, claims, meta);
    const { segment } = this.deps;
    if (segment !== undefined && target.segment !== segment) {
      throw await this.refuse('target_outside_segment', 403, `target ${target.id} is ${target.segment ? `in segment ${target.segment}` : 'in no segment'}; this gateway serves segment ${segment} only`, claims, meta);
    }
    // The gate again, as the registry stands now (it may have been reloaded since the request), with
    // the target's running executions across every instance.
    const running = Number((await RUNNING_ON_TARGET.first(this.deps.store, [target.id]))?.n ?? 0);
    await enforceGate(this.deps.audit, target, { op, environment: claims.env, capability: capabilityOf(op), running }, { actor: `token:${claims.jti}`, stage: 'execution' });

    const started = new Date().toISOString();
    const row: ExecutionsTable = {
      id: uuidv4(),
      jti: claims.jti,
      approval_id: claims.apr,
      instance_id: this.deps.instanceId,
      environment: claims.env,
      target: claims.tgt,
      op_hash: claims.op,
      status: 'running',
      exit_code: null,
      output: null,
      output_sha256: null,
      truncated: 0,
      error: null,
      receipt: null,
      process: null,
      started_at: started,
      finished_at: null,
      duration_ms: null,
    };
    const consumed = await this.deps.store.transaction(async (tx): Promise<'consumed' | 'replayed' | 'mismatch'> => {
      // The single-use guarantee: one row per jti, whichever instance gets there first.
      const inserted = await CONSUME.first(tx, EXECUTION_COLUMNS.map((column) => row[column]));
      if (!inserted) return 'replayed';
      // Even a validly signed token must be the one minted for this approval, as approved.
      const approval = await APPROVAL_BY_ID.first(tx, [claims.apr]);
      if (!approval || approval.token_jti !== claims.jti || approval.op_hash !== claims.op || approval.environment !== claims.env || approval.target !== claims.tgt || approval.status !== 'APPROVED') {
        throw new TokenMismatch();
      }
      await MARK_EXECUTED.run(tx, ['EXECUTED', started, claims.apr]);
      await this.deps.audit.append(tx, {
        actor: `token:${claims.jti}`,
        action: 'execution.started',
        subject: { type: 'execution', id: row.id },
        environment: claims.env,
        target: claims.tgt,
        data: { approval_id: claims.apr, op_hash: claims.op, op: opForAudit(op), instance: this.deps.instanceId },
      });
      return 'consumed';
    }).catch((error: unknown) => {
      if (error instanceof TokenMismatch) return 'mismatch' as const;
      throw error;
    });
    if (consumed === 'replayed') throw await this.refuse('token_replayed', 409, REPLAY_ERROR, claims, meta);
    if (consumed === 'mismatch') throw await this.refuse('token_not_for_approval', 403, 'the token was not minted for this approval as it stands', claims, meta);

    const limits = {
      timeoutSeconds: target.timeoutSeconds,
      outputCapBytes: target.outputCapBytes,
      cwd: target.workDir,
      ...(target.uid !== undefined ? { uid: target.uid } : {}),
      ...(target.gid !== undefined ? { gid: target.gid } : {}),
      // Off the response's path: only a crash recovery ever reads it.
      onStart: (process: string) => {
        void RECORD_PROCESS.run(this.deps.store, [process, row.id, 'running']).catch(() => undefined);
      },
    };
    let result: Outcome;
    if (op.kind === 'op') result = await this.runTyped(target, op, limits);
    else result = target.executor === 'local' ? await runLocal(op, limits, this.spawner) : await this.runRemote(target, op, limits);
    return this.finish(row, claims, result);
  }

  /** A typed operation, on the target's host or container engine; its JSON result is the output. */
  private async runTyped(target: Target, op: TypedOp, limits: ExecLimits): Promise<Outcome> {
    const outcome = await this.typedOutcome(target, op, limits);
    const output = Buffer.from(JSON.stringify(outcome.status === 'succeeded' ? outcome.result : { error: outcome.error }));
    return {
      status: outcome.status,
      exitCode: outcome.status === 'succeeded' ? 0 : null,
      output,
      stdout: output,
      stderr: Buffer.alloc(0),
      truncated: false,
      durationMs: outcome.durationMs,
      ...(outcome.error ? { error: outcome.error.message, errorCode: outcome.error.code } : { result: outcome.result, effects: effectsOf(op, outcome.result) }),
    };
  }

  private async typedOutcome(target: Target, op: TypedOp, limits: ExecLimits): Promise<OpOutcome> {
    switch (target.executor) {
      case 'local':
        return runTypedOp(op, { host: new LocalHost(limits, this.spawner) });
      case 'docker':
        return runTypedOp(op, { engine: (this.deps.executors.get(target) as DockerExecutor).docker });
      case 'workspace':
        return failedOutcome(new AirlockError('operation_not_supported', `typed operations do not run on workspace targets (${target.id}): use the workspace's MCP tools`, { status: 400 }), performance.now());
      case 'ssh': {
        const executor = this.deps.executors.get(target) as SshExecutor;
        const started = performance.now();
        return executor.withSftp((sftp) => runTypedOp(op, { host: new SshHost(executor, sftp, limits) })).catch((error: unknown) => failedOutcome(error, started));
      }
    }
  }

  /** An SSH host or a container: a failure to reach it is the execution's result, recorded like any other. */
  private async runRemote(target: Target, op: CommandOp, limits: ExecLimits): Promise<ExecResult> {
    const started = performance.now();
    try {
      return await this.deps.executors.get(target).run(op, limits);
    } catch (error) {
      return { status: 'failed', exitCode: null, ...NO_OUTPUT, durationMs: Math.round(performance.now() - started), error: messageOf(error) };
    }
  }

  /** Stops the spawner process (at shutdown, once no request is in flight). */
  close(): void {
    this.spawner.close();
    void this.deps.executors.close();
  }

  /**
   * Marks what this instance left running (a crash, a kill -9) as interrupted, with an audit event
   * each, and stops any command still running unsupervised from that execution.
   */
  async recoverInterrupted(): Promise<number> {
    const running = await this.deps.store.db.selectFrom('executions').selectAll().where('instance_id', '=', this.deps.instanceId).where('status', '=', 'running').execute();
    for (const execution of running) {
      const killed = execution.process ? killLeftover(execution.process) : false;
      await this.deps.store.transaction(async (tx) => {
        const finishedAt = new Date().toISOString();
        await tx.db.updateTable('executions').set({ status: 'interrupted', finished_at: finishedAt, error: 'the gateway stopped while it ran' }).where('id', '=', execution.id).where('status', '=', 'running').execute();
        await this.deps.audit.append(tx, {
          actor: `system:${this.deps.instanceId}`,
          action: 'execution.interrupted',
          subject: { type: 'execution', id: execution.id },
          environment: execution.environment,
          target: execution.target,
          data: { approval_id: execution.approval_id, started_at: execution.started_at, killed_leftover_process: killed },
        });
      });
    }
    return running.length;
  }

  /** Token present and valid, and the request repeats exactly what it was minted for: the claims and the operation. */
  private async check(token: string | undefined, input: ExecuteInput, meta: { ip: string }): Promise<{ claims: CapabilityClaims; op: Operation }> {
    if (!token) throw await this.refuse('token_missing', 401, 'a capability token is required in X-Capability-Token', undefined, meta);
    let claims: CapabilityClaims;
    try {
      claims = await this.deps.verifier.verify(token);
    } catch (error) {
      const failure = error as AirlockError;
      throw await this.refuse(failure.code, failure.status, failure.message, undefined, meta);
    }
    if (input.approval_id !== claims.apr) throw await this.refuse('approval_mismatch', 403, 'the token was minted for another approval', claims, meta);
    if (input.environment !== claims.env) throw await this.refuse('environment_mismatch', 403, `the token is for ${claims.env}, not ${input.environment}`, claims, meta);
    let op: Operation;
    try {
      op = readOperation(input).op;
    } catch (error) {
      throw await this.refuse('invalid_command', 400, (error as Error).message, claims, meta);
    }
    if (opHash(op) !== claims.op) throw await this.refuse('command_mismatch', 403, `the ${op.kind === 'op' ? 'operation' : 'command'} is not the one the token was minted for`, claims, meta);
    return { claims, op };
  }

  private async finish(row: ExecutionsTable, claims: CapabilityClaims, result: Outcome): Promise<ExecuteResponse> {
    const finishedAt = new Date().toISOString();
    const outputSha256 = createHash('sha256').update(result.output).digest('hex');
    const output = result.output.toString('utf8');
    const receipt = await this.deps.store.transaction(async (tx) => {
      const [event] = await this.deps.audit.append(tx, {
        actor: `token:${claims.jti}`,
        action: 'execution.finished',
        subject: { type: 'execution', id: row.id },
        environment: claims.env,
        target: claims.tgt,
        data: {
          status: result.status,
          exit_code: result.exitCode,
          output_sha256: outputSha256,
          truncated: result.truncated,
          duration_ms: result.durationMs,
          error: result.error ?? null,
          ...(result.errorCode ? { error_code: result.errorCode } : {}),
          ...(result.effects ? { effects: result.effects } : {}),
        },
      });
      const claimsOfReceipt: ReceiptClaims = {
        typ: 'airlock-receipt/v1',
        iss: this.deps.issuer,
        execution_id: row.id,
        approval_id: claims.apr,
        jti: claims.jti,
        environment: claims.env,
        target: claims.tgt,
        op_hash: claims.op,
        status: result.status,
        exit_code: result.exitCode,
        output_sha256: outputSha256,
        truncated: result.truncated,
        started_at: row.started_at,
        finished_at: finishedAt,
        duration_ms: result.durationMs,
        audit_seq: event?.seq ?? 0,
        audit_hash: event?.hash ?? '',
      };
      const signed = await signReceipt(this.deps.receiptKey, claimsOfReceipt);
      await RECORD_RESULT.run(tx, [
        result.status,
        result.exitCode,
        output,
        outputSha256,
        result.truncated ? 1 : 0,
        result.error ?? null,
        signed,
        finishedAt,
        result.durationMs,
        row.id,
      ]);
      return signed;
    });
    return {
      success: result.status === 'succeeded',
      output,
      stdout: result.stdout.toString('utf8'),
      stderr: result.stderr.toString('utf8'),
      exit_code: result.exitCode,
      execution_id: row.id,
      status: result.status,
      duration_ms: result.durationMs,
      truncated: result.truncated,
      ...(result.error ? { error: result.error } : {}),
      ...(result.errorCode ? { error_code: result.errorCode } : {}),
      ...('result' in result ? { result: result.result } : {}),
      receipt,
    };
  }

  /** Audits a refusal (best effort: with the store down, the refusal itself still stands) and returns the error. */
  private async refuse(code: string, status: number, message: string, claims: CapabilityClaims | undefined, meta: { ip: string }): Promise<AirlockError> {
    await this.deps.audit
      .record({
        actor: claims ? `token:${claims.jti}` : 'anonymous',
        action: 'execution.refused',
        ...(claims ? { subject: { type: 'approval', id: claims.apr }, environment: claims.env, target: claims.tgt } : {}),
        data: { reason: code, ip: meta.ip },
      })
      .catch(() => undefined);
    return new AirlockError(code, message, { status });
  }
}

/** Thrown inside the consuming transaction to roll it back: nothing is consumed, nothing runs. */
class TokenMismatch extends Error {}

/** The operation as the audit log keeps it: a file's new content only as its size and hash. */
function opForAudit(op: Operation): Record<string, unknown> {
  if (op.kind === 'exec') return { kind: 'exec', argv: op.argv };
  if (op.kind === 'shell') return { kind: 'shell', script: op.script };
  if (op.name !== 'file.write') return { kind: 'op', name: op.name, args: op.args };
  const { content_base64: content, ...args } = op.args;
  const bytes = Buffer.from(content, 'base64');
  return { kind: 'op', name: op.name, args: { ...args, content_bytes: bytes.length, content_sha256: createHash('sha256').update(bytes).digest('hex') } };
}

/** One execution as recorded, whichever gateway ran it. */
export async function findExecution(store: Store, id: string): Promise<Omit<ExecutionsTable, 'truncated'> & { truncated: boolean }> {
  const row = await store.db.selectFrom('executions').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new AirlockError('execution_not_found', `no execution ${id}`, { status: 404 });
  return { ...row, truncated: row.truncated === 1 };
}
