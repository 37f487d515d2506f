import { GrammyError, HttpError, type Api } from 'grammy';
import type { Kysely } from 'kysely';
import { POLICY_ACTOR } from '../../approvals/index.js';
import { AirlockError } from '../../errors.js';
import { PermanentFailure, type Channel, type DomainEvent } from '../../events/index.js';
import { hasScope, scopesOfRole, type Role } from '../../identity/index.js';
import type { Store } from '../../store/index.js';
import type { Database } from '../../store/tables.js';
import type { Cards } from './cards.js';
import { NO_KEYBOARD, decisionKeyboard } from './format.js';

export const CHANNEL_NAME = 'telegram';

/** Events that end (or finish) a request: its messages are edited to show how. */
const OUTCOMES = new Set(['request.decided', 'request.expired', 'execution.finished']);

/** The request an event is about: its subject, or for an execution the request it ran. */
export async function approvalIdOf(event: DomainEvent, db: Kysely<Database>): Promise<string | undefined> {
  if (event.subject?.type === 'approval') return event.subject.id;
  if (typeof event.data.approval_id === 'string') return event.data.approval_id;
  if (event.subject?.type !== 'execution') return undefined;
  const execution = await db.selectFrom('executions').select('approval_id').where('id', '=', event.subject.id).executeTakeFirst();
  return execution?.approval_id;
}

/** Whether a role lets its holder decide requests. */
export function mayDecide(role: string): boolean {
  return hasScope(new Set(scopesOfRole(role as Role) ?? []), 'approvals:decide');
}

/**
 * A failed Bot API call as the dispatcher should see it: Telegram's refusals (a chat that does not
 * exist, a bot that was blocked, a message that is gone) are permanent; rate limits, Telegram's own
 * errors, an unauthorised token (fixable by configuration, then re-driven) and the network are retried.
 */
export function deliveryFailure(error: unknown, what: string): Error {
  if (error instanceof GrammyError) {
    const message = `Telegram refused ${what}: ${error.error_code} ${error.description}`;
    if (error.error_code === 429 || error.error_code === 401 || error.error_code >= 500) return Object.assign(new Error(message), { statusCode: error.error_code });
    return new PermanentFailure(message, error.error_code);
  }
  if (error instanceof HttpError) {
    const code = (error.error as { code?: unknown } | undefined)?.code;
    return new Error(`${what}: could not reach Telegram${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The Telegram delivery channel. A request that waits for people is announced, with Approve / Reject
 * buttons, in every allowlisted chat whose user may decide it (never the requester's); once it is
 * decided, expires or has run, each of those messages is edited to show the outcome, without buttons.
 */
export class TelegramChannel implements Channel {
  readonly name = CHANNEL_NAME;

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly cards: Cards;
      readonly api: Api;
      /** Chat id → Airlock username: the allowlist. */
      readonly chats: Readonly<Record<string, string>>;
    },
  ) {}

  async destinations(event: DomainEvent, db: Kysely<Database>): Promise<string[]> {
    if (Object.keys(this.deps.chats).length === 0) return [];
    if (event.type !== 'request.created' && (!OUTCOMES.has(event.type) || (event.type === 'request.decided' && event.data.final !== true))) return [];
    const id = await approvalIdOf(event, db);
    if (!id) return [];
    if (event.type === 'request.created') {
      const row = await db.selectFrom('approvals').select(['decided_by', 'requested_by']).where('id', '=', id).executeTakeFirst();
      // Approved by the policy at once: nobody is asked.
      if (!row || row.decided_by === POLICY_ACTOR) return [];
      return this.deciders(db, row.requested_by);
    }
    const row = await db.selectFrom('approvals').select(['decided_by', 'requested_by']).where('id', '=', id).executeTakeFirst();
    if (!row || row.decided_by === POLICY_ACTOR) return [];
    // The chats it was announced in, and those it is being announced in (fanned out in the same batch
    // as this event, so not yet in the deliveries table): the allowlisted chats that may decide it.
    const sent = await db.selectFrom('telegram_messages').select('chat_id').where('approval_id', '=', id).execute();
    const chats = new Set([...sent.map((message) => message.chat_id), ...(await this.deciders(db, row.requested_by))]);
    return [...chats].filter((chat) => this.deps.chats[chat] !== undefined);
  }

  /** Allowlisted chats of active users who may decide, other than the requester. */
  private async deciders(db: Kysely<Database>, requesterId: string): Promise<string[]> {
    const usernames = [...new Set(Object.values(this.deps.chats))];
    const users = await db.selectFrom('users').select(['id', 'username', 'role']).where('username', 'in', usernames).where('status', '=', 'active').execute();
    const allowed = new Set(users.filter((user) => user.id !== requesterId && mayDecide(user.role)).map((user) => user.username));
    return Object.entries(this.deps.chats)
      .filter(([, username]) => allowed.has(username))
      .map(([chat]) => chat);
  }

  async send(event: DomainEvent, chat: string): Promise<{ statusCode?: number }> {
    const id = await approvalIdOf(event, this.deps.store.db);
    if (!id) throw new PermanentFailure(`event ${event.seq} names no request`);
    if (event.type === 'request.created') await this.announce(id, chat);
    else await this.showOutcome(id, chat, event);
    return { statusCode: 200 };
  }

  private async card(id: string) {
    try {
      return await this.deps.cards.of(id);
    } catch (error) {
      if (error instanceof AirlockError && error.code === 'approval_not_found') throw new PermanentFailure(error.message, 404);
      throw error;
    }
  }

  private async announce(id: string, chat: string): Promise<void> {
    const card = await this.card(id);
    let messageId: number;
    try {
      const message = await this.deps.api.sendMessage(chat, card.text, {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        ...(card.pending ? { reply_markup: decisionKeyboard(id) } : {}),
      });
      messageId = message.message_id;
    } catch (error) {
      throw deliveryFailure(error, `the announcement of ${id} in chat ${chat}`);
    }
    const now = new Date().toISOString();
    await this.deps.store.db
      .insertInto('telegram_messages')
      .values({ approval_id: id, chat_id: chat, message_id: messageId, created_at: now })
      .onConflict((oc) => oc.columns(['approval_id', 'chat_id']).doUpdateSet({ message_id: messageId, created_at: now }))
      .execute();
  }

  private async showOutcome(id: string, chat: string, event: DomainEvent): Promise<void> {
    const message = await this.deps.store.db.selectFrom('telegram_messages').select('message_id').where('approval_id', '=', id).where('chat_id', '=', chat).executeTakeFirst();
    if (!message) {
      // The announcement may still be on its way (same batch, or being retried): try again later.
      if (await this.announcementPending(id, chat)) throw new Error(`the announcement of ${id} in chat ${chat} is not sent yet`);
      throw new PermanentFailure(`request ${id} was never announced in chat ${chat} (${event.type} has nothing to edit)`);
    }
    const card = await this.card(id);
    try {
      await this.deps.api.editMessageText(chat, message.message_id, card.text, {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        reply_markup: card.pending ? decisionKeyboard(id) : NO_KEYBOARD,
      });
    } catch (error) {
      // Another edit already showed this state (outcomes are rendered from the request as it stands).
      if (error instanceof GrammyError && /message is not modified/i.test(error.description)) return;
      throw deliveryFailure(error, `the edit of ${id} in chat ${chat}`);
    }
  }

  private async announcementPending(id: string, chat: string): Promise<boolean> {
    const created = await this.deps.store.db
      .selectFrom('audit_events')
      .select('seq')
      .where('subject_type', '=', 'approval')
      .where('subject_id', '=', id)
      .where('action', '=', 'approval.requested')
      .executeTakeFirst();
    if (!created) return false;
    const delivery = await this.deps.store.db
      .selectFrom('deliveries')
      .select('status')
      .where('channel', '=', CHANNEL_NAME)
      .where('destination', '=', chat)
      .where('event_seq', '=', Number(created.seq))
      .executeTakeFirst();
    return delivery?.status === 'pending';
  }
}
