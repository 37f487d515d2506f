import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditEvent } from './canonical.js';

/** The event as one JSON line: what the mirror file, `audit export` and `audit tail --json` print. */
export function eventJson(event: AuditEvent): string {
  return JSON.stringify({ ...event, data: JSON.parse(event.data) as unknown });
}

/**
 * A live JSONL copy of committed events (the reference systems' audit file), for log shippers.
 * The chain in the database stays the record; the mirror is written only after a commit.
 */
export class AuditMirror {
  private fd: number | undefined;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.fd = openSync(file, 'a', 0o600);
  }

  write(events: readonly AuditEvent[]): void {
    if (this.fd === undefined || events.length === 0) return;
    // One write per commit: with O_APPEND, lines from several processes never interleave mid-line.
    writeSync(this.fd, events.map((event) => `${eventJson(event)}\n`).join(''));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
