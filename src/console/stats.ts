import { z } from 'zod';
import { LEVELS, POLICY_ACTOR, STATUSES, type RiskLevel } from '../approvals/index.js';
import type { Store } from '../store/index.js';

export const StatsQuery = z.strictObject({
  /** How many hours back, the current hour included. */
  hours: z.coerce.number().int().min(1).max(24 * 31).default(24),
});

export interface HourStats {
  /** The start of the hour (UTC). */
  readonly hour: string;
  /** Requests created in this hour, by risk level. */
  readonly requests: Readonly<Record<RiskLevel, number>>;
  /** Requests people decided in this hour (the policy's automatic approvals are not counted). */
  readonly decisions: number;
  readonly median_seconds: number | null;
  readonly p90_seconds: number | null;
}

export interface RequestStats {
  readonly hours: number;
  readonly since: string;
  readonly until: string;
  readonly levels: readonly RiskLevel[];
  readonly totals: {
    readonly requests: number;
    readonly by_level: Readonly<Record<RiskLevel, number>>;
    readonly by_status: Readonly<Record<string, number>>;
    readonly auto_approved: number;
  };
  /** How long people took from request to final decision. */
  readonly decision_latency: { readonly count: number; readonly median_seconds: number | null; readonly p90_seconds: number | null; readonly max_seconds: number | null };
  readonly per_hour: readonly HourStats[];
}

const HOUR = 3_600_000;

function zeroLevels(): Record<RiskLevel, number> {
  return Object.fromEntries(LEVELS.map((level) => [level, 0])) as Record<RiskLevel, number>;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function round(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}

/** Requests per hour by risk level, and how long people took to decide, over the last `hours` hours. */
export async function requestStats(store: Store, hours: number, now = new Date()): Promise<RequestStats> {
  const firstHour = Math.floor(now.getTime() / HOUR) * HOUR - (hours - 1) * HOUR;
  const since = new Date(firstHour).toISOString();
  const created = await store.db.selectFrom('approvals').select(['created_at', 'risk_level', 'status', 'decided_by']).where('created_at', '>=', since).execute();
  const decided = await store.db
    .selectFrom('approvals')
    .select(['created_at', 'decided_at'])
    .where('decided_at', '>=', since)
    .where('decided_by', 'is not', null)
    .where('decided_by', '!=', POLICY_ACTOR)
    .execute();

  const perHour = Array.from({ length: hours }, (_, index) => ({ hour: new Date(firstHour + index * HOUR).toISOString(), requests: zeroLevels(), latencies: [] as number[] }));
  const slot = (iso: string) => perHour[Math.floor((Date.parse(iso) - firstHour) / HOUR)];
  const byLevel = zeroLevels();
  const byStatus: Record<string, number> = Object.fromEntries(STATUSES.map((status) => [status, 0]));
  let autoApproved = 0;
  for (const row of created) {
    const level = row.risk_level as RiskLevel;
    byLevel[level] = (byLevel[level] ?? 0) + 1;
    byStatus[row.status] = (byStatus[row.status] ?? 0) + 1;
    if (row.decided_by === POLICY_ACTOR) autoApproved += 1;
    const hour = slot(row.created_at);
    if (hour) hour.requests[level] = (hour.requests[level] ?? 0) + 1;
  }
  const all: number[] = [];
  for (const row of decided) {
    if (!row.decided_at) continue;
    const seconds = Math.max(0, (Date.parse(row.decided_at) - Date.parse(row.created_at)) / 1000);
    all.push(seconds);
    slot(row.decided_at)?.latencies.push(seconds);
  }
  all.sort((a, b) => a - b);
  return {
    hours,
    since,
    until: now.toISOString(),
    levels: LEVELS,
    totals: { requests: created.length, by_level: byLevel, by_status: byStatus, auto_approved: autoApproved },
    decision_latency: { count: all.length, median_seconds: round(percentile(all, 50)), p90_seconds: round(percentile(all, 90)), max_seconds: round(all.at(-1) ?? null) },
    per_hour: perHour.map(({ hour, requests, latencies }) => {
      const sorted = latencies.sort((a, b) => a - b);
      return { hour, requests, decisions: sorted.length, median_seconds: round(percentile(sorted, 50)), p90_seconds: round(percentile(sorted, 90)) };
    }),
  };
}
