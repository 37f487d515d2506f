import { createParser } from 'eventsource-parser';
import { AirlockError } from '../errors.js';
import type { DomainEvent } from './types.js';

/**
 * Follows GET /v1/events: every event to `onEvent`, reconnecting with Last-Event-ID after a drop, until
 * `signal` aborts. `credential` is asked before each connection (an access token may have been renewed).
 */
export async function followEvents(options: {
  url: string;
  credential: () => Promise<string | undefined>;
  onEvent: (event: DomainEvent) => void;
  signal: AbortSignal;
  after?: number;
  types?: readonly string[];
  onConnected?: () => void;
}): Promise<void> {
  let lastId = options.after;
  while (!options.signal.aborted) {
    const query = new URLSearchParams();
    if (lastId !== undefined) query.set('after', String(lastId));
    if (options.types?.length) query.set('types', options.types.join(','));
    const credential = await options.credential();
    let response: Response;
    try {
      response = await fetch(`${options.url}/v1/events?${query}`, {
        headers: { accept: 'text/event-stream', ...(credential ? { authorization: `Bearer ${credential}` } : {}) },
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      void error;
      continue;
    }
    if (response.status === 401 || response.status === 403 || response.status === 400) {
      const body = (await response.json().catch(() => ({}))) as { code?: string; detail?: string };
      throw new AirlockError(body.code ?? 'events_refused', body.detail ?? `the server refused the event stream (${response.status})`);
    }
    if (!response.ok || !response.body) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    options.onConnected?.();
    const parser = createParser({
      onEvent: (message) => {
        if (!message.id || !message.event) return;
        lastId = Number(message.id);
        options.onEvent(JSON.parse(message.data) as DomainEvent);
      },
    });
    try {
      for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) parser.feed(chunk);
    } catch {
      // dropped or aborted: reconnect unless aborted
    }
  }
}
