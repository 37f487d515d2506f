/**
 * A command's output, kept up to a cap in the order it arrived, with `truncated` set once anything
 * (non-empty) had to be dropped.
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(private readonly capBytes: number) {}

  /** Keeps what fits; returns the part kept (empty once the cap is reached). */
  add(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const room = this.capBytes - this.size;
    if (chunk.length > room) this.dropped = true;
    if (room <= 0) return chunk.subarray(0, 0);
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
    return kept;
  }

  get truncated(): boolean {
    return this.dropped;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export type OutputStream = 'stdout' | 'stderr';

/** What every executor returns of a command's output. */
export interface CollectedOutput {
  /** stdout and stderr in the order they arrived. */
  readonly output: Buffer;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** Whether any of the three dropped bytes. */
  readonly truncated: boolean;
}

/** The output of a command that never ran. */
export const NO_OUTPUT: CollectedOutput = Object.freeze({ output: Buffer.alloc(0), stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), truncated: false });

/**
 * stdout and stderr of one command, each capped at `capBytes`, plus both combined in arrival order
 * (capped at `capBytes` too). `onOutput` is told each chunk as it arrives, trimmed to what its stream
 * keeps, so a listener sees exactly the bytes that end up in `stdout` and `stderr`; once `finish()`
 * was called it hears nothing more. An exception thrown by `onOutput` is swallowed: a listener
 * cannot break the run.
 */
export class StreamCollector {
  private readonly combined: CappedOutput;
  private readonly streams: Record<OutputStream, CappedOutput>;
  private finished = false;

  constructor(
    capBytes: number,
    private readonly onOutput?: (stream: OutputStream, chunk: Buffer) => void,
  ) {
    this.combined = new CappedOutput(capBytes);
    this.streams = { stdout: new CappedOutput(capBytes), stderr: new CappedOutput(capBytes) };
  }

  add(stream: OutputStream, chunk: Buffer): void {
    if (this.finished || chunk.length === 0) return;
    this.combined.add(chunk);
    const kept = this.streams[stream].add(chunk);
    if (kept.length === 0 || !this.onOutput) return;
    try {
      this.onOutput(stream, kept);
    } catch {
      // the listener's problem, not the command's
    }
  }

  /** The output so far; nothing is collected (or passed to `onOutput`) after this. */
  finish(): CollectedOutput {
    this.finished = true;
    const { stdout, stderr } = this.streams;
    return { output: this.combined.bytes(), stdout: stdout.bytes(), stderr: stderr.bytes(), truncated: this.combined.truncated || stdout.truncated || stderr.truncated };
  }
}
