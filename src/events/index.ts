import type { Store } from '../store/index.js';
import { Dispatcher, type Channel, type DispatcherOptions } from './dispatcher.js';
import { EventHub } from './hub.js';
import type { Outbox } from './outbox.js';

export { Dispatcher, PermanentFailure, type Channel } from './dispatcher.js';
export { EventHub } from './hub.js';
export { Outbox, eventOf } from './outbox.js';
export { EVENT_TYPES, PUBLISHED_TYPES, visibleTo, type DomainEvent } from './types.js';
export { eventRoutes } from './routes.js';

/** The outbox, the hub that follows it, and the dispatcher that delivers from it: started with the server. */
export class Events {
  readonly hub: EventHub;
  readonly dispatcher: Dispatcher;
  private pruning: NodeJS.Timeout | undefined;

  constructor(
    readonly outbox: Outbox,
    store: Store,
    private readonly settings: { pollMs: number; retentionDays: number } & Omit<DispatcherOptions, 'log'>,
    channels: readonly Channel[],
    private readonly log: (message: string) => void,
  ) {
    this.hub = new EventHub(store, outbox, { pollMs: settings.pollMs, log });
    this.dispatcher = new Dispatcher(store, this.hub, channels, { ...settings, log });
  }

  async start(): Promise<void> {
    await this.hub.start();
    await this.dispatcher.start();
    const prune = () => void this.prune().catch((error: unknown) => this.log(`outbox pruning failed: ${String(error)}`));
    this.pruning = setInterval(prune, 3_600_000);
    this.pruning.unref();
    prune();
  }

  /** Drops what the retention period has passed (see Outbox.prune). */
  prune(now = new Date()) {
    return this.outbox.prune(new Date(now.getTime() - this.settings.retentionDays * 86_400_000));
  }

  async stop(): Promise<void> {
    clearInterval(this.pruning);
    await this.dispatcher.stop();
    await this.hub.stop();
  }
}
