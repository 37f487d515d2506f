export { WebhookChannel, SEND_TIMEOUT_MS, subscribed } from './channel.js';
export { bodyOf, slackLine, standardBody } from './format.js';
export { CreateWebhookBody, DELIVERY_STATUSES, FORMATS, type CreateWebhookInput, type WebhookFormat } from './schema.js';
export { Webhooks, newSecret, type AttemptView, type DeliveryCounts, type DeliveryView, type WebhookView } from './service.js';
export { webhookRoutes } from './routes.js';
