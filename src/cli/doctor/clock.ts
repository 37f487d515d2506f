import { sql } from 'kysely';
import type { Store } from '../../store/index.js';
import { fail, ok, skip, warn, type Finding } from './finding.js';

/** Within this much (about a round trip and a rounding) the clocks agree. */
const AGREE_MS = 1_000;
/** Beyond this, token lifetimes and expiries go wrong: a token minted here may be expired, or not yet valid, elsewhere. */
const BROKEN_MS = 30_000;

const FIX = 'keep this machine and the database server in time with NTP (chrony or systemd-timesyncd), then check again';

/** How far this machine's clock is from the database server's: PostgreSQL has its own, SQLite shares this one. */
export async function clockFinding(store: Store): Promise<Finding> {
  if (store.dialect === 'sqlite') return skip('clock', 'SQLite runs on this machine and shares its clock');
  const before = Date.now();
  const { rows } = await sql<{ ms: number }>`select (extract(epoch from clock_timestamp()) * 1000)::float8 as ms`.execute(store.db);
  const after = Date.now();
  // The database read its clock somewhere within the round trip: compare with the middle of it.
  const skew = Math.round(Number(rows[0]?.ms) - (before + after) / 2);
  const text = `${skew === 0 ? 'this machine is in step with the database' : `this machine is ${Math.abs(skew)} ms ${skew > 0 ? 'behind' : 'ahead of'} the database`} (round trip ${after - before} ms)`;
  if (Math.abs(skew) <= AGREE_MS + (after - before) / 2) return ok('clock', text);
  if (Math.abs(skew) <= BROKEN_MS) return warn('clock', text, FIX);
  return fail('clock', text, FIX);
}
