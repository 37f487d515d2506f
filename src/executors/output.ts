/**
 * A command's output, kept up to a cap in the order it arrived: what every executor returns as
 * `output`, with `truncated` set once anything (non-empty) had to be dropped.
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(private readonly capBytes: number) {}

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const room = this.capBytes - this.size;
    if (chunk.length > room) this.dropped = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  get truncated(): boolean {
    return this.dropped;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
