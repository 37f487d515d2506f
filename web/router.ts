import { useEffect, useState } from 'preact/hooks';

/** The console lives under /app; its pages are paths below it, handled here without reloads. */
export const BASE = '/app';

const listeners = new Set<() => void>();

function notify(): void {
  for (const listener of listeners) listener();
}

window.addEventListener('popstate', notify);

/** Goes to a console path ("/inbox", "/requests/ID?x=1"), adding a history entry unless `replace`. */
export function navigate(path: string, replace = false): void {
  const url = `${BASE}${path}`;
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  notify();
}

/** The current console path (below /app, without the query) and its query parameters; re-renders on change. */
export function useLocation(): { path: string; params: URLSearchParams } {
  const read = () => ({ path: location.pathname.slice(BASE.length).replace(/\/+$/, '') || '/', search: location.search });
  const [current, setCurrent] = useState(read);
  useEffect(() => {
    const update = () => setCurrent(read());
    listeners.add(update);
    return () => listeners.delete(update);
  }, []);
  return { path: current.path, params: new URLSearchParams(current.search) };
}

/** Matches "/requests/:id" against a path: the parameters, or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const have = path.split('/');
  if (want.length !== have.length) return undefined;
  const params: Record<string, string> = {};
  for (let index = 0; index < want.length; index += 1) {
    const part = want[index] as string;
    const value = have[index] as string;
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(value);
    else if (part !== value) return undefined;
  }
  return params;
}

/** A link to a console path that navigates without a reload (modified clicks open normally). */
export function linkProps(path: string): { href: string; onClick: (event: MouseEvent) => void } {
  return {
    href: `${BASE}${path}`,
    onClick: (event: MouseEvent) => {
      if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      navigate(path);
    },
  };
}
