/** Formatting for people: times, durations, command lines. */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "12 s", "4 min 10 s", "3 h 5 min", "2 d 4 h". */
export function duration(ms: number): string {
  const value = Math.max(0, ms);
  if (value < SECOND) return `${Math.round(value)} ms`;
  if (value < MINUTE) return `${Math.floor(value / SECOND)} s`;
  if (value < HOUR) {
    const seconds = Math.floor((value % MINUTE) / SECOND);
    return `${Math.floor(value / MINUTE)} min${seconds ? ` ${seconds} s` : ''}`;
  }
  if (value < DAY) {
    const minutes = Math.floor((value % HOUR) / MINUTE);
    return `${Math.floor(value / HOUR)} h${minutes ? ` ${minutes} min` : ''}`;
  }
  const hours = Math.floor((value % DAY) / HOUR);
  return `${Math.floor(value / DAY)} d${hours ? ` ${hours} h` : ''}`;
}

/** An axis of durations: a round top in seconds, minutes or hours, and how to label its ticks. */
export function durationAxis(maxSeconds: number): { top: number; label: (seconds: number) => string } {
  const nice = (value: number) => {
    if (value <= 0) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  };
  if (maxSeconds < 120) return { top: nice(maxSeconds), label: (value) => `${Math.round(value)} s` };
  if (maxSeconds < 7200) return { top: nice(maxSeconds / 60) * 60, label: (value) => `${Math.round(value / 60)} min` };
  return { top: nice(maxSeconds / 3600) * 3600, label: (value) => `${Math.round(value / 3600)} h` };
}

/** "just now", "3 min ago". */
export function ago(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  return ms < 5 * SECOND ? 'just now' : `${duration(ms)} ago`;
}

/** "in 4 min 10 s", or "expired". */
export function remaining(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  return ms <= 0 ? 'expired' : `in ${duration(ms)}`;
}

/** Seconds as "42 s" / "3 min 5 s", or "–". */
export function seconds(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : value < 60 ? `${Math.round(value)} s` : duration(value * 1000);
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const HOUR_ONLY = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const DAY_HOUR = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit' });

export function dateTime(iso: string): string {
  return DATE_TIME.format(new Date(iso));
}

export function hourLabel(iso: string, long: boolean): string {
  return (long ? DAY_HOUR : HOUR_ONLY).format(new Date(iso));
}

/** An argument as a POSIX shell would need it written to mean exactly this one argument. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function count(value: number): string {
  return value.toLocaleString();
}

/** Audit actions as words. */
const ACTIONS: Readonly<Record<string, string>> = {
  'approval.requested': 'Requested',
  'approval.decided': 'Decision',
  'approval.expired': 'Expired',
  'approval.refused': 'Request refused',
  'approval.decision_refused': 'Decision refused',
  'token.minted': 'Capability token minted',
  'token.refused': 'Token refused',
  'execution.started': 'Execution started',
  'execution.finished': 'Execution finished',
  'execution.interrupted': 'Execution interrupted',
  'execution.refused': 'Execution refused',
  'challenge.consumed': 'Step-up challenge used',
  'policy.denied': 'Denied by policy',
  'policy.shadow_denied': 'Would be denied by policy (shadow)',
};

export function actionLabel(action: string): string {
  return ACTIONS[action] ?? action;
}

/** Short JSON for a table cell. */
export function compactJson(value: unknown, max = 160): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
