import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DatabaseTarget } from '../config/database-url.js';
import { GENESIS_HASH } from '../store/migrations/0001_audit.js';
import type { Store } from '../store/store.js';
import { canonicalEvent, chainHash, type AuditEvent } from './canonical.js';
import { verifySignature } from './keys.js';
import { checkpointMessage, readHead, type Checkpoint } from './log.js';
import { scanEvents } from './scan.js';

export interface VerifyProblem {
  /** The first sequence number that does not hold. */
  readonly seq: number;
  readonly reason: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  /** Events verified: all of them, or those before the first problem. */
  readonly count: number;
  readonly headSeq: number;
  readonly headHash: string;
  readonly checkpoints: number;
  readonly durationMs: number;
  /** How many ranges were checked side by side. */
  readonly parallelism: number;
  readonly problem?: VerifyProblem;
}

export interface VerifyOptions {
  /** Ranges checked side by side, each in a worker thread; 'auto' uses the cores for large chains. */
  readonly parallelism?: number | 'auto';
  /**
   * Told how many events are checked so far, out of how many: at the start, after each slice of the
   * chain, and at the end. With it the chain is checked in slices of PROGRESS_SLICE events (still
   * `parallelism` at a time), so that progress moves while a long chain is verified.
   */
  readonly onProgress?: (checked: number, total: number) => void;
}

/** One contiguous slice of the chain, checked on its own and stitched to its neighbours afterwards. */
export interface RangeResult {
  readonly count: number;
  /** prev_hash of the range's first row: must equal the previous range's last hash. */
  readonly firstPrevHash: string | null;
  readonly lastHash: string | null;
  readonly problem?: VerifyProblem;
}

const AUTO_PARALLEL_FROM = 100_000;
/** Events per slice when progress is reported. */
export const PROGRESS_SLICE = 20_000;
const WORKER_URL = new URL('./verify-worker.js', import.meta.url);

/**
 * Checks rows in order from `start`: no seq missing, each prev_hash links to the row before, each hash
 * recomputes, and each checkpoint in the range is signed by a known key over the hash of its row.
 * Without a known prev hash (a range that does not start at 1) the first row's link is left to stitching.
 */
export class ChainChecker {
  private expectedSeq: number;
  private prevHash: string | undefined;
  private checked = 0;
  firstPrevHash: string | null = null;

  constructor(
    private readonly checkpoints: ReadonlyMap<number, Checkpoint>,
    private readonly publicKeys: ReadonlyMap<string, KeyObject>,
    start: { seq: number; prevHash?: string } = { seq: 1, prevHash: GENESIS_HASH },
  ) {
    this.expectedSeq = start.seq;
    this.prevHash = start.prevHash;
  }

  get count(): number {
    return this.checked;
  }

  get lastHash(): string | null {
    return this.checked === 0 ? null : (this.prevHash ?? null);
  }

  check(event: AuditEvent): VerifyProblem | undefined {
    if (event.seq !== this.expectedSeq) {
      return event.seq > this.expectedSeq
        ? { seq: this.expectedSeq, reason: `event ${this.expectedSeq} is missing (the next event is ${event.seq}): rows were deleted` }
        : { seq: event.seq, reason: `event ${event.seq} appears out of order (expected ${this.expectedSeq})` };
    }
    if (this.checked === 0) this.firstPrevHash = event.prev_hash;
    if (this.prevHash !== undefined && event.prev_hash !== this.prevHash) {
      return { seq: event.seq, reason: `prev_hash does not match the hash of event ${event.seq - 1}: the chain was cut or rewritten here` };
    }
    if (chainHash(event.prev_hash, canonicalEvent(event)) !== event.hash) {
      return { seq: event.seq, reason: `hash does not match the event's content: the row was changed` };
    }
    const checkpoint = this.checkpoints.get(event.seq);
    if (checkpoint) {
      const problem = checkCheckpoint(checkpoint, event.hash, this.publicKeys);
      if (problem) return problem;
    }
    this.prevHash = event.hash;
    this.expectedSeq += 1;
    this.checked += 1;
    return undefined;
  }

  /** After the last row of a range that should end at `to`: anything not seen is missing. */
  end(to: number, isChainEnd: boolean): VerifyProblem | undefined {
    if (this.expectedSeq > to) return undefined;
    const reason = isChainEnd
      ? `the head says the chain ends at ${to} but it ends at ${this.expectedSeq - 1}: events were removed`
      : `event ${this.expectedSeq} is missing: rows were deleted`;
    return { seq: this.expectedSeq, reason };
  }
}

function checkCheckpoint(checkpoint: Checkpoint, hash: string, publicKeys: ReadonlyMap<string, KeyObject>): VerifyProblem | undefined {
  const key = publicKeys.get(checkpoint.key_id);
  if (!key) {
    return { seq: checkpoint.seq, reason: `the checkpoint at ${checkpoint.seq} is signed by unknown key ${checkpoint.key_id} (pass its public key with --public-key)` };
  }
  if (!verifySignature(key, checkpointMessage(checkpoint), checkpoint.signature)) {
    return { seq: checkpoint.seq, reason: `the checkpoint signature at ${checkpoint.seq} is invalid: the checkpoint was forged or altered` };
  }
  if (checkpoint.hash !== hash) {
    return { seq: checkpoint.seq, reason: `the signed checkpoint at ${checkpoint.seq} names another hash: the chain was rewritten up to here` };
  }
  return undefined;
}

/** Everything a range check needs, in a form that crosses to a worker thread. */
export interface RangeTask {
  readonly target: DatabaseTarget;
  readonly from: number;
  readonly to: number;
  readonly isChainEnd: boolean;
  readonly checkpoints: readonly Checkpoint[];
  readonly publicKeys: ReadonlyArray<readonly [string, string]>;
}

export async function checkRange(task: RangeTask): Promise<RangeResult> {
  const keys = new Map(task.publicKeys.map(([keyId, pem]) => [keyId, createPublicKey(pem)]));
  const checker = new ChainChecker(new Map(task.checkpoints.map((checkpoint) => [checkpoint.seq, checkpoint])), keys, {
    seq: task.from,
    ...(task.from === 1 ? { prevHash: GENESIS_HASH } : {}),
  });
  let problem: VerifyProblem | undefined;
  await scanEvents(task.target, task.from, task.to, (event) => {
    problem = checker.check(event);
    return problem === undefined;
  });
  problem ??= checker.end(task.to, task.isChainEnd);
  return { count: checker.count, firstPrevHash: checker.firstPrevHash, lastHash: checker.lastHash, ...(problem ? { problem } : {}) };
}

function runInWorker(task: RangeTask): Promise<RangeResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: task });
    worker.once('message', (result: RangeResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`a verification worker exited with code ${code}`));
    });
  });
}

/**
 * Verifies the whole chain as it stood when verification began: the rows up to the head, split into
 * ranges checked side by side (the check of each row needs only that row and its predecessor's hash),
 * then stitched. Afterwards nothing may lie past the head, and no checkpoint may name a removed event.
 * Reports the first bad seq.
 */
export async function verifyChain(store: Store, publicKeys: ReadonlyMap<string, KeyObject>, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const head = await readHead(store.db);
  const checkpoints = await store.db.selectFrom('audit_checkpoints').selectAll().where('seq', '<=', head.seq).orderBy('seq').execute();
  const parallelism = rangeCount(head.seq, options.parallelism ?? 'auto');
  const keys = [...publicKeys].map(([keyId, key]) => [keyId, key.export({ type: 'spki', format: 'pem' }).toString()] as const);
  const rangeSize = Math.ceil(head.seq / Math.max(parallelism, 1));
  const size = options.onProgress ? Math.min(rangeSize, PROGRESS_SLICE) : rangeSize;
  const tasks: RangeTask[] = [];
  for (let from = 1; from <= head.seq; from += size) {
    const to = Math.min(head.seq, from + size - 1);
    tasks.push({
      target: store.target,
      from,
      to,
      isChainEnd: to === head.seq,
      checkpoints: checkpoints.filter((checkpoint) => checkpoint.seq >= from && checkpoint.seq <= to),
      publicKeys: keys,
    });
  }
  const useWorkers = parallelism > 1 && tasks.length > 1 && existsSync(fileURLToPath(WORKER_URL));
  // Without progress every range runs at once; with it, slices run `parallelism` at a time (one at a
  // time in this thread), each counted as it completes.
  const concurrency = options.onProgress ? (useWorkers ? parallelism : 1) : tasks.length;
  let checked = 0;
  options.onProgress?.(0, head.seq);
  const results = await runTasks(tasks, concurrency, (task) => (useWorkers ? runInWorker(task) : checkRange(task)), (result) => {
    checked += result.count;
    options.onProgress?.(checked, head.seq);
  });

  const problems: VerifyProblem[] = results.flatMap((result) => (result.problem ? [result.problem] : []));
  results.forEach((result, index) => {
    const previous = results[index - 1];
    if (!previous || previous.problem || result.firstPrevHash === null || result.firstPrevHash === previous.lastHash) return;
    const seq = (tasks[index] as RangeTask).from;
    problems.push({ seq, reason: `prev_hash does not match the hash of event ${seq - 1}: the chain was cut or rewritten here` });
  });
  const last = results[results.length - 1];
  if (problems.length === 0 && (last?.lastHash ?? GENESIS_HASH) !== head.hash) {
    problems.push({ seq: head.seq, reason: `the head hash does not match event ${head.seq}` });
  }
  if (problems.length === 0) problems.push(...(await checkPastHead(store)));

  const problem = problems.sort((a, b) => a.seq - b.seq)[0];
  return {
    ok: problem === undefined,
    count: problem ? problem.seq - 1 : results.reduce((sum, result) => sum + result.count, 0),
    headSeq: head.seq,
    headHash: head.hash,
    checkpoints: checkpoints.length,
    durationMs: performance.now() - started,
    parallelism: useWorkers ? Math.min(concurrency, tasks.length) : 1,
    ...(problem ? { problem } : {}),
  };
}

/** Runs `run` over the tasks, at most `limit` at a time, in order of the tasks; results in task order. */
async function runTasks<T, R>(tasks: readonly T[], limit: number, run: (task: T) => Promise<R>, done: (result: R) => void): Promise<R[]> {
  const results: R[] = new Array<R>(tasks.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      const result = await run(tasks[index] as T);
      results[index] = result;
      done(result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, lane));
  return results;
}

/** Rows or checkpoints past the current head were not appended through the chain (or its end was cut). */
async function checkPastHead(store: Store): Promise<VerifyProblem[]> {
  const head = await readHead(store.db);
  const maxEvent = await store.db.selectFrom('audit_events').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
  const maxCheckpoint = await store.db.selectFrom('audit_checkpoints').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
  const problems: VerifyProblem[] = [];
  if (maxEvent?.seq != null && Number(maxEvent.seq) > head.seq) {
    problems.push({ seq: head.seq + 1, reason: `events after the head (${head.seq}) were added without moving it` });
  }
  if (maxCheckpoint?.seq != null && Number(maxCheckpoint.seq) > head.seq) {
    problems.push({ seq: head.seq + 1, reason: `a checkpoint names event ${maxCheckpoint.seq} but the chain ends at ${head.seq}: events were removed` });
  }
  return problems;
}

function rangeCount(events: number, parallelism: number | 'auto'): number {
  if (parallelism === 'auto') return events >= AUTO_PARALLEL_FROM ? Math.min(availableParallelism(), 4) : 1;
  return Math.max(1, Math.min(parallelism, 16, Math.max(events, 1)));
}
