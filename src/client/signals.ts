/**
 * A signal that aborts when any of `signals` does (with that signal's reason) or when `abort()` is
 * called; `release()` stops listening to the given signals, so a long-lived one does not collect a
 * listener per call.
 */
export function linkedSignal(...signals: readonly (AbortSignal | undefined)[]): { signal: AbortSignal; abort: () => void; release: () => void } {
  const controller = new AbortController();
  const removers: Array<() => void> = [];
  for (const signal of signals) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const listener = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', listener, { once: true });
    removers.push(() => signal.removeEventListener('abort', listener));
  }
  return { signal: controller.signal, abort: () => controller.abort(), release: () => removers.forEach((remove) => remove()) };
}
