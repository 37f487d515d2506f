/** What one check of `airlock doctor` found, and what to do about it. */
export interface Finding {
  /** What was checked: config, store, schema, clock, keys, target web-1, telegram, redis, audit, … */
  readonly check: string;
  /** fail makes doctor exit 1; warn is worth a look; skip says why a check did not run. */
  readonly status: 'ok' | 'warn' | 'fail' | 'skip';
  readonly message: string;
  /** The command or change that fixes it (never for ok). */
  readonly fix?: string;
}

export const ok = (check: string, message: string): Finding => ({ check, status: 'ok', message });
export const warn = (check: string, message: string, fix: string): Finding => ({ check, status: 'warn', message, fix });
export const fail = (check: string, message: string, fix: string): Finding => ({ check, status: 'fail', message, fix });
export const skip = (check: string, message: string): Finding => ({ check, status: 'skip', message });
