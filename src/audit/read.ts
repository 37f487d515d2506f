import type { Store } from '../store/store.js';
import type { AuditEvent } from './canonical.js';

/** Events with seq > afterSeq, in order, fetched a page at a time so a million rows never sit in memory. */
export async function* readEvents(store: Store, options: { afterSeq?: number; pageSize?: number } = {}): AsyncGenerator<AuditEvent[]> {
  const pageSize = options.pageSize ?? 10_000;
  let after = options.afterSeq ?? 0;
  for (;;) {
    const page = await store.db.selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq').limit(pageSize).execute();
    if (page.length === 0) return;
    yield page;
    after = (page[page.length - 1] as AuditEvent).seq;
    if (page.length < pageSize) return;
  }
}

/** The newest `count` events, oldest first. */
export async function latestEvents(store: Store, count: number): Promise<AuditEvent[]> {
  const rows = await store.db.selectFrom('audit_events').selectAll().orderBy('seq', 'desc').limit(count).execute();
  return rows.reverse();
}
