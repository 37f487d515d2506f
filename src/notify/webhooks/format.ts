import type { DomainEvent } from '../../events/index.js';
import type { WebhookFormat } from './schema.js';

/** The Standard Webhooks envelope: the event type, its time, and the whole event as data. */
export function standardBody(event: DomainEvent): string {
  return JSON.stringify({ type: event.type, timestamp: event.time, data: event });
}

/** Slack's mrkdwn treats these three as control characters. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** What matters of each event type, in a few words. */
function factsOf(event: DomainEvent): string | undefined {
  const data = event.data;
  switch (event.type) {
    case 'request.created':
      return text(data.command);
    case 'request.decided': {
      const count = data.final === false ? ` (${String(data.approvals)} of ${String(data.required)})` : '';
      const reason = text(data.reason);
      return `${String(data.decision ?? 'decided')}${count}${reason ? `: ${reason}` : ''}`;
    }
    case 'request.expired':
      return `expired (was ${String(data.was ?? 'PENDING')})`;
    case 'token.minted':
      return text(data.expires_at) ? `valid until ${String(data.expires_at)}` : undefined;
    case 'execution.started':
      return text(data.op);
    case 'execution.finished':
      return `${String(data.status ?? 'finished')}, exit ${String(data.exit_code ?? '-')}${text(data.error) ? `: ${String(data.error)}` : ''}`;
    case 'challenge.created':
      return text(data.purpose);
    default:
      return undefined;
  }
}

/**
 * One line a person reads in a chat: the type, the request it concerns, where, the risk, and the
 * command or decision, e.g. `request.created · request 0190… · dev/local · HIGH · apt-get install htop · by key:…`.
 */
export function slackLine(event: DomainEvent): string {
  const requestId = event.subject?.type === 'approval' ? event.subject.id : typeof event.data.approval_id === 'string' ? event.data.approval_id : undefined;
  const parts = [
    event.type,
    requestId ? `request ${requestId}` : event.subject ? `${event.subject.type} ${event.subject.id}` : undefined,
    event.environment ? `${event.environment}/${event.target ?? '-'}` : undefined,
    text(event.data.risk_level),
    factsOf(event),
    `by ${event.actor}`,
  ].filter((part): part is string => part !== undefined);
  return parts
    .map((part) => part.replace(/\s+/g, ' ').trim())
    .map((part) => escapeSlack(part.length > 500 ? `${part.slice(0, 500)}…` : part))
    .join(' · ');
}

/** The body a subscription of this format receives for an event. */
export function bodyOf(format: WebhookFormat, event: DomainEvent): string {
  return format === 'slack' ? JSON.stringify({ text: slackLine(event) }) : standardBody(event);
}
