import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/audit/index.js';
import { migrate } from '../../src/store/index.js';
import { events, testAuditLog } from '../helpers/audit.js';
import { createStore, rawSql, storeKinds } from '../helpers/databases.js';

describe.each(storeKinds())('store on %s', (kind) => {
  it('runs migrations once; running them again changes nothing', async () => {
    const { store } = await createStore(kind);
    const again = await migrate(store);
    expect(again.applied).toEqual([]);
    const head = await store.db.selectFrom('audit_head').selectAll().execute();
    expect(head).toHaveLength(1);
    expect(head[0]?.seq).toBe(0);
  });

  it('refuses raw UPDATE and DELETE on audit_events and audit_checkpoints, even as the owner', async () => {
    const { store, database } = await createStore(kind);
    const { audit } = testAuditLog(store, 2);
    await audit.record(events(3));
    await expect(rawSql(database, `update audit_events set actor = 'mallory' where seq = 2`)).rejects.toThrow(/append-only/);
    await expect(rawSql(database, `delete from audit_events where seq = 2`)).rejects.toThrow(/append-only/);
    await expect(rawSql(database, `update audit_checkpoints set hash = 'x'`)).rejects.toThrow(/append-only/);
    await expect(rawSql(database, `delete from audit_checkpoints`)).rejects.toThrow(/append-only/);
    if (kind === 'postgres') await expect(rawSql(database, `truncate audit_events`)).rejects.toThrow(/append-only/);
    const rows = await store.db.selectFrom('audit_events').select(['seq', 'actor']).orderBy('seq').execute();
    expect(rows.map((row) => [row.seq, row.actor])).toEqual([
      [1, 'test'],
      [2, 'test'],
      [3, 'test'],
    ]);
  });

  it('rolls audit events back with the change they record, and runs onCommit only after a commit', async () => {
    const { store } = await createStore(kind);
    const { audit } = testAuditLog(store);
    let committed = 0;
    await expect(
      store.transaction(async (tx) => {
        tx.onCommit(() => (committed += 1));
        await audit.append(tx, events(2));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(committed).toBe(0);
    expect(await audit.head()).toMatchObject({ seq: 0 });
    expect(await store.db.selectFrom('audit_events').select(sql<number>`count(*)`.as('n')).executeTakeFirst()).toMatchObject({ n: 0 });

    await store.transaction(async (tx) => {
      tx.onCommit(() => (committed += 1));
      await audit.append(tx, events(2));
    });
    expect(committed).toBe(1);
    expect(await audit.head()).toMatchObject({ seq: 2 });
  });
  it('keeps concurrent transactions apart: a failing one takes nothing of the others with it, and the chain stays whole', async () => {
    const { store } = await createStore(kind);
    const { audit, keys } = testAuditLog(store, 7);
    const committed: number[] = [];
    const outcomes = await Promise.allSettled(
      Array.from({ length: 24 }, (_, index) =>
        store.transaction(async (tx) => {
          tx.onCommit(() => committed.push(index));
          await audit.append(tx, events(1 + (index % 3), `unit-${index}`));
          if (index % 5 === 2) throw new Error(`unit ${index} failed`);
          return index;
        }),
      ),
    );
    const failed = outcomes.flatMap((outcome, index) => (outcome.status === 'rejected' ? [index] : []));
    expect(failed).toEqual([2, 7, 12, 17, 22]);
    for (const index of failed) expect((outcomes[index] as PromiseRejectedResult).reason).toMatchObject({ message: `unit ${index} failed` });
    const succeeded = outcomes.flatMap((outcome, index) => (outcome.status === 'fulfilled' ? [index] : []));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled').map((outcome) => (outcome as PromiseFulfilledResult<number>).value)).toEqual(succeeded);
    expect([...committed].sort((a, b) => a - b)).toEqual(succeeded);
    const rows = await store.db.selectFrom('audit_events').select(['actor']).orderBy('seq').execute();
    const expected = succeeded.reduce((sum, index) => sum + 1 + (index % 3), 0);
    expect(rows).toHaveLength(expected);
    expect(new Set(rows.map((row) => row.actor))).toEqual(new Set(succeeded.map((index) => `unit-${index}`)));
    expect(await audit.head()).toMatchObject({ seq: expected });
    const report = await verifyChain(store, keys);
    expect(report.problem).toBeUndefined();
    expect(report).toMatchObject({ ok: true, count: expected });
  });
});
