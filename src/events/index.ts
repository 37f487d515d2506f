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

  constructor(
    readonly outbox: Outbox,
    store: Store,
    settings: { pollMs: number } & Omit<DispatcherOptions, 'log'>,
    channels: readonly Channel[],
    log: (message: string) => void,
  ) {
    this.hub = new EventHub(store, outbox, { pollMs: settings.pollMs, log });
    this.dispatcher = new Dispatcher(store, this.hub, channels, { ...settings, log });
  }

  async start(): Promise<void> {
    await this.hub.start();
    await this.dispatcher.start();
  }

  async stop(): Promise<void> {
    await this.dispatcher.stop();
    await this.hub.stop();
  }
}
