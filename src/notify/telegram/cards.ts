import type { Approvals, ApprovalView } from '../../approvals/index.js';
import type { Store } from '../../store/index.js';
import { requestCard, type Names } from './format.js';

export interface Card {
  readonly view: ApprovalView;
  /** HTML (Telegram's parse mode). */
  readonly text: string;
  /** Still waiting: the card carries the Approve / Reject buttons. */
  readonly pending: boolean;
}

/** A request as a Telegram card, read as it stands now (so every edit shows the newest state). */
export class Cards {
  constructor(
    private readonly store: Store,
    private readonly approvals: Approvals,
  ) {}

  async of(id: string): Promise<Card> {
    const view = await this.approvals.get(id);
    const ids = [view.requested_by, ...(view.decided_by ? [view.decided_by] : [])];
    const [users, row, execution] = await Promise.all([
      this.store.db.selectFrom('users').select(['id', 'username']).where('id', 'in', ids).execute(),
      this.store.db.selectFrom('approvals').select('instruction').where('id', '=', id).executeTakeFirst(),
      view.status === 'EXECUTED'
        ? this.store.db.selectFrom('executions').selectAll().where('approval_id', '=', id).orderBy('started_at', 'desc').limit(1).executeTakeFirst()
        : Promise.resolve(undefined),
    ]);
    const names: Names = Object.fromEntries(users.map((user) => [user.id, user.username]));
    const text = requestCard(view, { names, ...(row ? { instruction: row.instruction } : {}), ...(execution ? { execution } : {}) });
    return { view, text, pending: view.status === 'PENDING' };
  }
}
