import pg from 'pg';
import { messageOf } from '../errors.js';
import type { Store } from '../store/index.js';
import { OUTBOX_CHANNEL, type Outbox } from './outbox.js';
import type { DomainEvent } from './types.js';

type Listener = (events: readonly DomainEvent[]) => void;

/**
 * Follows the outbox and hands every new event to this instance's subscribers (SSE streams, the
 * dispatcher). It reads the table, which stays the source of truth; what wakes it is a commit in this
 * process, a PostgreSQL NOTIFY from another instance, or, as a safety net, a slow poll.
 */
export class EventHub {
  private readonly listeners = new Set<Listener>();
  private last = 0;
  private reading: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly outbox: Outbox,
    private readonly options: { pollMs: number; log: (message: string) => void },
  ) {}

  async start(): Promise<void> {
    this.last = await this.outbox.head();
    this.outbox.onWritten = () => this.wake();
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
    if (this.store.dialect === 'postgres' && this.store.target.dialect === 'postgres') await this.listen(this.store.target.url);
  }

  /** The seq of the newest event handed out. */
  get position(): number {
    return this.last;
  }

  /** How many subscribers there are (SSE streams, the dispatcher). */
  get listenerCount(): number {
    return this.listeners.size;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads what is new (once at a time; a wake-up during a read reads again after it). */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.drain()
      .catch((error: unknown) => this.options.log(`event hub: ${messageOf(error)}`))
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.reading;
    await this.listener?.end().catch(() => undefined);
    this.listeners.clear();
  }

  private async drain(): Promise<void> {
    for (;;) {
      const events = await this.outbox.after(this.last);
      if (events.length === 0) return;
      this.last = (events.at(-1) as DomainEvent).seq;
      for (const listener of this.listeners) {
        try {
          listener(events);
        } catch (error) {
          this.options.log(`event listener failed: ${messageOf(error)}`);
        }
      }
    }
  }

  /** LISTEN on a connection of its own; if it drops, the poll carries on and it reconnects. */
  private async listen(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    client.on('notification', () => this.wake());
    client.on('error', (error) => {
      this.options.log(`event hub lost its LISTEN connection: ${messageOf(error)}`);
      this.listener = undefined;
      if (!this.stopped) setTimeout(() => void this.listen(url).catch(() => undefined), 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    this.listener = client;
  }
}
