import { useEffect, useRef, useState } from 'preact/hooks';
import type { LiveEvent } from './types.js';

/** The domain events the console follows on GET /v1/events (Server-Sent Events, with the session cookie). */
const TYPES = ['request.created', 'request.decided', 'request.expired', 'token.minted', 'execution.started', 'execution.finished'] as const;

export type LiveState = 'off' | 'connecting' | 'live' | 'offline';

let source: EventSource | undefined;
let state: LiveState = 'off';
let lastSeq: number | undefined;
let retry: ReturnType<typeof setTimeout> | undefined;
let stillLoggedIn: () => Promise<boolean> = async () => true;
const listeners = new Set<(event: LiveEvent) => void>();
const stateListeners = new Set<(state: LiveState) => void>();

function setState(next: LiveState): void {
  if (next === state) return;
  state = next;
  for (const listener of stateListeners) listener(state);
}

function open(): void {
  // A fresh stream resumes after the last event seen; EventSource itself resumes with Last-Event-ID.
  const stream = new EventSource(lastSeq === undefined ? '/v1/events' : `/v1/events?after=${lastSeq}`);
  source = stream;
  setState('connecting');
  stream.onopen = () => setState('live');
  stream.onerror = () => {
    if (stream.readyState === EventSource.CLOSED) {
      // The server refused the stream: if the session ended, stop; otherwise try again later.
      setState('offline');
      source = undefined;
      retry = setTimeout(() => {
        retry = undefined;
        stillLoggedIn()
          .then((yes) => (yes ? open() : stopLive()))
          .catch(() => (retry = setTimeout(open, 5000)));
      }, 5000);
    } else {
      setState('connecting');
    }
  };
  for (const type of TYPES) {
    stream.addEventListener(type, (message: MessageEvent<string>) => {
      const event = JSON.parse(message.data) as LiveEvent;
      lastSeq = event.seq;
      for (const listener of listeners) listener(event);
    });
  }
}

/** How the stream learns, after the server refused it, whether the session is still there. */
export function checkSessionWith(check: () => Promise<boolean>): void {
  stillLoggedIn = check;
}

/** Opens the stream (once). */
export function startLive(): void {
  if (source || retry) return;
  open();
}

/** Closes the stream (before logging out, so no refused reconnect is attempted). */
export function stopLive(): void {
  clearTimeout(retry);
  retry = undefined;
  source?.close();
  source = undefined;
  lastSeq = undefined;
  setState('off');
}

/** Calls `listener` with every live event while the component is mounted. */
export function useLiveEvents(listener: (event: LiveEvent) => void): void {
  const current = useRef(listener);
  current.current = listener;
  useEffect(() => {
    const forward = (event: LiveEvent) => current.current(event);
    listeners.add(forward);
    return () => listeners.delete(forward);
  }, []);
}

/** The stream's state, for the "live" indicator. */
export function useLiveState(): LiveState {
  const [value, setValue] = useState(state);
  useEffect(() => {
    stateListeners.add(setValue);
    setValue(state);
    return () => stateListeners.delete(setValue);
  }, []);
  return value;
}

/**
 * Runs `refresh` after live events that `wanted` accepts, at most once per `gapMs` (a burst of
 * events makes one request, not one per event).
 */
export function useLiveRefresh(refresh: () => void, wanted: (event: LiveEvent) => boolean = () => true, gapMs = 300): void {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(refresh);
  latest.current = refresh;
  useEffect(() => () => clearTimeout(timer.current), []);
  useLiveEvents((event) => {
    if (!wanted(event) || timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, gapMs);
  });
}
