import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { AirlockApiError, AirlockClientError, abortReason } from './errors.js';
import { linkedSignal } from './signals.js';
import { sleep, type Transport } from './transport.js';
import type { DomainEvent } from './types.js';

/** The body of a response as text chunks, decoded as UTF-8 across chunk boundaries. */
async function* textOf(response: Response): AsyncGenerator<string> {
  if (!response.body) return;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield decoder.decode(value, { stream: true });
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  } finally {
    // A consumer that stops early (or an abort) closes the connection.
    await reader.cancel().catch(() => undefined);
  }
}

/** The lines of an NDJSON answer, each parsed. */
export async function* ndjson<T>(response: Response): AsyncGenerator<T> {
  let pending = '';
  for await (const chunk of textOf(response)) {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) yield JSON.parse(line) as T;
      newline = pending.indexOf('\n');
    }
  }
  if (pending.trim()) yield JSON.parse(pending) as T;
}

export interface EventStreamOptions {
  /** Start after this event seq (events already seen are not sent again); default: only new events. */
  readonly after?: number | undefined;
  /** Only these event types. */
  readonly types?: readonly string[] | undefined;
  /** Ends the stream: the pending `next()` rejects with the abort reason (an AbortError). */
  readonly signal?: AbortSignal | undefined;
  /** Reconnect (with Last-Event-ID, so nothing is missed) when the connection drops; default true. */
  readonly reconnect?: boolean | undefined;
  /** Called each time the stream is connected (first time and after each reconnect). */
  readonly onConnected?: (() => void) | undefined;
}

/** How long to wait before reconnecting; the server's `retry:` field replaces it. */
const DEFAULT_RECONNECT_MS = 2000;
const MAX_RECONNECT_MS = 30_000;

/**
 * GET /v1/events as an async iterator of domain events. After a dropped connection it reconnects with
 * Last-Event-ID, so each event arrives once and none is lost; a refusal (401, 403, 400) ends it with a
 * typed error; an abort ends it with the abort reason.
 */
export async function* eventStream(transport: Transport, options: EventStreamOptions = {}): AsyncGenerator<DomainEvent, void, undefined> {
  const link = linkedSignal(options.signal);
  let lastId = options.after;
  let reconnectMs = DEFAULT_RECONNECT_MS;
  let failures = 0;
  try {
    for (;;) {
      if (link.signal.aborted) throw abortReason(link.signal);
      let response: Response | undefined;
      try {
        response = await transport.send({
          method: 'GET',
          path: '/v1/events',
          query: { types: options.types?.length ? options.types.join(',') : undefined },
          headers: { accept: 'text/event-stream', ...(lastId !== undefined ? { 'last-event-id': String(lastId) } : {}) },
          idempotent: true,
          signal: link.signal,
        });
      } catch (error) {
        if (link.signal.aborted) throw abortReason(link.signal);
        // A refusal will not change by asking again; anything else (server down, 5xx) is waited out.
        if (error instanceof AirlockApiError && error.status < 500 && error.status !== 429) throw error;
        if (options.reconnect === false) throw error;
        failures += 1;
        await sleep(Math.min(MAX_RECONNECT_MS, reconnectMs * 2 ** Math.min(failures - 1, 4)), link.signal);
        continue;
      }
      failures = 0;
      options.onConnected?.();
      const queue: DomainEvent[] = [];
      let bad: unknown;
      const parser = createParser({
        onEvent: (message: EventSourceMessage) => {
          if (!message.id || !message.event) return;
          try {
            queue.push(JSON.parse(message.data) as DomainEvent);
            lastId = Number(message.id);
          } catch (error) {
            bad = error;
          }
        },
        onRetry: (ms: number) => {
          reconnectMs = ms;
        },
      });
      try {
        for await (const chunk of textOf(response)) {
          parser.feed(chunk);
          if (bad !== undefined) throw new AirlockClientError('invalid_event', 'the event stream sent an event that is not JSON', { cause: bad });
          while (queue.length > 0) yield queue.shift() as DomainEvent;
        }
      } catch (error) {
        if (link.signal.aborted) throw abortReason(link.signal);
        if (error instanceof AirlockClientError) throw error;
        // The connection dropped mid-stream: reconnect below.
      }
      if (options.reconnect === false) return;
      await sleep(reconnectMs, link.signal);
    }
  } finally {
    link.release();
    // Ends the connection of a consumer that stopped early.
    link.abort();
  }
}
