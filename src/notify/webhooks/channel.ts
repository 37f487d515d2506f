import type { Kysely } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { messageOf } from '../../errors.js';
import { PermanentFailure, type Channel, type DomainEvent } from '../../events/index.js';
import type { SecretBox } from '../../identity/index.js';
import type { Database, Store } from '../../store/index.js';
import { VERSION } from '../../version.js';
import { bodyOf } from './format.js';
import type { WebhookFormat } from './schema.js';

/** How long one delivery may take, answer included. */
export const SEND_TIMEOUT_MS = 10_000;
/** At most this much of a refusal's body goes into the attempt's error. */
const ERROR_BODY_CHARS = 200;

/** Whether a subscription's event list takes this event type. */
export function subscribed(events: readonly string[], type: string): boolean {
  return events.includes('*') || events.includes(type);
}

/** A failed attempt worth another try (a 5xx, 408, 429, a redirect); the dispatcher records its status. */
class RetryableFailure extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

/** The URL as error messages name it: scheme, host and port (a path may hold a token, as Slack's do). */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the webhook URL';
  }
}

/** The start of an answer's body, for the attempt's error; never more than a few KB are read. */
async function snippetOf(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    while (text.length < ERROR_BODY_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
  } catch {
    // the body broke off: what arrived is enough
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const trimmed = text.replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
  return trimmed ? `: ${trimmed}` : '';
}

/** Why a request never got an answer, in a few words (fetch itself only says "fetch failed"). */
function networkError(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${SEND_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? messageOf(error);
}

/**
 * The `webhook` delivery channel: each enabled subscription whose event types take an event is a
 * destination; a delivery is one signed POST (Standard Webhooks: `webhook-id` is the delivery id, the
 * consumer's idempotency key, stable across attempts). 2xx is delivered; 408, 429, 5xx, redirects and
 * network errors are retried; any other 4xx is permanent (dead at once).
 */
export class WebhookChannel implements Channel {
  readonly name = 'webhook';

  constructor(private readonly deps: { readonly store: Store; readonly box: SecretBox }) {}

  async destinations(event: DomainEvent, db: Kysely<Database>): Promise<string[]> {
    const rows = await db.selectFrom('webhook_subscriptions').select(['id', 'events']).where('disabled_at', 'is', null).orderBy('id').execute();
    return rows.filter((row) => subscribed(JSON.parse(row.events) as string[], event.type)).map((row) => row.id);
  }

  async send(event: DomainEvent, destination: string, delivery: { readonly id: string; readonly attempt: number }): Promise<{ statusCode?: number }> {
    const subscription = await this.deps.store.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', destination).executeTakeFirst();
    if (!subscription) throw new PermanentFailure(`webhook ${destination} does not exist`);
    if (subscription.disabled_at) throw new PermanentFailure(`webhook ${destination} was removed at ${subscription.disabled_at}`);
    const payload = bodyOf(subscription.format as WebhookFormat, event);
    // Signed at each attempt: receivers refuse timestamps more than a few minutes old.
    const timestamp = new Date();
    const signature = new Webhook(this.deps.box.open(subscription.secret_box)).sign(delivery.id, timestamp, payload);
    const origin = originOf(subscription.url);
    let response: Response;
    try {
      response = await fetch(subscription.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `airlock/${VERSION}`,
          'webhook-id': delivery.id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body: payload,
        // A redirect is not followed: the subscription names where events may go.
        redirect: 'manual',
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
    } catch (error) {
      throw new RetryableFailure(`POST ${origin} failed: ${networkError(error)}`);
    }
    const status = response.status;
    if (status >= 200 && status < 300) {
      await response.body?.cancel().catch(() => undefined);
      return { statusCode: status };
    }
    const message = `POST ${origin} answered ${status}${await snippetOf(response)}`;
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw new PermanentFailure(message, status);
    throw new RetryableFailure(message, status);
  }
}
