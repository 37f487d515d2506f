import { z } from 'zod';
import { PUBLISHED_TYPES } from '../../events/index.js';
import { DELIVERY_STATUSES, FORMATS } from './choices.js';

export { DELIVERY_STATUSES, FORMATS, type WebhookFormat } from './choices.js';

/** Where deliveries go: http or https only, no credentials in the authority (fetch refuses them). */
const WebhookUrl = z
  .url({ protocol: /^https?$/, error: 'url must be an http:// or https:// URL' })
  .max(2048)
  .refine((url) => {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    return parsed === undefined || (parsed.username === '' && parsed.password === '');
  }, 'url must not carry user:password@ (put a token in its path or query instead)');

/** Event types to deliver: published types, or ["*"] for every one (also what new types will be). */
const EventList = z
  .array(z.enum(['*', ...PUBLISHED_TYPES]))
  .min(1)
  .max(PUBLISHED_TYPES.length + 1)
  .refine((events) => !events.includes('*') || events.length === 1, '"*" means every event type and stands alone')
  .transform((events) => [...new Set(events)].sort());

export const CreateWebhookBody = z.strictObject({
  url: WebhookUrl,
  events: EventList.default(['*']),
  /** standard: the Standard Webhooks JSON envelope; slack: an incoming-webhook `{"text"}` line. */
  format: z.enum(FORMATS).default('standard'),
  description: z.string().trim().min(1).max(200).optional(),
});
export type CreateWebhookInput = z.infer<typeof CreateWebhookBody>;

export const WebhookParams = z.strictObject({ id: z.string().min(1).max(100) });

export const DeliveriesQuery = z.strictObject({
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** Without a delivery id (or without a body, which Fastify hands over as null): every dead delivery of the subscription. */
export const RedriveBody = z.strictObject({ delivery_id: z.string().min(1).max(100).optional() }).nullish();
