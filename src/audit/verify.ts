import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DatabaseTarget } from '../config/database-url.js';
import { GENESIS_HASH } from '../store/migrations/0001_audit.js';
import type { Store } from '../store/store.js';
import { canonicalEvent, chainHash, type AuditEvent } from './canonical.js';
import { keyIdOf, verifySignature } from './keys.js';
import { checkpointMessage, handOverMessage, KEY_ROTATED_ACTION, readHead, type Checkpoint } from './log.js';
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
  /** The keys checkpoints were checked against: those given, and those the chain's key rotations introduced. */
  readonly keys: readonly TrustedKeyInfo[];
  readonly problem?: VerifyProblem;
}

export interface TrustedKeyInfo {
  readonly key_id: string;
  /** `given`: passed in (configured, retired or --public-key); `rotation`: introduced by an `audit.key_rotated` event. */
  readonly source: 'given' | 'rotation';
  /** The first seq whose checkpoints it may sign (1 for given keys: a retired key is not revoked). */
  readonly from_seq: number;
  /** For an introduced key: the key that vouched for it. */
  readonly vouched_by?: string;
}

/** A public key a verifier trusts, from a seq on. */
export interface TrustedKey {
  readonly key: KeyObject;
  readonly fromSeq: number;
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
    private readonly publicKeys: ReadonlyMap<string, TrustedKey>,
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

function checkCheckpoint(checkpoint: Checkpoint, hash: string, publicKeys: ReadonlyMap<string, TrustedKey>): VerifyProblem | undefined {
  const trusted = publicKeys.get(checkpoint.key_id);
  if (!trusted) {
    return { seq: checkpoint.seq, reason: `the checkpoint at ${checkpoint.seq} is signed by unknown key ${checkpoint.key_id} (pass its public key with --public-key)` };
  }
  if (checkpoint.seq < trusted.fromSeq) {
    return { seq: checkpoint.seq, reason: `the checkpoint at ${checkpoint.seq} is signed by key ${checkpoint.key_id}, which the chain introduced only at ${trusted.fromSeq}` };
  }
  if (!verifySignature(trusted.key, checkpointMessage(checkpoint), checkpoint.signature)) {
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
  /** Key id, SPKI PEM and the first seq it may sign. */
  readonly publicKeys: ReadonlyArray<readonly [string, string, number]>;
}

export async function checkRange(task: RangeTask): Promise<RangeResult> {
  const keys = new Map(task.publicKeys.map(([keyId, pem, fromSeq]) => [keyId, { key: createPublicKey(pem), fromSeq }]));
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

/** What an `audit.key_rotated` event carries. */
interface RotationData {
  readonly key_id: string;
  readonly public_key: string;
  readonly previous_key_id: string;
}

function rotationData(data: string): RotationData | undefined {
  try {
    const parsed = JSON.parse(data) as Partial<RotationData>;
    return typeof parsed.key_id === 'string' && typeof parsed.public_key === 'string' && typeof parsed.previous_key_id === 'string' ? (parsed as RotationData) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Follows the chain's key rotations in order: the key an `audit.key_rotated` event introduces is
 * trusted from that event on when the checkpoint at the event is signed by it and carries a valid
 * hand-over signature of a key already trusted there (the old key vouching for the new). Anything
 * else is a forged or broken rotation, reported at its seq; no key after it is trusted.
 */
async function followRotations(
  store: Store,
  headSeq: number,
  checkpoints: ReadonlyMap<number, Checkpoint>,
  trusted: Map<string, TrustedKey & { info: TrustedKeyInfo }>,
): Promise<VerifyProblem | undefined> {
  const rotations = await store.db.selectFrom('audit_events').select(['seq', 'hash', 'data']).where('action', '=', KEY_ROTATED_ACTION).where('seq', '<=', headSeq).orderBy('seq').execute();
  const rotationSeqs = new Set(rotations.map((event) => Number(event.seq)));
  for (const event of rotations) {
    const seq = Number(event.seq);
    const data = rotationData(event.data);
    let key: KeyObject | undefined;
    try {
      key = data ? createPublicKey(data.public_key) : undefined;
    } catch {
      key = undefined;
    }
    if (!data || !key || key.asymmetricKeyType !== 'ed25519' || keyIdOf(key) !== data.key_id) {
      return { seq, reason: `the audit.key_rotated event at ${seq} does not carry a valid Ed25519 public key matching its key_id` };
    }
    const checkpoint = checkpoints.get(seq);
    if (!checkpoint || checkpoint.key_id !== data.key_id || !checkpoint.prev_key_id || !checkpoint.prev_signature) {
      return { seq, reason: `the key rotation at ${seq} to key ${data.key_id} has no checkpoint signed by both keys: the new key is not vouched for` };
    }
    const voucher = trusted.get(checkpoint.prev_key_id);
    if (checkpoint.prev_key_id !== data.previous_key_id || !voucher || voucher.fromSeq > seq) {
      return {
        seq,
        reason: `the key rotation at ${seq} to key ${data.key_id} is vouched for by key ${checkpoint.prev_key_id}, which is not trusted here: a forged rotation, unless you hold that key (pass its public key with --public-key)`,
      };
    }
    const handOver = { seq, hash: checkpoint.hash, time: checkpoint.time, key_id: checkpoint.prev_key_id, new_key_id: data.key_id };
    if (checkpoint.hash !== event.hash || !verifySignature(voucher.key, handOverMessage(handOver), checkpoint.prev_signature)) {
      return { seq, reason: `the hand-over signature of key ${checkpoint.prev_key_id} at ${seq} is invalid: a forged rotation` };
    }
    if (!trusted.has(data.key_id)) {
      trusted.set(data.key_id, { key, fromSeq: seq, info: { key_id: data.key_id, source: 'rotation', from_seq: seq, vouched_by: checkpoint.prev_key_id } });
    }
  }
  for (const checkpoint of checkpoints.values()) {
    if (checkpoint.prev_key_id && !rotationSeqs.has(checkpoint.seq)) {
      return { seq: checkpoint.seq, reason: `the checkpoint at ${checkpoint.seq} claims a key hand-over, but event ${checkpoint.seq} is no audit.key_rotated event` };
    }
  }
  return undefined;
}

/**
 * Verifies the whole chain as it stood when verification began: the rows up to the head, split into
 * ranges checked side by side (the check of each row needs only that row and its predecessor's hash),
 * then stitched. Afterwards nothing may lie past the head, and no checkpoint may name a removed event.
 * Checkpoints are checked against the given keys (at every seq: a retired key is not revoked) and the
 * keys the chain's own rotations introduced, each from its rotation on. Reports the first bad seq.
 */
export async function verifyChain(store: Store, publicKeys: ReadonlyMap<string, KeyObject>, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const head = await readHead(store.db);
  const checkpoints = await store.db.selectFrom('audit_checkpoints').selectAll().where('seq', '<=', head.seq).orderBy('seq').execute();
  const parallelism = rangeCount(head.seq, options.parallelism ?? 'auto');
  const trusted = new Map([...publicKeys].map(([keyId, key]) => [keyId, { key, fromSeq: 1, info: { key_id: keyId, source: 'given' as const, from_seq: 1 } }]));
  const rotationProblem = await followRotations(store, head.seq, new Map(checkpoints.map((checkpoint) => [Number(checkpoint.seq), checkpoint])), trusted);
  const keys = [...trusted].map(([keyId, { key, fromSeq }]) => [keyId, key.export({ type: 'spki', format: 'pem' }).toString(), fromSeq] as const);
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

  // A broken rotation comes first among problems at the same seq: it says why the key is unknown.
  const problems: VerifyProblem[] = [...(rotationProblem ? [rotationProblem] : []), ...results.flatMap((result) => (result.problem ? [result.problem] : []))];
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
    keys: [...trusted.values()].map((entry) => entry.info),
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
