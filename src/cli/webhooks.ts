import { InvalidArgumentError, Option, type Command } from 'commander';
import { AirlockError, isAirlockError } from '../errors.js';
import type { DeliveryCounts, DeliveryView, WebhookView } from '../notify/webhooks/index.js';
import { DELIVERY_STATUSES, FORMATS } from '../notify/webhooks/choices.js';
import { ApiClient, withClientOptions, type ClientFlags } from './api.js';
import { withJson, type JsonShape } from './json-doc.js';
import { wholeNumber } from './options.js';
import { print, printJson, statusColor, table } from './output.js';

const WEBHOOK_FIELDS = ['id', 'url', 'events', 'format', 'description', 'status', 'created_by', 'created_at', 'removed_at'];
const WEBHOOK_JSON: JsonShape = { shape: 'object', fields: WEBHOOK_FIELDS };

function eventsOption(value: string): string[] {
  const events = value.split(',').map((event) => event.trim()).filter(Boolean);
  if (events.length === 0) throw new InvalidArgumentError('name at least one event type, or *');
  return events;
}

/** Creates the subscription; a refusal names what was wrong with each field. */
async function create(client: ApiClient, body: Record<string, unknown>): Promise<{ webhook: WebhookView; secret: string }> {
  try {
    return (await client.call('POST', '/v1/webhooks', { body })) as { webhook: WebhookView; secret: string };
  } catch (error) {
    const errors = isAirlockError(error) ? (error.details?.errors as Array<{ path: string; message: string }> | undefined) : undefined;
    if (!isAirlockError(error) || !Array.isArray(errors)) throw error;
    throw new AirlockError(error.code, `${error.message}: ${errors.map((problem) => `${problem.path.replace(/^\//, '') || 'body'}: ${problem.message}`).join('; ')}`, { status: error.status });
  }
}

function path(id: string, rest = ''): string {
  return `/v1/webhooks/${encodeURIComponent(id)}${rest}`;
}

function describeDelivery(delivery: DeliveryView): string[] {
  const when = delivery.status === 'delivered' ? ` at ${delivery.delivered_at}` : delivery.status === 'pending' ? `, next attempt ${delivery.next_attempt_at}` : '';
  const lines = [`${delivery.id}  #${delivery.event_seq} ${(delivery.event_type ?? '?').padEnd(18)}  ${statusColor(delivery.status.toUpperCase())}${when}  (${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'})`];
  for (const attempt of delivery.history) {
    lines.push(`    ${String(attempt.attempt).padStart(2)}  ${attempt.at}  ${attempt.outcome.padEnd(9)}  ${attempt.status_code ?? '---'}  ${attempt.duration_ms} ms${attempt.error ? `  ${attempt.error}` : ''}`);
  }
  return lines;
}

/** `airlock webhooks …`: subscriptions managed through the running server (admin scope). */
export function registerWebhookCommands(program: Command): void {
  const webhooks = program.command('webhooks').description('signed webhook subscriptions: add, list, show, remove, deliveries, redrive (admin)');

  withJson(withClientOptions(webhooks.command('add')), { shape: 'object', fields: ['webhook', 'secret'], note: `webhook has ${WEBHOOK_FIELDS.join(', ')}; secret is shown only now` })
    .description('subscribe a URL to events; prints the signing secret once')
    .argument('<url>', 'http:// or https:// URL that receives a POST per event')
    .option('--events <types>', 'comma-separated event types (default: *, every type)', eventsOption)
    .addOption(new Option('--format <format>', 'standard (signed JSON envelope) or slack (an incoming-webhook text line)').choices(FORMATS).default('standard'))
    .option('--description <text>', 'what the subscription is for')
    .addHelpText(
      'after',
      '\nExamples:\n  airlock webhooks add https://ci.example.com/airlock --events request.created,request.decided\n  airlock webhooks add https://hooks.slack.com/services/T…/B…/… --format slack --events request.created',
    )
    .action(async (url: string, flags: ClientFlags & { events?: string[]; format: string; description?: string; json?: boolean }) => {
      const body = { url, format: flags.format, ...(flags.events ? { events: flags.events } : {}), ...(flags.description ? { description: flags.description } : {}) };
      const created = await create(new ApiClient(flags), body);
      if (flags.json) return printJson({ webhook: created.webhook, secret: created.secret });
      print(`webhook ${created.webhook.id}: ${created.webhook.format} deliveries of ${created.webhook.events.join(', ')} to ${created.webhook.url}`);
      print(`secret (shown only now, give it to the receiver to verify signatures): ${created.secret}`);
    });

  withJson(withClientOptions(webhooks.command('list')), { ...WEBHOOK_JSON, shape: 'array' })
    .description('list the active subscriptions (never their secrets)')
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      const { webhooks: list } = (await new ApiClient(flags).call('GET', '/v1/webhooks')) as { webhooks: WebhookView[] };
      if (flags.json) return printJson(list);
      if (list.length === 0) return print('no webhooks');
      const lines = table(list, [
        { header: 'ID', value: (webhook) => webhook.id },
        { header: 'FORMAT', value: (webhook) => webhook.format },
        { header: 'EVENTS', value: (webhook) => webhook.events.join(',') },
        { header: 'URL', value: (webhook) => webhook.url },
        { header: 'DESCRIPTION', value: (webhook) => `${webhook.description ? `"${webhook.description}"` : ''}${webhook.removed_at ? `  REMOVED ${webhook.removed_at}` : ''}` },
      ]);
      for (const line of lines) print(line);
    });

  withJson(withClientOptions(webhooks.command('show')), { shape: 'object', fields: ['webhook', 'deliveries'], note: `webhook has ${WEBHOOK_FIELDS.join(', ')}; deliveries counts pending, delivered and dead` })
    .description('show one subscription and how many of its deliveries are pending, delivered and dead')
    .argument('<id>')
    .action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
      const shown = (await new ApiClient(flags).call('GET', path(id))) as { webhook: WebhookView; deliveries: DeliveryCounts };
      if (flags.json) return printJson(shown);
      const { webhook, deliveries } = shown;
      print(`webhook ${webhook.id}: ${statusColor(webhook.status.toUpperCase())}${webhook.removed_at ? ` (removed ${webhook.removed_at})` : ''}`);
      print(`  url          ${webhook.url}`);
      print(`  events       ${webhook.events.join(', ')}`);
      print(`  format       ${webhook.format}`);
      if (webhook.description) print(`  description  ${webhook.description}`);
      print(`  created      ${webhook.created_at} by ${webhook.created_by}`);
      print(`  deliveries   ${deliveries.pending} pending, ${deliveries.delivered} delivered, ${deliveries.dead} dead`);
    });

  withJson(withClientOptions(webhooks.command('remove')), WEBHOOK_JSON, 'print the removed subscription as JSON')
    .description('remove a subscription: nothing more is sent to it; its deliveries stay readable')
    .argument('<id>')
    .action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
      const { webhook } = (await new ApiClient(flags).call('DELETE', path(id))) as { webhook: WebhookView };
      if (flags.json) printJson(webhook);
      else print(`webhook ${webhook.id} removed`);
    });

  withJson(withClientOptions(webhooks.command('deliveries')), {
    shape: 'array',
    fields: ['id', 'webhook_id', 'event_seq', 'event_type', 'status', 'attempts', 'next_attempt_at', 'last_error', 'created_at', 'delivered_at', 'history'],
    note: 'history lists every attempt: attempt, at, outcome, status_code, duration_ms, error',
  })
    .description('the deliveries of a subscription, newest first, with every attempt')
    .argument('<id>')
    .addOption(new Option('-s, --status <status>', 'only pending, delivered or dead ones').choices(DELIVERY_STATUSES))
    .option('-n, --limit <count>', 'at most this many', wholeNumber(1), 50)
    .action(async (id: string, flags: ClientFlags & { status?: string; limit: number; json?: boolean }) => {
      const query = new URLSearchParams({ limit: String(flags.limit), ...(flags.status ? { status: flags.status } : {}) });
      const { deliveries } = (await new ApiClient(flags).call('GET', path(id, `/deliveries?${query}`))) as { deliveries: DeliveryView[] };
      if (flags.json) return printJson(deliveries);
      for (const delivery of deliveries) for (const line of describeDelivery(delivery)) print(line);
      if (deliveries.length === 0) print('no deliveries');
    });

  withJson(withClientOptions(webhooks.command('redrive')), { shape: 'object', fields: ['redriven'], note: 'redriven counts the deliveries sent again' })
    .description('send dead deliveries again (each gets one more attempt): all of a subscription, or one')
    .argument('<id>')
    .option('--delivery <id>', 'only this delivery')
    .action(async (id: string, flags: ClientFlags & { delivery?: string; json?: boolean }) => {
      const result = (await new ApiClient(flags).call('POST', path(id, '/redrive'), flags.delivery ? { body: { delivery_id: flags.delivery } } : {})) as { redriven: number };
      if (flags.json) printJson(result);
      else print(`${result.redriven} dead deliver${result.redriven === 1 ? 'y' : 'ies'} of webhook ${id} sent again`);
    });
}
