import { describe, expect, it } from 'vitest';
import { canonicalEvent, chainHash, PROGRESS_SLICE, verifyChain } from '../../src/audit/index.js';
import { events, testAuditLog } from '../helpers/audit.js';
import { createStore, dropAppendOnlyTriggers, storeKinds } from '../helpers/databases.js';

describe.each(storeKinds())('verifyChain on %s', (kind) => {
  it('accepts an empty chain and a fresh one, with checkpoints every N events', async () => {
    const { store } = await createStore(kind);
    const { audit, keys } = testAuditLog(store, 4);
    expect(await verifyChain(store, keys)).toMatchObject({ ok: true, count: 0, headSeq: 0 });
    await audit.record(events(10));
    await audit.record(events(1));
    const checkpoints = await store.db.selectFrom('audit_checkpoints').select('seq').orderBy('seq').execute();
    // A batch of 10 crosses the threshold once: the checkpoint is taken at the end of the batch.
    expect(checkpoints.map((row) => row.seq)).toEqual([10]);
    expect(await verifyChain(store, keys)).toMatchObject({ ok: true, count: 11, headSeq: 11, checkpoints: 1 });
  });

  it('signs the head on demand only when it moved', async () => {
    const { store } = await createStore(kind);
    const { audit, keys } = testAuditLog(store, 1000);
    expect(await audit.checkpoint()).toBeUndefined();
    await audit.record(events(3));
    expect(await audit.checkpoint()).toMatchObject({ seq: 3 });
    expect(await audit.checkpoint()).toBeUndefined();
    expect(await audit.head()).toMatchObject({ seq: 3, checkpointSeq: 3 });
    expect(await verifyChain(store, keys)).toMatchObject({ ok: true, checkpoints: 1 });
  });

  it('checks ranges side by side and catches a break exactly at a range boundary', async () => {
    const { store, database } = await createStore(kind);
    const { audit, keys } = testAuditLog(store, 1000);
    await audit.record(events(25));
    expect(await verifyChain(store, keys, { parallelism: 3 })).toMatchObject({ ok: true, count: 25 });

    // Re-link event 10 (the first of the second range, 10-18) to a made-up predecessor and rebuild
    // everything after it: each range is consistent within itself, only the stitch can see the cut.
    await dropAppendOnlyTriggers(database);
    const rows = await store.db.selectFrom('audit_events').selectAll().where('seq', '>=', 10).orderBy('seq').execute();
    let prev = 'f'.repeat(64);
    for (const row of rows) {
      const hash = chainHash(prev, canonicalEvent(row));
      await store.db.updateTable('audit_events').set({ prev_hash: prev, hash }).where('seq', '=', row.seq).execute();
      prev = hash;
    }
    await store.db.updateTable('audit_head').set({ hash: prev }).execute();
    for (const parallelism of [1, 3]) {
      const report = await verifyChain(store, keys, { parallelism });
      expect(report.problem).toEqual({ seq: 10, reason: 'prev_hash does not match the hash of event 9: the chain was cut or rewritten here' });
      expect(report.count).toBe(9);
    }
  });

  it('names rows slipped in past the head', async () => {
    const { store, database } = await createStore(kind);
    const { audit, keys } = testAuditLog(store, 1000);
    const [last] = (await audit.record(events(5))).slice(-1);
    if (!last) throw new Error('no events');
    await dropAppendOnlyTriggers(database);
    const fields = { ...last, seq: 6, id: 'forged', data: '{}' };
    await store.db.insertInto('audit_events').values({ ...fields, prev_hash: last.hash, hash: chainHash(last.hash, canonicalEvent(fields)) }).execute();
    expect((await verifyChain(store, keys)).problem).toEqual({ seq: 6, reason: 'events after the head (5) were added without moving it' });
  });

  it('reports progress slice by slice, ending at the total, and finds the same first problem', async () => {
    const { store, database } = await createStore(kind);
    const { audit, keys } = testAuditLog(store, 10_000);
    const total = PROGRESS_SLICE * 2 + 500;
    for (let written = 0; written < total; written += 5000) await audit.record(events(Math.min(5000, total - written)));
    const seen: Array<[number, number]> = [];
    const report = await verifyChain(store, keys, { parallelism: 1, onProgress: (checked, of) => seen.push([checked, of]) });
    expect(report).toMatchObject({ ok: true, count: total, checkpoints: 4 });
    expect(seen).toEqual([
      [0, total],
      [PROGRESS_SLICE, total],
      [PROGRESS_SLICE * 2, total],
      [total, total],
    ]);

    await dropAppendOnlyTriggers(database);
    await store.db.updateTable('audit_events').set({ data: '{"index":-1}' }).where('seq', '=', PROGRESS_SLICE + 7).execute();
    const broken = await verifyChain(store, keys, { parallelism: 1, onProgress: () => undefined });
    expect(broken.problem).toEqual({ seq: PROGRESS_SLICE + 7, reason: "hash does not match the event's content: the row was changed" });
    expect(broken).toEqual({ ...(await verifyChain(store, keys)), durationMs: broken.durationMs });
  });
});
